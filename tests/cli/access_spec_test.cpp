// SPDX-License-Identifier: Apache-2.0
// The access policy options of `warren-nft publish` on their own (no kernel involved): --allow,
// --max-connections and --rate, how they are refused, and how a policy is written for `list`.
#include "access_spec.hpp"
#include "printable.hpp"
#include "spec.hpp"

#include <warren/nft/validation.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using warren::cli::AccessArguments;
using warren::cli::check_allow_families;
using warren::cli::format_access;
using warren::cli::parse_access_policy;
using warren::cli::UsageError;
using warren::nft::AccessPolicy;
using warren::nft::ContainerAddresses;
using warren::nft::PortMapping;
using warren::nft::RateUnit;

// The message of the UsageError that parsing `arguments` throws.
std::string refusal(const AccessArguments& arguments)
{
    try {
        parse_access_policy(arguments);
    } catch (const UsageError& e) {
        return e.what();
    }
    FAIL("no UsageError");
    return {};
}

TEST_CASE("--allow, --max-connections and --rate make one policy", "[cli][spec][policy]")
{
    CHECK(parse_access_policy({}) == AccessPolicy{});
    CHECK(parse_access_policy({}).empty());

    const auto policy = parse_access_policy({{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"}, "10", "5/second"});
    CHECK(policy.allow == std::vector<std::string>{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"});
    CHECK(policy.max_connections == 10);
    CHECK(policy.rate == 5);
    CHECK(policy.rate_unit == RateUnit::second);

    CHECK(parse_access_policy({{}, "", "100/minute"}) == AccessPolicy{.rate = 100, .rate_unit = RateUnit::minute});
    CHECK(parse_access_policy({{}, "", "3/hour"}) == AccessPolicy{.rate = 3, .rate_unit = RateUnit::hour});
    CHECK(parse_access_policy({{}, "1000000", ""}) == AccessPolicy{.max_connections = 1'000'000});
    CHECK(parse_access_policy({{}, "", "1000000/second"}).rate == 1'000'000);
    // 0 is no limit, as in the library.
    CHECK(parse_access_policy({{}, "0", "0/second"}).empty());
    // The sources are the library's to judge: host bits set are fine (they are cleared).
    CHECK(parse_access_policy({{"10.1.2.3/8"}, "", ""}).allow == std::vector<std::string>{"10.1.2.3/8"});
}

TEST_CASE("bad access options are refused naming the option and what would be right", "[cli][spec][policy]")
{
    CHECK(refusal({{}, "ten", ""}) ==
          "--max-connections: connection limit \"ten\" is not a number; use a number from 1 to 1000000 (or leave "
          "--max-connections out for no limit)");
    CHECK_THAT(refusal({{}, "-1", ""}), Catch::StartsWith("--max-connections: connection limit \"-1\" is not a number"));
    CHECK_THAT(refusal({{}, " 5", ""}), Catch::Contains("is not a number"));
    CHECK_THAT(refusal({{}, "1000001", ""}),
               Catch::StartsWith("--max-connections: connection limit \"1000001\" is out of range"));
    CHECK_THAT(refusal({{}, std::string(40, '9'), ""}), Catch::Contains("is out of range"));

    for (const char* rate : {"5", "5/", "5/sec", "5/Second", "5/seconds", "5/day", "5/second/"}) {
        INFO(rate);
        CHECK_THAT(refusal({{}, "", rate}), Catch::StartsWith("--rate: \"" + std::string(rate) +
                                                              "\" is not a rate; use "
                                                              "N/second, N/minute or N/hour"));
    }
    CHECK_THAT(refusal({{}, "", "x/second"}), Catch::StartsWith("--rate: rate \"x\" is not a number"));
    CHECK_THAT(refusal({{}, "", "/second"}), Catch::StartsWith("--rate: rate \"\" is not a number"));
    CHECK_THAT(refusal({{}, "", "2000000/hour"}), Catch::StartsWith("--rate: rate \"2000000\" is out of range"));

    // Sources: the library's words after the option.
    for (const char* source :
         {"10.0.0.0/33", "2001:db8::/129", "everyone", "10.0.0.0/", "/8", "10.0.0.0/8/8", "10.0.0.256", "fe80::1%eth0", ""}) {
        INFO(source);
        const auto message = refusal({{source}, "", ""});
        CHECK_THAT(message, Catch::StartsWith("--allow: "));
        if (*source != '\0')
            CHECK_THAT(message, Catch::Contains(warren::nft::quote(source)));
    }
    std::vector<std::string> too_many;
    for (std::size_t i = 0; i <= warren::nft::max_allowed_sources; ++i)
        too_many.push_back("10.0." + std::to_string(i) + ".0/24");
    CHECK_THAT(refusal({too_many, "", ""}), Catch::StartsWith("--allow: ") && Catch::Contains("64"));
    too_many.pop_back();
    CHECK(parse_access_policy({too_many, "", ""}).allow.size() == warren::nft::max_allowed_sources);

    // A message echoes what was typed escaped and on one line.
    const auto hostile = refusal({{}, "", "5/\x1b[2J\nsecond"});
    CHECK(hostile.find('\n') == std::string::npos);
    CHECK(hostile.find('\x1b') == std::string::npos);
}

TEST_CASE("an allow-list needs a source of each family a port is published in", "[cli][spec][policy]")
{
    const ContainerAddresses ipv4{"10.88.0.5", ""};
    const ContainerAddresses ipv6{"", "fd00::5"};
    const ContainerAddresses dual{"10.88.0.5", "fd00::5"};
    const auto with = [](std::string spec, std::vector<std::string> allow) {
        auto mapping = warren::cli::parse_port_spec(spec).front();
        mapping.access.allow = std::move(allow);
        return mapping;
    };
    const auto refused = [](std::string_view spec, const PortMapping& mapping, const ContainerAddresses& container) {
        try {
            check_allow_families(spec, mapping, container);
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        return std::string();
    };

    // No allow-list: every source, whatever the families.
    CHECK(refused("80", with("80", {}), dual).empty());
    // A port on every address of both families needs a source of each.
    CHECK(refused("80", with("80", {"10.0.0.0/8", "2001:db8::/32"}), dual).empty());
    CHECK(refused("80", with("80", {"10.0.0.0/8"}), dual) ==
          "--allow: -p \"80\" is published on IPv6 addresses, but no IPv6 source is allowed; add one (--allow ::/0 "
          "allows every IPv6 source), or publish it on IPv4 (0.0.0.0:...) only");
    CHECK_THAT(refused("8080:80", with("8080:80", {"2001:db8::/32"}), dual),
               Catch::Contains("published on IPv4 addresses, but no IPv4 source"));
    // Only the families the port is published in count.
    CHECK(refused("80", with("80", {"10.0.0.0/8"}), ipv4).empty());
    CHECK(refused("80", with("80", {"2001:db8::/32"}), ipv6).empty());
    CHECK_THAT(refused("80", with("80", {"10.0.0.0/8"}), ipv6), Catch::Contains("no IPv6 source"));
    CHECK(refused("0.0.0.0::80", with("0.0.0.0::80", {"10.0.0.0/8"}), dual).empty());
    CHECK(refused("[::]::80", with("[::]::80", {"2001:db8::/32"}), dual).empty());
    CHECK_THAT(refused("[::]::80", with("[::]::80", {"10.0.0.0/8"}), dual), Catch::Contains("no IPv6 source"));
    CHECK_THAT(refused("10.0.0.1:8080:80", with("10.0.0.1:8080:80", {"::/0"}), dual), Catch::Contains("no IPv4 source"));
}

TEST_CASE("a policy is written on one line for list", "[cli][spec][policy]")
{
    CHECK(format_access({}) == "-");
    CHECK(format_access({.allow = {"10.0.0.0/8", "192.0.2.0/24"}, .max_connections = 10, .rate = 5}) ==
          "allow=10.0.0.0/8,192.0.2.0/24 max-conn=10 rate=5/second");
    CHECK(format_access({.max_connections = 3}) == "max-conn=3");
    CHECK(format_access({.rate = 60, .rate_unit = RateUnit::minute}) == "rate=60/minute");
    CHECK(format_access({.allow = {"2001:db8::/32"}}) == "allow=2001:db8::/32");
    CHECK(warren::cli::format_rate({.rate = 7, .rate_unit = RateUnit::hour}) == "7/hour");
    CHECK(warren::cli::format_rate({}).empty());
}

}  // namespace
