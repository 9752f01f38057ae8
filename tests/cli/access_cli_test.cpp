// SPDX-License-Identifier: Apache-2.0
// Automatic host ports and access policies through the real warren-nft binary: publish prints the
// ports it published (with the host ports the publisher chose), list shows each port's policy, and
// bad policy options are refused with exit status 2, changing nothing.
#include "cli_support.hpp"
#include "dual_stack_topology.hpp"
#include "netns.hpp"
#include "nft_state.hpp"
#include "process.hpp"
#include "traffic.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace kt {
namespace {

using nlohmann::json;

constexpr long default_first = 32768;
constexpr long default_last = 60999;

// The host port of a line "HOST_PORT:CONTAINER_PORT/PROTOCOL..." or "HOST_IP:HOST_PORT:..." that
// `publish` printed, for the container port `container` (0 when there is none).
long printed_host_port(const std::string& out, const std::string& container_and_protocol)
{
    std::size_t start = 0;
    while (start < out.size()) {
        const auto end = std::min(out.find('\n', start), out.size());
        const auto line = out.substr(start, end - start);
        start = end + 1;
        const auto spec = line.substr(0, line.find(' '));
        const auto tail = ":" + container_and_protocol;
        if (!spec.ends_with(tail))
            continue;
        const auto head = spec.substr(0, spec.size() - tail.size());
        return std::stol(head.substr(head.rfind(':') + 1));
    }
    return 0;
}

json no_access() { return json{{"allow", json::array()}, {"max_connections", 0}, {"rate", 0}, {"rate_unit", "second"}}; }

}  // namespace

TEST_CASE_METHOD(FreshNetns, "publish -p CONTAINER_PORT prints the free host port it got, which list shows and traffic takes",
                 "[cli][automatic]")
{
    const Topology net;
    EchoServer echo(net.container, Transport::tcp, 8080, "echo");
    const auto out =
        cli_ok({"publish", "--task", "web", "--ip", Topology::container_ip, "-p", "8080", "-p", "18081:8081", "-p", "5353/udp"});
    INFO(out);
    const auto tcp_port = printed_host_port(out, "8080/tcp");
    const auto udp_port = printed_host_port(out, "5353/udp");
    CHECK(tcp_port >= default_first);
    CHECK(tcp_port <= default_last);
    CHECK(udp_port >= default_first);
    CHECK(udp_port <= default_last);
    CHECK(out.find("18081:8081/tcp\n") != std::string::npos);
    CHECK(std::count(out.begin(), out.end(), '\n') == 3);

    const auto listed = list_json({"--task", "web"});
    INFO(listed.dump(1));
    REQUIRE(listed.size() == 3);
    CHECK(std::any_of(listed.begin(), listed.end(), [&](const json& p) {
        return p.at("protocol") == "tcp" && p.at("host_port") == tcp_port && p.at("container_port") == 8080;
    }));
    CHECK(std::any_of(listed.begin(), listed.end(), [&](const json& p) {
        return p.at("protocol") == "udp" && p.at("host_port") == udp_port && p.at("container_port") == 5353;
    }));
    CHECK(answer(net, static_cast<std::uint16_t>(tcp_port), "auto") == "echo:auto");

    // Published again the same way, the task keeps its ports; --json prints them for scripts.
    const auto again = json::parse(cli_ok({"publish", "--task", "web", "--ip", Topology::container_ip, "-p", "8080", "-p",
                                           "18081:8081", "-p", "5353/udp", "--json"}));
    INFO(again.dump(1));
    REQUIRE(again.is_array());
    REQUIRE(again.size() == 3);
    for (const auto& port : again) {
        REQUIRE(port.size() == 6);
        CHECK(port.at("host_ip") == "");
        CHECK(port.at("name") == "");
        CHECK(port.at("access") == no_access());
        if (port.at("container_port") == 8080)
            CHECK(port.at("host_port") == tcp_port);
        if (port.at("container_port") == 5353)
            CHECK(port.at("host_port") == udp_port);
    }
    CHECK(list_json({"--task", "web"}) == listed);
}

TEST_CASE_METHOD(FreshNetns, "docker's forms for a free host port: on one address, with 0, in both families", "[cli][automatic]")
{
    sandbox::add_loopback_addresses({"10.9.0.1", "2001:db8::10"});
    const auto out = cli_ok({"publish", "--task", "dual", "--ip", "10.0.0.2", "--ip", "fd00::2", "-p", "80", "-p",
                             "10.9.0.1::443", "-p", "0:53/udp", "-p", "[2001:db8::10]::22"});
    INFO(out);
    const auto both = printed_host_port(out, "80/tcp");
    const auto bound = printed_host_port(out, "443/tcp");
    const auto zero = printed_host_port(out, "53/udp");
    const auto bound6 = printed_host_port(out, "22/tcp");
    for (const auto port : {both, bound, zero, bound6}) {
        CHECK(port >= default_first);
        CHECK(port <= default_last);
    }
    CHECK(out.find("10.9.0.1:" + std::to_string(bound) + ":443/tcp") != std::string::npos);
    CHECK(out.find("[2001:db8::10]:" + std::to_string(bound6) + ":22/tcp") != std::string::npos);

    // A port on every address of both families has one number, listed once per family.
    const auto listed = list_json({"--task", "dual"});
    INFO(listed.dump(1));
    std::vector<std::string> families_of_80;
    for (const auto& port : listed)
        if (port.at("container_port") == 80) {
            CHECK(port.at("host_port") == both);
            families_of_80.push_back(port.at("family"));
        }
    CHECK(families_of_80 == std::vector<std::string>{"ipv4", "ipv6"});
    CHECK(listed.size() == 6);  // 80 and 53 in both families, 443 and 22 in one
}

TEST_CASE_METHOD(FreshNetns, "--allow, --max-connections and --rate apply to every -p and round trip through list",
                 "[cli][policy]")
{
    const auto out =
        cli_ok({"publish", "--task", "web", "--ip", "10.0.0.2", "-p", "8080:80", "-p", "8443:443", "--allow", "10.1.2.3/8",
                "--allow", "192.0.2.7", "--allow", "10.200.0.0/16", "--max-connections", "10", "--rate", "5/second"});
    INFO(out);
    // Read back canonical: network addresses with their prefix, those inside another left out.
    const json access{{"allow", {"10.0.0.0/8", "192.0.2.7/32"}}, {"max_connections", 10}, {"rate", 5}, {"rate_unit", "second"}};
    CHECK(out ==
          "8080:80/tcp  allow=10.0.0.0/8,192.0.2.7/32 max-conn=10 rate=5/second\n"
          "8443:443/tcp  allow=10.0.0.0/8,192.0.2.7/32 max-conn=10 rate=5/second\n");
    cli_ok({"publish", "--task", "open", "--ip", "10.0.0.3", "-p", "9090:90"});
    cli_ok({"publish", "--task", "slow", "--ip", "10.0.0.4", "-p", "7070:70/udp", "--rate", "60/minute"});

    const auto listed = list_json();
    INFO(listed.dump(1));
    REQUIRE(listed.size() == 4);  // 8080, 8443, 9090 (tcp), 7070 (udp)
    for (const auto& port : listed) {
        REQUIRE(port.size() == 13);
        const auto task = port.at("task").get<std::string>();
        if (task == "web")
            CHECK(port.at("access") == access);
        else if (task == "open")
            CHECK(port.at("access") == no_access());
        else
            CHECK(port.at("access") ==
                  json{{"allow", json::array()}, {"max_connections", 0}, {"rate", 60}, {"rate_unit", "minute"}});
    }
    // Last column of list, "-" for none.
    const auto table = cli_ok({"list"});
    INFO(table);
    CHECK(table.find("ACCESS\n") != std::string::npos);
    CHECK(table.find("8080/tcp") != std::string::npos);
    CHECK(table.find("  allow=10.0.0.0/8,192.0.2.7/32 max-conn=10 rate=5/second\n") != std::string::npos);
    CHECK(table.find("  rate=60/minute\n") != std::string::npos);
    CHECK(table.find("  -\n") != std::string::npos);

    // Publishing again replaces the policy with the ports; without options, none is left.
    cli_ok({"publish", "--task", "web", "--ip", "10.0.0.2", "-p", "8080:80", "--max-connections", "2"});
    auto web = list_json({"--task", "web"});
    REQUIRE(web.size() == 1);
    CHECK(web[0].at("access") == json{{"allow", json::array()}, {"max_connections", 2}, {"rate", 0}, {"rate_unit", "second"}});
    cli_ok({"publish", "--task", "web", "--ip", "10.0.0.2", "-p", "8080:80"});
    web = list_json({"--task", "web"});
    REQUIRE(web.size() == 1);
    CHECK(web[0].at("access") == no_access());
}

TEST_CASE_METHOD(FreshNetns, "a dual-stack task's allow-list has a source of each family", "[cli][policy][ipv6]")
{
    cli_ok({"publish", "--task", "dual", "--ip", "10.0.0.2", "--ip", "fd00::2", "-p", "8080:80", "--allow", "10.0.0.0/8",
            "--allow", "2001:db8::1/32"});
    const auto listed = list_json();
    INFO(listed.dump(1));
    REQUIRE(listed.size() == 2);
    // Each family's line holds that family's sources (each table has its own), canonical.
    for (const auto& port : listed) {
        const auto ipv4 = port.at("family") == "ipv4";
        CHECK(port.at("access").at("allow") == json::array({ipv4 ? "10.0.0.0/8" : "2001:db8::/32"}));
    }
    // publish prints the port once, with both families' sources.
    CHECK(cli_ok({"publish", "--task", "dual", "--ip", "10.0.0.2", "--ip", "fd00::2", "-p", "8080:80", "--allow", "10.0.0.0/8",
                  "--allow", "2001:db8::1/32"}) == "8080:80/tcp  allow=10.0.0.0/8,2001:db8::/32\n");
    // The family without a source is refused before the kernel is asked.
    const auto before = ruleset();
    require_refused(
        {"publish", "--task", "dual", "--ip", "10.0.0.2", "--ip", "fd00::2", "-p", "8080:80", "--allow", "10.0.0.0/8"}, 2,
        {"--allow: ", "IPv6"});
    CHECK(ruleset() == before);
}

TEST_CASE_METHOD(FreshNetns, "bad access options change nothing, with policies published", "[cli][policy]")
{
    cli_ok({"publish", "--task", "web", "--ip", "10.0.0.2", "-p", "8080:80", "--allow", "10.0.0.0/8", "--max-connections", "3"});
    const auto before = ruleset();
    const auto listed = list_json();
    const std::vector<std::string> publish{"publish", "--task", "web", "--ip", "10.0.0.2", "-p", "8080:80"};
    const auto with = [&](std::vector<std::string> options) {
        auto args = publish;
        args.insert(args.end(), options.begin(), options.end());
        return args;
    };
    require_refused(with({"--allow", "10.0.0.0/33"}), 2, {"--allow: ", "\"10.0.0.0/33\""});
    require_refused(with({"--allow", "10.0.0.0/8", "--allow", "not-an-address"}), 2, {"--allow: ", "\"not-an-address\""});
    require_refused(with({"--rate", "5/fortnight"}), 2, {"--rate: ", "\"5/fortnight\"", "N/second, N/minute or N/hour"});
    require_refused(with({"--rate", "-5/second"}), 2, {"--rate"});
    require_refused(with({"--max-connections", "lots"}), 2, {"--max-connections: ", "\"lots\"", "1 to 1000000"});
    std::vector<std::string> too_many;
    for (int i = 0; i <= 64; ++i)
        too_many.insert(too_many.end(), {"--allow", "10." + std::to_string(i) + ".0.0/16"});
    require_refused(with(too_many), 2, {"--allow: "});
    CHECK(ruleset() == before);
    CHECK(list_json() == listed);
}

}  // namespace kt
