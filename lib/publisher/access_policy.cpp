// SPDX-License-Identifier: Apache-2.0
#include "publisher/access_policy.hpp"

#include "printable.hpp"
#include "publisher/schema.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <algorithm>
#include <bit>
#include <charconv>

namespace warren::nft {

namespace layout {

using namespace ruleset;

namespace {

// The prefix length of a range that is a CIDR, if it is one.
std::optional<unsigned> prefix_of(const SourceRange& range)
{
    if (range.first.family != range.last.family)
        return std::nullopt;
    // The bits both ends share make the prefix; after it, first must be all zeros and last all ones.
    unsigned prefix = 0;
    for (std::size_t byte = 0; byte < range.first.size(); ++byte) {
        const auto differ = static_cast<std::uint8_t>(range.first.bytes[byte] ^ range.last.bytes[byte]);
        if (differ != 0) {
            prefix += static_cast<unsigned>(std::countl_zero(differ));
            break;
        }
        prefix += 8;
    }
    if (masked(range.first, prefix, false) != range.first || masked(range.first, prefix, true) != range.last)
        return std::nullopt;
    return prefix;
}

// The address after `address` (which is not the family's last).
Address following(Address address)
{
    for (auto byte = static_cast<std::ptrdiff_t>(address.size()) - 1; byte >= 0; --byte)
        if (++address.bytes[static_cast<std::size_t>(byte)] != 0)
            break;
    return address;
}

bool contains(const SourceRange& outer, const SourceRange& inner)
{
    return outer.first <= inner.first && inner.last <= outer.last;
}

std::uint64_t unit_seconds(RateUnit unit)
{
    switch (unit) {
        case RateUnit::second: return 1;
        case RateUnit::minute: return 60;
        case RateUnit::hour: return 3600;
    }
    return 1;
}

std::optional<RateUnit> unit_of(std::uint64_t seconds)
{
    for (const auto unit : {RateUnit::second, RateUnit::minute, RateUnit::hour})
        if (unit_seconds(unit) == seconds)
            return unit;
    return std::nullopt;
}

Bytes concatenated(Bytes key, const Address& address)
{
    key.insert(key.end(), address.view().begin(), address.view().end());
    return key;
}

}  // namespace

std::optional<SourceRange> parse_source(std::string_view text)
{
    const auto slash = text.find('/');
    const auto address = parse_address(text.substr(0, slash));
    if (!address)
        return std::nullopt;
    const unsigned bits = static_cast<unsigned>(address->size()) * 8;
    unsigned prefix = bits;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        const auto end = digits.data() + digits.size();
        if (digits.empty() || digits.size() > 3 || std::from_chars(digits.data(), end, prefix).ptr != end || prefix > bits)
            return std::nullopt;
    }
    return SourceRange{masked(*address, prefix, false), masked(*address, prefix, true)};
}

std::string to_string(const SourceRange& range)
{
    if (const auto prefix = prefix_of(range))
        return layout::to_string(range.first) + "/" + std::to_string(*prefix);
    return layout::to_string(range.first) + "-" + layout::to_string(range.last);
}

SourceRange every_source(Family family) { return {masked(any_address(family), 0, false), masked(any_address(family), 0, true)}; }

AccessPolicy family_policy(const AccessPolicy& policy, Family family, const HostPort& port)
{
    if (policy.empty())
        return {};
    std::vector<SourceRange> ranges;
    for (const auto& text : policy.allow)
        if (const auto range = parse_source(text); range && range->first.family == family)
            ranges.push_back(*range);
    if (!policy.allow.empty() && ranges.empty())
        throw Error(errc::invalid_argument, "the allow-list of port " + describe(port) + " has no " +
                                                std::string(family_name(family)) + " source, but the port is published on " +
                                                std::string(family_name(family)) + " addresses; add one (" +
                                                (family == Family::ip ? "0.0.0.0/0" : "::/0") +
                                                " for any), or publish the port on the other family only");
    if (ranges.empty())
        ranges.push_back(every_source(family));
    AccessPolicy out = policy;
    out.allow.clear();
    if (out.rate == 0)
        out.rate_unit = RateUnit::second;  // as an element without a limit reads back
    for (const auto& range : canonical_sources(std::move(ranges)))
        out.allow.push_back(to_string(range));
    return out;
}

std::vector<SourceRange> canonical_sources(std::vector<SourceRange> ranges)
{
    std::sort(ranges.begin(), ranges.end(), [](const SourceRange& a, const SourceRange& b) {
        return a.first < b.first || (a.first == b.first && a.last > b.last);
    });
    std::vector<SourceRange> out;
    for (const auto& range : ranges) {
        if (!out.empty() && contains(out.back(), range))
            continue;
        out.push_back(range);
        // Two halves of one CIDR make that CIDR; it may complete a half before it in turn.
        while (out.size() >= 2) {
            const auto& low = out[out.size() - 2];
            const auto& high = out.back();
            const auto prefix = prefix_of(low);
            if (!prefix || *prefix == 0 || prefix_of(high) != prefix)
                break;
            const SourceRange whole{low.first, masked(low.first, *prefix - 1, true)};
            if (masked(low.first, *prefix - 1, false) != low.first || whole.last != high.last)
                break;
            out.pop_back();
            out.back() = whole;
        }
    }
    return out;
}

std::vector<SourceRange> enforced_sources(const Layout& layout, const SourceRange& range)
{
    const auto prefix = prefix_of(range);
    if (!prefix)
        return {};
    const auto step = layout.source_prefix_step;
    const auto held = (*prefix + step - 1) / step * step;
    std::vector<SourceRange> out;
    for (auto first = range.first;; first = following(out.back().last)) {
        out.push_back(SourceRange{first, masked(first, held, true)});
        if (out.back().last >= range.last)
            return out;
    }
}

std::vector<SourceRange> enforced_sources(Family family, const std::vector<std::string>& allow)
{
    std::vector<SourceRange> out;
    for (const auto& text : allow)
        if (const auto range = parse_source(text))  // family_policy() wrote it
            for (const auto& held : enforced_sources(layout_of(family), *range))
                out.push_back(held);
    return out;
}

AccessPolicy caller_policy(std::vector<std::string> allow, const AccessPolicy& limits)
{
    AccessPolicy out = limits;
    const bool everyone = std::all_of(allow.begin(), allow.end(), [](const std::string& text) {
        const auto range = parse_source(text);
        return range && *range == every_source(range->first.family);
    });
    out.allow = everyone ? std::vector<std::string>{} : std::move(allow);
    return out;
}

Element policed_element(const HostPort& key, const AccessPolicy& limits)
{
    Element element{key.bound() ? bound_policed_set : policed_set, host_port_key(key), {}, {}};
    if (limits.max_connections)
        element.expressions.push_back(expr::ConnLimit{limits.max_connections});
    if (limits.rate)
        element.expressions.push_back(expr::Limit{limits.rate, unit_seconds(limits.rate_unit), limits.rate});
    return element;
}

Element allowed_element(const HostPort& key, const SourceRange& range)
{
    return Element{key.bound() ? bound_allowed_set : allowed_set,
                   concatenated(concatenated(host_port_key(key), range.first), range.last),
                   {},
                   {}};
}

std::vector<Element> policy_elements(const HostPort& key, const AccessPolicy& policy)
{
    std::vector<Element> out;
    if (policy.empty())
        return out;
    out.push_back(policed_element(key, policy));
    for (const auto& held : enforced_sources(key.family(), policy.allow))
        out.push_back(allowed_element(key, held));
    return out;
}

std::optional<DecodedLimits> decode_policed_element(Family family, const Element& element)
{
    const bool bound = element.set == bound_policed_set;
    if (element.key.size() != host_port_key_length(family, bound) || !element.data.empty())
        return std::nullopt;
    const auto key = decode_host_port_key(family, element.key, bound);
    if (!key)
        return std::nullopt;
    DecodedLimits out{*key};
    for (const auto& expression : element.expressions) {
        if (const auto* count = std::get_if<expr::ConnLimit>(&expression); count && !count->invert && !out.max_connections)
            out.max_connections = count->count;
        const auto* limit = std::get_if<expr::Limit>(&expression);
        if (!limit || limit->invert || out.rate || limit->rate > max_policy_limit)
            continue;
        if (const auto unit = unit_of(limit->unit_seconds)) {
            out.rate = static_cast<std::uint32_t>(limit->rate);
            out.rate_unit = *unit;
        }
    }
    return out;
}

std::optional<DecodedSource> decode_allowed_element(Family family, const Element& element)
{
    const bool bound = element.set == bound_allowed_set;
    const std::size_t at = host_port_key_length(family, bound), length = any_address(family).size();
    if (element.key.size() != at + 2 * length || !element.key_end.empty() || !element.data.empty())
        return std::nullopt;
    const auto key = decode_host_port_key(family, element.key, bound);
    if (!key)
        return std::nullopt;
    const std::span<const std::uint8_t> sources = std::span<const std::uint8_t>(element.key).subspan(at);
    const SourceRange range{address_from(family, sources.first(length)), address_from(family, sources.subspan(length))};
    // Only a CIDR of a length the police chain looks up is enforced.
    const auto prefix = prefix_of(range);
    if (!prefix || *prefix % layout_of(family).source_prefix_step != 0)
        return std::nullopt;
    return DecodedSource{*key, range};
}

std::optional<std::string> policy_problem(const AccessPolicy& policy)
{
    if (policy.allow.size() > max_allowed_sources)
        return "the allow-list has " + std::to_string(policy.allow.size()) + " sources; at most " +
               std::to_string(max_allowed_sources) + " are allowed (use wider CIDRs)";
    for (const auto& source : policy.allow)
        if (!parse_source(source))
            return "allowed source " + quote(source) +
                   " is not an IPv4 or IPv6 address or CIDR; give e.g. 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32";
    for (const auto family : families) {
        std::vector<SourceRange> ranges;
        for (const auto& source : policy.allow)
            if (const auto range = parse_source(source); range->first.family == family)
                ranges.push_back(*range);
        std::size_t elements = 0;
        for (const auto& range : canonical_sources(std::move(ranges)))
            elements += enforced_sources(layout_of(family), range).size();
        if (elements > max_source_elements)
            return "the " + std::string(family_name(family)) + " sources of the allow-list take " + std::to_string(elements) +
                   " kernel elements; at most " + std::to_string(max_source_elements) +
                   " are allowed (a CIDR whose prefix length is a multiple of " +
                   std::to_string(layout_of(family).source_prefix_step) + " takes one, one of another length up to " +
                   std::to_string(1u << (layout_of(family).source_prefix_step - 1)) + ": use such lengths, or fewer sources)";
    }
    for (const auto& [what, value] : {std::pair{"max_connections", policy.max_connections}, std::pair{"rate", policy.rate}})
        if (value > max_policy_limit)
            return std::string(what) + " " + std::to_string(value) + " is too large; at most " +
                   std::to_string(max_policy_limit) + " (0: no limit)";
    if (policy.rate_unit != RateUnit::second && policy.rate_unit != RateUnit::minute && policy.rate_unit != RateUnit::hour)
        return "rate unit " + std::to_string(static_cast<int>(policy.rate_unit)) + " is unknown; use second, minute or hour";
    return std::nullopt;
}

}  // namespace layout

void validate_access_policy(const AccessPolicy& policy)
{
    if (auto problem = layout::policy_problem(policy))
        throw Error(errc::invalid_argument, std::move(*problem));
}

}  // namespace warren::nft
