// SPDX-License-Identifier: Apache-2.0
// An AccessPolicy as one family's table holds it: the sets and elements that enforce it and how
// they read back. A port with a policy has an element in `policed` (`bound_policed`) carrying its
// limits, which is what makes the police chain check it, and in `allowed` (`bound_allowed`) one per
// allowed source CIDR of a length the police chain looks up (enforced_sources()), whose key is the
// port's key followed by the CIDR's first and last address.
#pragma once

#include "publisher/element_codec.hpp"
#include "publisher/schema.hpp"
#include "ruleset/objects.hpp"

#include <warren/nft/port_mapping.hpp>

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace warren::nft::layout {

// A range of source addresses of one family, both ends included; a CIDR as we write it.
struct SourceRange {
    Address first;
    Address last;
    friend auto operator<=>(const SourceRange&, const SourceRange&) = default;
};

// "10.0.0.0/8", "192.0.2.7" (a /32), "2001:db8::/32": nullopt unless an address with an optional
// prefix length of its family.
std::optional<SourceRange> parse_source(std::string_view text);
// The CIDR "10.0.0.0/8", or "first-last" for a range that is not one (read back from an element
// someone else wrote).
std::string to_string(const SourceRange& range);
// 0.0.0.0/0, ::/0.
SourceRange every_source(Family family);

// The same sources, canonical: in order, none inside another, and two halves of a CIDR merged
// into it; the one way to write the addresses they cover as CIDRs, which is what a policy's
// enforced elements read back as whatever lengths they were written in.
std::vector<SourceRange> canonical_sources(std::vector<SourceRange> ranges);
// The CIDRs that enforce a source CIDR: itself if the layout's police chain looks up its length,
// else the CIDRs of the next length it looks up that make it up (10.16.0.0/12 as sixteen /16).
std::vector<SourceRange> enforced_sources(const Layout& layout, const SourceRange& range);
// The CIDRs that enforce a family form's allow-list (family_policy()), in order: what the family's
// allowed set holds for the port.
std::vector<SourceRange> enforced_sources(Family family, const std::vector<std::string>& allow);

// What validate_access_policy() refuses the policy for, if anything.
std::optional<std::string> policy_problem(const AccessPolicy& policy);

// The policy as the family's table holds it for a port: `allow` holds the family's sources,
// canonical (canonical_sources()), or every_source() when the policy names no
// source; an empty policy stays empty. Throws Error (invalid_argument) naming `port` when the
// policy has sources but none of the family.
AccessPolicy family_policy(const AccessPolicy& policy, Family family, const HostPort& port);
// The policy as callers gave it, from the family forms of a port's tables (one, or both families'
// merged): every_source() entries left out when each entry is one.
AccessPolicy caller_policy(std::vector<std::string> allow, const AccessPolicy& limits);

// The elements that enforce a family form (family_policy()) for the published port `key`: its
// policed element (with its limits) and its allowed elements; none for an empty policy.
std::vector<ruleset::Element> policy_elements(const HostPort& key, const AccessPolicy& policy);
// Each of them: the policed element with the limits of `limits` (none for a deletion, which names
// it by its key), and the allowed element of one source range.
ruleset::Element policed_element(const HostPort& key, const AccessPolicy& limits);
ruleset::Element allowed_element(const HostPort& key, const SourceRange& range);

// A policed or bound_policed element read back: its port and the limits its expressions carry
// (those we do not write are ignored).
struct DecodedLimits {
    HostPort key;
    std::uint32_t max_connections = 0;
    std::uint32_t rate = 0;
    RateUnit rate_unit = RateUnit::second;
};
std::optional<DecodedLimits> decode_policed_element(Family family, const ruleset::Element& element);
// An allowed or bound_allowed element read back: its port and source CIDR; nullopt for a range
// that is not a CIDR of a length the police chain looks up (it would never match).
struct DecodedSource {
    HostPort key;
    SourceRange range;
};
std::optional<DecodedSource> decode_allowed_element(Family family, const ruleset::Element& element);

}  // namespace warren::nft::layout
