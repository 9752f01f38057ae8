// SPDX-License-Identifier: Apache-2.0
#include "access_spec.hpp"

#include "printable.hpp"
#include "spec.hpp"

#include <warren/nft/validation.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace warren::cli {

namespace {

using nft::quote;

bool is_ipv6(std::string_view address) { return address.find(':') != std::string_view::npos; }

const std::string limit_range = "a number from 1 to " + std::to_string(nft::max_policy_limit);

// Digits only, at most max_policy_limit (a larger number is refused here, before it could overflow;
// the library's check has the last word all the same).
std::uint32_t parse_limit(std::string_view option, std::string_view what, std::string_view text)
{
    const auto fail = [&](std::string_view problem) -> std::uint32_t {
        throw UsageError(std::string(option) + ": " + std::string(what) + " " + quote(text) + " " + std::string(problem) +
                         "; use " + limit_range + " (or leave " + std::string(option) + " out for no limit)");
    };
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail("is not a number");
    std::uint64_t value = 0;
    for (const char c : text) {
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
        if (value > nft::max_policy_limit)
            return fail("is out of range");
    }
    return static_cast<std::uint32_t>(value);
}

std::optional<nft::RateUnit> parse_rate_unit(std::string_view unit)
{
    for (const auto candidate : {nft::RateUnit::second, nft::RateUnit::minute, nft::RateUnit::hour})
        if (unit == nft::to_string(candidate))
            return candidate;
    return std::nullopt;
}

}  // namespace

nft::AccessPolicy parse_access_policy(const AccessArguments& arguments)
{
    nft::AccessPolicy policy;
    policy.allow = arguments.allow;
    check_argument("--allow", [&] { nft::validate_access_policy(nft::AccessPolicy{.allow = policy.allow}); });
    if (!arguments.max_connections.empty()) {
        policy.max_connections = parse_limit("--max-connections", "connection limit", arguments.max_connections);
        check_argument("--max-connections",
                       [&] { nft::validate_access_policy(nft::AccessPolicy{.max_connections = policy.max_connections}); });
    }
    if (!arguments.rate.empty()) {
        const std::string_view text = arguments.rate;
        const auto slash = text.find('/');
        const auto unit = slash == std::string_view::npos ? std::nullopt : parse_rate_unit(text.substr(slash + 1));
        if (!unit)
            throw UsageError("--rate: " + quote(text) +
                             " is not a rate; use N/second, N/minute or N/hour, e.g. 100/second (new connections "
                             "per port)");
        policy.rate = parse_limit("--rate", "rate", text.substr(0, slash));
        policy.rate_unit = *unit;
        check_argument("--rate", [&] {
            nft::validate_access_policy(nft::AccessPolicy{.rate = policy.rate, .rate_unit = policy.rate_unit});
        });
    }
    return policy;
}

void check_allow_families(std::string_view spec, const nft::PortMapping& mapping, const nft::ContainerAddresses& container)
{
    const auto& allow = mapping.access.allow;
    if (allow.empty())
        return;
    const auto allows = [&](bool ipv6) {
        return std::any_of(allow.begin(), allow.end(), [&](const std::string& source) { return is_ipv6(source) == ipv6; });
    };
    for (const bool ipv6 : {false, true}) {
        const bool published =
            mapping.host_ip.empty() ? !(ipv6 ? container.ipv6 : container.ipv4).empty() : is_ipv6(mapping.host_ip) == ipv6;
        if (!published || allows(ipv6))
            continue;
        const std::string family = ipv6 ? "IPv6" : "IPv4";
        throw UsageError("--allow: -p " + quote(spec) + " is published on " + family + " addresses, but no " + family +
                         " source is allowed; add one (--allow " + (ipv6 ? "::/0" : "0.0.0.0/0") + " allows every " + family +
                         " source), or publish it on " + (ipv6 ? "IPv4 (0.0.0.0:...)" : "IPv6 ([::]:...)") + " only");
    }
}

std::string format_rate(const nft::AccessPolicy& policy)
{
    if (policy.rate == 0)
        return {};
    return std::to_string(policy.rate) + "/" + std::string(nft::to_string(policy.rate_unit));
}

std::string format_access(const nft::AccessPolicy& policy)
{
    if (policy.empty())
        return "-";
    std::string out;
    const auto add = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
    if (!policy.allow.empty()) {
        std::string sources;
        for (const auto& source : policy.allow)
            sources += (sources.empty() ? "" : ",") + source;
        add("allow=" + sources);
    }
    if (policy.max_connections != 0)
        add("max-conn=" + std::to_string(policy.max_connections));
    if (policy.rate != 0)
        add("rate=" + format_rate(policy));
    return out;
}

}  // namespace warren::cli
