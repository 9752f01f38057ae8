// SPDX-License-Identifier: Apache-2.0
// The fixed part of a warren table: what differs between its IPv4 and IPv6 variants (a Layout,
// built from the family), and the chains, maps and rules both are made of.
#pragma once

#include "publisher/address.hpp"
#include "ruleset/objects.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace warren::nft::layout {

inline constexpr const char* table_name = "warren";
inline constexpr const char* ports_map = "ports";  // proto . host port -> container ip . port
// host ip . proto . host port -> container ip . port: ports published on one host address only
inline constexpr const char* bound_ports_map = "bound_ports";
inline constexpr const char* backends_set = "backends";  // container ip . proto . port, in tables that count
// Ingress mode (docs/ingress.md): proto . host port . slot -> backend ip . port, the slot drawn by
// the DNAT rules with numgen random mod each of ingress::slot_counts; declared with nft's typeof
// (mod narrow_slot_count: nft takes only the key's type from it), without which nft cannot list
// the table.
inline constexpr const char* ingress_map = "ingress";
// proto . host port . backend ip . backend port: an ingress port's backends, their weights and
// draining state in the elements' comments.
inline constexpr const char* ingress_backends_set = "ingress_backends";
// The access policies (publisher/access_policy), keyed as the ports maps (proto . host port, and
// host ip . proto . host port for ports on one address):
// - policed, bound_policed: the ports with a policy, each element carrying the port's limits as
//   expressions, which only the police rule's `update` may touch: a lookup that finds its key runs
//   the element's expressions too (a `limit` would spend a token, and fail the lookup once spent),
//   so the police chain asks for them with an inverted lookup (`!= @policed`), which never does;
inline constexpr const char* policed_set = "policed";
inline constexpr const char* bound_policed_set = "bound_policed";
// The size the kernel gives a set without one when a rule updates it: at most this many ports of a
// table have a policy (per family, and per kind of key).
inline constexpr std::uint32_t policed_set_size = 65535;
// - allowed, bound_allowed: the same keys followed by the first and last address of an allowed
//   source CIDR, whose prefix length is one of allowed_prefixes(): a CIDR of another length is
//   written as the CIDRs of the next such length that make it up (access_policy.hpp).
inline constexpr const char* allowed_set = "allowed";
inline constexpr const char* bound_allowed_set = "bound_allowed";

// The families a publisher keeps a table for, in the order a commit changes them.
inline constexpr std::array<Family, 2> families{Family::ip, Family::ip6};
inline constexpr std::size_t family_index(Family family) noexcept { return family == Family::ip ? 0 : 1; }
// The public name of a table's family.
inline constexpr AddressFamily address_family(Family family) noexcept
{
    return family == Family::ip ? AddressFamily::ipv4 : AddressFamily::ipv6;
}

// Everything about one family's table that is not the same for both.
struct Layout {
    Family family;
    ruleset::Table table;                          // ip warren, ip6 warren
    ruleset::Field address;                        // nft's ipv4_addr or ipv6_addr
    std::uint32_t destination_offset;              // of the destination and source address in the network
    std::uint32_t source_offset;                   // header (struct iphdr, struct ip6_hdr)
    std::uint32_t ct_original_destination;         // NFT_CT_DST_IP, NFT_CT_DST_IP6
    ruleset::TypeofExpression destination_typeof;  // nft's ip daddr, ip6 daddr: a typeof's address field
    // The host's loopback addresses (127.0.0.0/8, ::1): a DNAT from them would leave with a source
    // address nobody can answer. IPv4 can route 127.0.0.0/8 out with route_localnet; IPv6 cannot.
    Address loopback;
    Address loopback_mask;
    bool loopback_routable;
    // Allowed source CIDRs are held at prefix lengths that are multiples of this (allowed_prefixes):
    // the police chain has a rule per length, which a new connection to a port with a policy may
    // pass through, and a CIDR of another length takes up to 2^(step-1) elements.
    std::uint32_t source_prefix_step;
    std::uint32_t address_registers() const noexcept { return address.length / 4; }
};

const Layout& layout_of(Family family);
inline const ruleset::Table& table(Family family) { return layout_of(family).table; }

// How the fixed rules are written: the table properties a publisher asks for (PublisherOptions).
struct RuleOptions {
    bool counting = false;  // a backends set with counters, looked up by masquerade and forward
    Masquerading masquerading = Masquerading::always;
    bool wildcard_on_localhost = false;
    friend bool operator==(const RuleOptions&, const RuleOptions&) = default;
};

struct FixedChain {
    ruleset::Chain chain;
    std::vector<ruleset::Rule> rules;
};

// IPPROTO_TCP and friends: how keys and rules name a protocol.
std::uint8_t ip_protocol(Protocol protocol) noexcept;

std::vector<FixedChain> fixed_chains(const Layout& layout, const RuleOptions& options);
// The fixed chains of the family's table (whatever the options) and the sets whose elements the
// publisher reads, for snapshots.
const std::vector<std::string>& chain_names(Family family);
const std::vector<std::string>& element_sets();

ruleset::Set ports_declaration(const Layout& layout);
ruleset::Set bound_ports_declaration(const Layout& layout);
ruleset::Set backends_declaration(const Layout& layout, bool counters);
ruleset::Set ingress_declaration(const Layout& layout);
ruleset::Set ingress_backends_declaration(const Layout& layout);
// The prefix lengths of allowed source CIDRs, longest first: every multiple of the layout's
// source_prefix_step up to the address's length (32, 28, ... 0; 128, 120, ... 0).
std::vector<std::uint32_t> allowed_prefixes(const Layout& layout);
// The policy sets, in the order a transaction creates them.
std::vector<ruleset::Set> policy_declarations(const Layout& layout);

// The bit of the packet mark by which the forward chain tells postrouting that a new connection
// is a hairpin one (Masquerading::when_needed): only postrouting can masquerade, and only forward
// sees both interfaces. Set on a connection's first packet only, and only for published ports.
inline constexpr std::uint32_t hairpin_mark = 0x00200000;

}  // namespace warren::nft::layout
