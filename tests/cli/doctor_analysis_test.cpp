// SPDX-License-Identifier: Apache-2.0
// The doctor library's readers of other programs' output, on fixture files: `nft -j list ruleset` and
// `iptables-legacy-save` outputs made inside fresh network namespaces (tests/cli/fixtures/doctor/README.md
// says how), and hostile text. No kernel: what is judged is the text.
#include "doctor_addresses.hpp"
#include "doctor_forward.hpp"
#include "doctor_hairpin.hpp"
#include "doctor_legacy.hpp"
#include "doctor_nat.hpp"
#include "doctor_report.hpp"
#include "doctor_ruleset.hpp"
#include "doctor_sockets.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <tuple>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace warren::cli::doctor;
namespace nft = warren::nft;

std::string fixture(const std::string& name)
{
    std::ifstream file(std::string(DOCTOR_FIXTURES) + "/" + name);
    REQUIRE(file);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

nlohmann::json ruleset_fixture(const std::string& name)
{
    std::string error;
    const auto ruleset = parse_ruleset(fixture(name), error);
    INFO(error);
    REQUIRE(ruleset);
    return *ruleset;
}

nft::PublishedPort port(nft::Protocol protocol, std::uint16_t host_port, const std::string& host_ip = "")
{
    nft::PublishedPort out;
    out.task_id = "task-1";
    out.container_ip = "10.88.0.2";
    out.mapping.host_port = host_port;
    out.mapping.container_port = 80;
    out.mapping.protocol = protocol;
    out.mapping.host_ip = host_ip;
    return out;
}

// The lines a check printed; each must be one "OK: ", "WARN: " or "FAIL: " line, and every WARN and
// FAIL must say what to do.
template <typename Check>
std::vector<std::string> lines_of(Check&& check)
{
    std::ostringstream out;
    Report report(out);
    check(report);
    std::vector<std::string> lines;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);) {
        INFO(line);
        const bool ok = line.starts_with("OK: "), problem = line.starts_with("WARN: ") || line.starts_with("FAIL: ");
        CHECK((ok || problem));
        if (problem)
            CHECK(line.find("; fix: ") != std::string::npos);
        for (const char c : line)
            CHECK((c >= 0x20 && c < 0x7f));
        lines.push_back(line);
    }
    return lines;
}

std::vector<std::string> conflicts(const nlohmann::json& ruleset, const std::vector<nft::PublishedPort>& published,
                                   const std::optional<LegacyState>& legacy = std::nullopt)
{
    auto tables = nat_tables_of_ruleset(ruleset);
    if (legacy)
        if (auto nat = legacy_nat_table(*legacy))
            tables.push_back(std::move(*nat));
    return lines_of([&](Report& report) { check_dnat_conflicts(report, published, warren_nat_priorities(ruleset), tables, {}); });
}

LegacyState legacy_fixture(const std::string& name, std::vector<std::string> table_names)
{
    return LegacyState{std::move(table_names), parse_iptables_save(fixture(name)), ""};
}

bool contains(const std::string& line, const std::string& part) { return line.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("doctor: docker's iptables-nft DNAT of a published port is a WARN naming the rule and its conditions", "[doctor]")
{
    const auto ruleset = ruleset_fixture("docker-iptables-nft.json");
    const auto lines = conflicts(ruleset, {port(nft::Protocol::tcp, 8080)});
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].starts_with("WARN: rule ip nat DOCKER handle "));
    CHECK(contains(lines[0], " through DOCKER)"));  // from PREROUTING and OUTPUT alike
    CHECK(contains(lines[0], "tcp port 8080 (task task-1)"));
    CHECK(contains(lines[0], "xt match addrtype"));
    CHECK(contains(lines[0], "fix: stop publishing the port in the program that added the rule"));
    CHECK(contains(lines[0], "nft delete rule ip nat DOCKER handle "));

    // Another port, or the same port over UDP, is not docker's.
    for (const auto& other : {port(nft::Protocol::tcp, 8081), port(nft::Protocol::udp, 8080)}) {
        const auto ok = conflicts(ruleset, {other});
        REQUIRE(ok.size() == 1);
        CHECK(ok[0].starts_with("OK: no DNAT or redirect rule outside table ip warren matches a published port"));
    }
}

TEST_CASE("doctor: an nftables DNAT before warren's priority is a FAIL; one at the same priority a WARN", "[doctor]")
{
    const auto ruleset = ruleset_fixture("nft-dnat.json");
    SECTION("a plain port match at priority -150 takes every connection from other hosts")
    {
        const auto lines = conflicts(ruleset, {port(nft::Protocol::tcp, 9090)});
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("FAIL: rule inet other pre handle "));
        CHECK(contains(lines[0], "DNATs every new connection to tcp port 9090"));
        CHECK(contains(lines[0], "runs before warren's (priority -100)"));
    }
    SECTION("a port in an anonymous set's range, and one of its single elements")
    {
        for (const std::uint16_t p : {5000, 5005, 5010, 6000}) {
            const auto lines = conflicts(ruleset, {port(nft::Protocol::udp, p)});
            REQUIRE(lines.size() == 1);
            CHECK(lines[0].starts_with("FAIL: rule inet other pre handle "));
            CHECK(contains(lines[0], "udp port " + std::to_string(p)));
        }
        CHECK(conflicts(ruleset, {port(nft::Protocol::udp, 5011)})[0].starts_with("OK: "));
        CHECK(conflicts(ruleset, {port(nft::Protocol::tcp, 5005)})[0].starts_with("OK: "));
    }
    SECTION("a rule at dstnat with an interface condition")
    {
        const auto lines = conflicts(ruleset, {port(nft::Protocol::tcp, 7070)});
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("WARN: rule ip same pre handle "));
        CHECK(contains(lines[0], "that also match iifname eth0"));
        CHECK(contains(lines[0], "has the priority of warren's"));
    }
    SECTION("nothing published")
    {
        const auto lines = conflicts(ruleset, {});
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("OK: nothing is published"));
        CHECK(contains(lines[0], "3 DNAT or redirect rule(s) elsewhere"));
    }
}

TEST_CASE("doctor: foreign forward chains with policy drop are WARNs, table ip warren's own is not", "[doctor]")
{
    const auto lines =
        lines_of([](Report& report) { check_forward_chains(report, ruleset_fixture("foreign-forward-drop.json")); });
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].starts_with("WARN: chain inet firewall forward (hook forward, policy drop)"));
    CHECK(lines[1].starts_with("WARN: chain ip filter FORWARD (hook forward, policy drop)"));
    CHECK(contains(lines[1], "fix: add 'ct status dnat accept' to it"));

    const auto none = lines_of([](Report& report) { check_forward_chains(report, ruleset_fixture("docker-iptables-nft.json")); });
    REQUIRE(none.size() == 1);
    CHECK(none[0].starts_with("OK: no other forward chain"));
}

TEST_CASE("doctor: iptables-legacy FORWARD chains", "[doctor]")
{
    SECTION("policy DROP with a rule that accepts some traffic may drop published traffic")
    {
        const auto lines = lines_of([](Report& report) {
            check_iptables_legacy(report, legacy_fixture("legacy-drop.iptables-save", {"filter", "nat"}));
        });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("WARN: iptables-legacy chain filter FORWARD has policy DROP"));
        CHECK(contains(lines[0], "fix: iptables-legacy -I FORWARD -m conntrack --ctstate DNAT -j ACCEPT"));
    }
    SECTION("an unconditional REJECT after an ACCEPT")
    {
        const auto lines = lines_of(
            [](Report& report) { check_iptables_legacy(report, legacy_fixture("legacy-reject-all.iptables-save", {"filter"})); });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("WARN: iptables-legacy chain filter FORWARD has 1 rule(s) that DROP or REJECT"));
        CHECK(contains(lines[0], "(first: '-A FORWARD -j REJECT --reject-with icmp-port-unreachable')"));
    }
    SECTION("an unconditional DROP first is a FAIL")
    {
        const std::string dump = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n-A FORWARD -j DROP\nCOMMIT\n";
        const LegacyState state{{"filter"}, parse_iptables_save(dump), ""};
        const auto lines = lines_of([&](Report& report) { check_iptables_legacy(report, state); });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("FAIL: iptables-legacy chain filter FORWARD drops every forwarded packet"));
    }
    SECTION("DNATed connections accepted before the DROP")
    {
        const auto lines = lines_of([](Report& report) {
            check_iptables_legacy(report, legacy_fixture("legacy-dnat-accepted.iptables-save", {"filter"}));
        });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("OK: iptables-legacy has table(s) filter with 2 rule(s)"));
        CHECK(contains(lines[0], "filter FORWARD accepts DNATed connections first"));
    }
    SECTION("no tables, and tables that cannot be read")
    {
        CHECK(lines_of([](Report& report) {
                  check_iptables_legacy(report, LegacyState{{}, std::vector<LegacyTable>{}, ""});
              })[0]
                  .starts_with("OK: iptables-legacy has no tables here"));
        const auto lines = lines_of([](Report& report) {
            check_iptables_legacy(report, LegacyState{{"filter"}, std::nullopt, "iptables-legacy-save is not installed"});
        });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with(
            "WARN: iptables-legacy has tables here (filter) that cannot be read (iptables-legacy-save is not installed)"));
    }
}

TEST_CASE("doctor: iptables-legacy DNAT rules are compared with the published ports", "[doctor]")
{
    const auto legacy = legacy_fixture("legacy-drop.iptables-save", {"filter", "nat"});
    const auto empty = nlohmann::json::object();
    const auto tcp = conflicts(empty, {port(nft::Protocol::tcp, 8080)}, legacy);
    REQUIRE(tcp.size() == 1);
    CHECK(tcp[0].starts_with("WARN: iptables-legacy nat rule '-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT"));
    CHECK(contains(tcp[0], "fix: "));
    CHECK(contains(tcp[0], "iptables-legacy -t nat -D DOCKER ! -i docker0 -p tcp"));

    const auto udp = conflicts(empty, {port(nft::Protocol::udp, 5003)}, legacy);
    REQUIRE(udp.size() == 1);
    CHECK(contains(udp[0], "--dports 53,5000:5010"));
    CHECK(conflicts(empty, {port(nft::Protocol::udp, 5011)}, legacy)[0].starts_with("OK: "));
}

TEST_CASE("doctor: nft output that is no JSON object is a clear error", "[doctor]")
{
    for (const std::string text : {"", "not json", "{\"nftables\": [", "[1, 2]", "1e400", "{\"a\": 1e400}", "\"\xff\xfe\""}) {
        std::string error;
        INFO(text);
        CHECK_FALSE(parse_ruleset(text, error));
        CHECK(contains(error, "nft -j list ruleset printed"));
    }
}

TEST_CASE("doctor: hostile nft JSON gives lines, never a crash", "[doctor]")
{
    const std::vector<std::string> hostile{
        R"({"nftables": 5})",
        R"({"nftables": [1, "x", null, {"chain": 3}, {"rule": []}]})",
        // huge and negative numbers where priorities, handles and ports go
        R"({"nftables": [{"chain": {"family": "ip", "table": "t", "name": "p", "type": "nat", "hook": "prerouting",
            "prio": 18446744073709551615}}, {"rule": {"family": "ip", "table": "t", "chain": "p", "handle": 1e300,
            "expr": [{"match": {"op": ">=", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
            "right": -99999999999999999999}}, {"dnat": {"addr": "1.2.3.4"}}]}}]})",
        // odd strings: escapes, control characters, a newline, non-ASCII
        R"({"nftables": [{"chain": {"family": "inet", "table": "\u001b[31mred", "name": "x\ny", "type": "filter",
            "hook": "forward", "policy": "drop"}}, {"chain": {"family": "ip", "table": "n\u00e4t", "name": "p",
            "type": "nat", "hook": "prerouting", "prio": -200}}, {"rule": {"family": "ip", "table": "n\u00e4t",
            "chain": "p", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname\u0007"}}, "right": "\r"}},
            {"dnat": {"addr": "1.2.3.4"}}]}}]})",
        // shapes nft never prints: missing members, wrong types, unknown sets, deep jumps into nothing
        R"({"nftables": [{"chain": {"family": "ip", "table": "t", "name": "p", "type": "nat", "hook": "prerouting",
            "prio": "x"}}, {"rule": {"family": "ip", "table": "t", "chain": "p", "expr": [{"match": {"left": 1}},
            {"match": {"op": "in", "left": {"concat": [{"payload": {"protocol": "ip", "field": "daddr"}}, 3]},
            "right": {"set": [{"concat": [1]}, {"range": ["a", 5]}, {"prefix": {"addr": 7, "len": "x"}}, "@nosuch"]}}},
            {"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": "@nosuch"}},
            {"vmap": {"key": 1, "data": {"set": [[1, {"jump": {"target": "q"}}], [2], 3]}}},
            {"dnat": {"addr": {"map": {"key": 1}}, "port": {"map": {"key": {"payload": {"protocol": "udp",
            "field": "dport"}}, "data": "@m"}}}}, {"redirect": 5}, {"jump": {"target": 5}}, {"xt": {"type": "match"}}]}},
            {"set": {"family": "ip", "table": "t", "name": "m", "elem": [[{"range": [1, 70000]}, 2], 5]}}]})",
    };
    for (const auto& text : hostile) {
        INFO(text);
        std::string error;
        const auto ruleset = parse_ruleset(text, error);
        REQUIRE(ruleset);
        for (const auto& published : std::vector<std::vector<nft::PublishedPort>>{
                 {},
                 {port(nft::Protocol::tcp, 1)},
                 {port(nft::Protocol::udp, 65535, "10.0.0.1"), port(nft::Protocol::sctp, 80)}}) {
            CHECK_FALSE(conflicts(*ruleset, published).empty());
        }
        CHECK_FALSE(lines_of([&](Report& report) { check_forward_chains(report, *ruleset); }).empty());
    }
}

TEST_CASE("doctor: hostile iptables-save text gives lines, never a crash", "[doctor]")
{
    const std::string hostile =
        "*\n*filter\n:\n:FORWARD\n:FORWARD DROP\n-A\n-A FORWARD\n-A FORWARD -p 99999999 --dport 99999999999999999999 -j\n"
        "-A FORWARD ! ! -d 999.1.1.1/99 -j DROP\n-A FORWARD -m comment --comment \"unterminated -j ACCEPT\n"
        "-A FORWARD -j LOOP\n:LOOP - [0:0]\n-A LOOP -j LOOP\n-A FORWARD -p tcp --dport 5: -j \x1b[31mDROP\n"
        "*nat\n:PREROUTING ACCEPT\n-A PREROUTING -p tcp -m multiport --dports ,,:,a:b,1:99999999 -j DNAT\n"
        "-A PREROUTING -d 10.0.0.0/33 -j X\n:X - [0:0]\n-A X -j PREROUTING\n-A X --ports 80 -j REDIRECT\nCOMMIT\n";
    // Every prefix of it, too: a dump cut anywhere.
    for (std::size_t end = 0; end <= hostile.size(); end += 7) {
        const auto text = hostile.substr(0, end);
        INFO(text);
        const LegacyState state{{"filter", "nat"}, parse_iptables_save(text), ""};
        CHECK_FALSE(lines_of([&](Report& report) { check_iptables_legacy(report, state); }).empty());
        CHECK_FALSE(
            conflicts(nlohmann::json::object(), {port(nft::Protocol::tcp, 80), port(nft::Protocol::tcp, 5, "10.0.0.2")}, state)
                .empty());
    }
}

TEST_CASE("doctor: every fixture cut anywhere is an error or lines, never a crash", "[doctor]")
{
    for (const char* name : {"docker-iptables-nft.json", "nft-dnat.json", "foreign-forward-drop.json"}) {
        const auto whole = fixture(name);
        for (std::size_t end = 0; end < whole.size(); end += 13) {
            std::string error;
            if (const auto ruleset = parse_ruleset(whole.substr(0, end), error))
                CHECK_FALSE(conflicts(*ruleset, {port(nft::Protocol::tcp, 8080)}).empty());
            else
                CHECK_FALSE(error.empty());
        }
    }
}

TEST_CASE("doctor: ports published on an address the host lacks are WARNs naming the address and its ports", "[doctor]")
{
    const std::vector<InterfaceAddress> local{
        {"lo", "127.0.0.1", 8}, {"eth0", "192.0.2.1", 24}, {"eth0", "2001:db8::1", 64}, {"eth0", "fe80::1", 64}};
    SECTION("every address, loopback and the host's own addresses are fine")
    {
        const auto lines = lines_of([&](Report& report) {
            check_host_addresses(
                report,
                {port(nft::Protocol::tcp, 1), port(nft::Protocol::tcp, 2, "0.0.0.0"), port(nft::Protocol::tcp, 3, "::"),
                 port(nft::Protocol::tcp, 4, "127.0.0.9"), port(nft::Protocol::tcp, 5, "::1"),
                 port(nft::Protocol::tcp, 6, "192.0.2.1"), port(nft::Protocol::udp, 7, "2001:db8:0::1")},
                local);
        });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0] == "OK: 2 port(s) published on one host address: this host has each address");
    }
    SECTION("an absent address, once, with every port on it")
    {
        auto ownerless = port(nft::Protocol::udp, 53, "198.51.100.7");
        ownerless.task_id.clear();
        const auto lines = lines_of([&](Report& report) {
            check_host_addresses(report,
                                 {port(nft::Protocol::tcp, 8080, "198.51.100.7"), ownerless,
                                  port(nft::Protocol::tcp, 22, "2001:db8::2"), port(nft::Protocol::tcp, 80, "192.0.2.1")},
                                 local);
        });
        REQUIRE(lines.size() == 2);
        CHECK(lines[0] ==
              "WARN: no interface of this host has address 198.51.100.7, so nothing reaches tcp port 8080 (task task-1), "
              "udp port 53 (an element without a warren-nft owner) published on it (published with --skip-address-check, "
              "or the address was removed since); fix: add the address to an interface (ip addr add 198.51.100.7/32 dev "
              "IFACE), or publish the task again on an address the host has");
        CHECK(lines[1].starts_with("WARN: no interface of this host has address 2001:db8::2, so nothing reaches tcp port 22"));
        CHECK(contains(lines[1], "ip addr add 2001:db8::2/128 dev IFACE"));
    }
    SECTION("no address read: every bound port is named")
    {
        const auto lines =
            lines_of([&](Report& report) { check_host_addresses(report, {port(nft::Protocol::tcp, 80, "192.0.2.1")}, {}); });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("WARN: no interface of this host has address 192.0.2.1"));
    }
    SECTION("the interfaces of this namespace are read")
    {
        std::string error;
        const auto addresses = interface_addresses(error);
        CHECK(error.empty());
        for (const auto& [interface, address, prefix] : addresses) {
            CHECK_FALSE(interface.empty());
            CHECK_FALSE(address.empty());
            CHECK((prefix >= 0 && prefix <= 128));
        }
    }
}

TEST_CASE("doctor: bridges holding published containers with ports without hairpin mode are WARNs", "[doctor]")
{
    const Bridge br0{"br0", {{"br0", "10.0.0.1", 24}, {"br0", "fd00::1", 64}}, {{"veth-a", false}, {"veth-b", true}}};
    const Bridge br1{"br1", {{"br1", "10.1.0.1", 24}}, {{"veth-c", false}}};
    SECTION("a container on br0: br0 is named with its port without hairpin, br1 is not")
    {
        auto on_br0 = port(nft::Protocol::tcp, 80);
        on_br0.container_ip = "10.0.0.2";
        const auto lines = lines_of([&](Report& report) { check_hairpin(report, {on_br0}, {br0, br1}); });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0] ==
              "WARN: bridge br0 holds published containers (10.0.0.2 (task task-1)) and its port(s) veth-a have hairpin mode "
              "off, so a container behind them cannot reach its own published port through the host's addresses; fix: bridge "
              "link set dev veth-a hairpin on (for each port of such a container; or the runtime's hairpin option)");
    }
    SECTION("containers of both families, and every port with hairpin")
    {
        auto v6 = port(nft::Protocol::tcp, 80);
        v6.container_ip = "fd00::2";
        auto v4 = port(nft::Protocol::udp, 53);
        v4.container_ip = "10.1.0.7";
        CHECK(lines_of([&](Report& report) {
                  check_hairpin(report, {v6}, {br0, br1});
              })[0]
                  .starts_with("WARN: bridge br0 holds published containers (fd00::2 (task task-1))"));
        const Bridge all_on{"br1", {{"br1", "10.1.0.1", 24}}, {{"veth-c", true}}};
        const auto lines = lines_of([&](Report& report) { check_hairpin(report, {v4}, {all_on}); });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0] == "OK: every port of the 1 bridge(s) holding published containers has hairpin mode on");
    }
    SECTION("no bridge holds the containers")
    {
        auto elsewhere = port(nft::Protocol::tcp, 80);
        elsewhere.container_ip = "10.0.1.2";  // next to br0's /24
        const auto lines = lines_of([&](Report& report) { check_hairpin(report, {elsewhere}, {br0, br1}); });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with("OK: no bridge of this host holds a published container's address"));
    }
    SECTION("hostile prefixes and addresses")
    {
        const Bridge odd{"br\x1b", {{"br", "10.0.0.1", 200}, {"br", "not an address", 8}, {"br", "::", -5}}, {{"p", false}}};
        auto bad = port(nft::Protocol::tcp, 80);
        bad.container_ip = "garbage";
        CHECK(lines_of([&](Report& report) { check_hairpin(report, {bad}, {odd}); })[0].starts_with("OK: "));
        auto v6 = port(nft::Protocol::tcp, 80);
        v6.container_ip = "2001:db8::9";
        CHECK(lines_of([&](Report& report) { check_hairpin(report, {v6}, {odd}); })[0].starts_with(
            "WARN: bridge "));  // :: with prefix 0 holds it
    }
}

namespace {

// The sockets of the /proc/net fixtures (made on a little-endian host, as the kernel prints addresses
// in host byte order).
std::vector<HostSocket> fixture_sockets()
{
    std::vector<HostSocket> out;
    for (const auto& [file, protocol, ipv6] : {std::tuple<const char*, const char*, bool>{"proc-net-tcp.txt", "tcp", false},
                                               {"proc-net-tcp6.txt", "tcp", true},
                                               {"proc-net-udp.txt", "udp", false},
                                               {"proc-net-udp6.txt", "udp", true}}) {
        auto sockets = parse_proc_net(fixture(file), protocol, ipv6);
        out.insert(out.end(), sockets.begin(), sockets.end());
    }
    return out;
}

}  // namespace

TEST_CASE("doctor: /proc/net's listening and bound sockets are read", "[doctor]")
{
    const auto sockets = fixture_sockets();
    std::vector<std::string> seen;
    for (const auto& socket : sockets)
        seen.push_back(socket.protocol + " " + socket.address + " " + std::to_string(socket.port));
    // The connected TCP sockets of the fixture (state 01) are not listening.
    CHECK(seen == std::vector<std::string>{"tcp 0.0.0.0 8080", "tcp 192.0.2.1 8443", "tcp 2001:db8::1 2222", "tcp :: 9090",
                                           "udp 127.0.0.1 5353", "udp :: 53"});
}

TEST_CASE("doctor: a published port over a listening socket is a WARN naming the socket", "[doctor]")
{
    const auto sockets = fixture_sockets();
    const auto check = [&](const nft::PublishedPort& published) {
        return lines_of([&](Report& report) { check_shadowed_sockets(report, {published}, sockets); });
    };
    auto lines = check(port(nft::Protocol::tcp, 8080));
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] ==
          "WARN: tcp port 8080 (task task-1) is published over the host's tcp socket listening on 0.0.0.0:8080, so "
          "connections from other hosts go to the container and never reach that socket; fix: stop the program that listens "
          "there (ss -lntup shows it), or publish the task on another host port");
    // On one address: the socket on that address, and sockets on every address.
    CHECK(contains(check(port(nft::Protocol::tcp, 8443, "192.0.2.1"))[0], "tcp socket listening on 192.0.2.1:8443"));
    CHECK(check(port(nft::Protocol::tcp, 8443, "192.0.2.2"))[0].starts_with("OK: "));
    CHECK(contains(check(port(nft::Protocol::tcp, 8080, "192.0.2.2"))[0], "0.0.0.0:8080"));
    // An IPv6 socket on :: receives IPv4 too; one on an IPv6 address does not.
    CHECK(contains(check(port(nft::Protocol::tcp, 9090))[0], "tcp socket listening on [::]:9090"));
    CHECK(contains(check(port(nft::Protocol::tcp, 9090, "0.0.0.0"))[0], "[::]:9090"));
    CHECK(contains(check(port(nft::Protocol::tcp, 9090, "192.0.2.1"))[0], "[::]:9090"));
    // An IPv4 socket receives no IPv6.
    CHECK(check(port(nft::Protocol::tcp, 8080, "::"))[0].starts_with("OK: "));
    CHECK(check(port(nft::Protocol::tcp, 8080, "2001:db8::1"))[0].starts_with("OK: "));
    CHECK(contains(check(port(nft::Protocol::tcp, 2222, "2001:db8::1"))[0], "[2001:db8::1]:2222"));
    CHECK(check(port(nft::Protocol::tcp, 2222, "192.0.2.1"))[0].starts_with("OK: "));
    // UDP sockets are bound; a TCP port does not meet them.
    CHECK(contains(check(port(nft::Protocol::udp, 53))[0], "udp socket bound to [::]:53"));
    CHECK(contains(check(port(nft::Protocol::udp, 5353, "127.0.0.1"))[0], "udp socket bound to 127.0.0.1:5353"));
    CHECK(check(port(nft::Protocol::tcp, 53))[0].starts_with("OK: "));
}

TEST_CASE("doctor: hostile /proc/net text is skipped, never a crash", "[doctor]")
{
    const std::string hostile =
        "garbage\n   0: 00000000:1F90 x 0A\n 1: ZZZZZZZZ:0050 00000000:0000 0A\n 2: 00000000:FFFFF 00000000:0000 0A\n"
        " 3: 0000000:0050 00000000:0000 0A\n 4: 00000000:0050\n 5: 00000000:0050 00000000:0000 0A\n";
    for (const bool ipv6 : {false, true}) {
        const auto sockets = parse_proc_net(hostile, "tcp", ipv6);
        if (ipv6)
            CHECK(sockets.empty());
        else
            CHECK(sockets.size() == 2);  // the entries whose local address and port are well formed
    }
    for (std::size_t end = 0; end < hostile.size(); end += 3)
        CHECK(parse_proc_net(hostile.substr(0, end), "udp", false).empty());  // no entry is in state 07
}

TEST_CASE("doctor: bridge ports and their hairpin mode are read from bridge -j -d link show", "[doctor]")
{
    const std::vector<InterfaceAddress> addresses{{"br-doc", "10.77.0.1", 24}, {"eth0", "192.0.2.1", 24}};
    std::string error;
    const auto bridges = parse_bridge_links(fixture("bridge-link.json"), addresses, error);
    INFO(error);
    REQUIRE(bridges);
    REQUIRE(bridges->size() == 2);
    CHECK((*bridges)[0].name == "br-doc");
    REQUIRE((*bridges)[0].networks.size() == 1);
    CHECK((*bridges)[0].networks[0].address == "10.77.0.1");
    REQUIRE((*bridges)[0].ports.size() == 2);
    CHECK((*bridges)[0].ports[0].name == "veth-doc");
    CHECK_FALSE((*bridges)[0].ports[0].hairpin);
    CHECK((*bridges)[0].ports[1].name == "veth2");
    CHECK((*bridges)[0].ports[1].hairpin);
    CHECK((*bridges)[1].name == "br-two");
    CHECK((*bridges)[1].networks.empty());

    auto on_br = port(nft::Protocol::tcp, 80);
    on_br.container_ip = "10.77.0.5";
    const auto lines = lines_of([&](Report& report) { check_hairpin(report, {on_br}, *bridges); });
    REQUIRE(lines.size() == 1);
    CHECK(
        lines[0].starts_with("WARN: bridge br-doc holds published containers (10.77.0.5 (task task-1)) and its port(s) veth-doc "
                             "have hairpin mode off"));

    for (const std::string hostile :
         {"", "{}", "[1, null, {\"master\": 5}, {\"master\": \"b\", \"ifname\": \"p\", \"hairpin\": \"yes\"}]", "[{"}) {
        INFO(hostile);
        std::string why;
        const auto parsed = parse_bridge_links(hostile, addresses, why);
        if (parsed) {
            REQUIRE(parsed->size() == 1);
            CHECK_FALSE(parsed->front().ports.front().hairpin);  // not a boolean: not on
        } else {
            CHECK(why.starts_with("bridge -j -d link show printed"));
        }
    }
}

namespace {

// The claim of ingress service "web" on `host_port` in one family, as inspect() lists it.
nft::PublishedPort claim(std::uint16_t host_port, const std::string& unspecified)
{
    nft::PublishedPort out;
    out.task_id = "web";
    out.container_ip = unspecified;
    out.mapping.host_port = host_port;
    out.mapping.protocol = nft::Protocol::tcp;
    out.mapping.publish_mode = nft::PublishMode::ingress;
    return out;
}

}  // namespace

TEST_CASE("doctor: an ingress port is named as its service's, and its containers are its backends", "[doctor][ingress]")
{
    const auto task = port(nft::Protocol::tcp, 80);  // task-1 on 10.88.0.2
    const std::vector<nft::PublishedPort> published{task, claim(8080, "0.0.0.0"), claim(8080, "::")};
    const nft::IngressService web{"web",
                                  {nft::IngressPort{nft::Protocol::tcp,
                                                    8080,
                                                    nft::AddressFamily::ipv4,
                                                    {{"10.0.0.5", 80, 1}, {"10.1.0.9", 8080, 2, nft::BackendState::draining}}},
                                   nft::IngressPort{nft::Protocol::tcp, 8080, nft::AddressFamily::ipv6, {{"fd00::5", 80, 1}}}}};

    SECTION("the containers: the task's port as it is, each backend instead of the claims")
    {
        const auto containers = published_containers(published, {web});
        std::vector<std::tuple<std::string, std::string, nft::PublishMode, std::uint16_t, std::uint16_t>> seen;
        for (const auto& c : containers)
            seen.emplace_back(c.task_id, c.container_ip, c.mapping.publish_mode, c.mapping.host_port, c.mapping.container_port);
        CHECK(seen == decltype(seen){{"task-1", "10.88.0.2", nft::PublishMode::host, 80, 80},
                                     {"web", "10.0.0.5", nft::PublishMode::ingress, 8080, 80},
                                     {"web", "10.1.0.9", nft::PublishMode::ingress, 8080, 8080},
                                     {"web", "fd00::5", nft::PublishMode::ingress, 8080, 80}});
        // Without the services (they could not be read), the claims are still no containers.
        CHECK(published_containers(published, {}) == std::vector{task});
    }
    SECTION("hairpin mode: the bridges that hold the backends are named with the service")
    {
        const Bridge br0{"br0", {{"br0", "10.0.0.1", 24}, {"br0", "fd00::1", 64}}, {{"veth-a", false}}};
        const Bridge br1{"br1", {{"br1", "10.1.0.1", 24}}, {{"veth-c", false}}};
        const auto lines = lines_of([&](Report& report) {
            check_hairpin(report, published_containers(published, {web}), {br0, br1});
        });
        REQUIRE(lines.size() == 2);
        CHECK(lines[0].starts_with(
            "WARN: bridge br0 holds published containers (10.0.0.5 (ingress service web), fd00::5 (ingress service web)) "
            "and its port(s) veth-a have hairpin mode off"));
        CHECK(lines[1].starts_with("WARN: bridge br1 holds published containers (10.1.0.9 (ingress service web))"));
        // A bridge whose prefix holds every IPv6 address (:: with prefix 0) would hold the claim's "::".
        const Bridge any{"br2", {{"br2", "::", 0}}, {{"veth-d", false}}};
        CHECK(lines_of([&](Report& report) { check_hairpin(report, published_containers(published, {}), {any}); })[0].starts_with(
            "OK: no bridge of this host holds a published container's address"));
    }
    SECTION("a socket on the claimed port, and a DNAT rule elsewhere for it, name the service")
    {
        // The claims of both families: an IPv4 socket (tcp 0.0.0.0:8080 of the fixture) takes the IPv4
        // half only, an IPv6 socket on :: (tcp [::]:9090) both.
        const auto sockets = fixture_sockets();
        auto lines = lines_of([&](Report& report) {
            check_shadowed_sockets(report, {claim(8080, "0.0.0.0"), claim(8080, "::")}, sockets);
        });
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].starts_with(
            "WARN: tcp port 8080 (ingress service web) is published over the host's tcp socket listening on 0.0.0.0:8080"));
        CHECK(lines[0].ends_with("or publish the ingress service on another host port"));
        lines = lines_of([&](Report& report) {
            check_shadowed_sockets(report, {claim(9090, "0.0.0.0"), claim(9090, "::")}, sockets);
        });
        CHECK(lines.size() == 2);
        // Docker's ip nat table sees the IPv4 half only: the port is named once.
        const auto dnat = conflicts(ruleset_fixture("docker-iptables-nft.json"), {claim(8080, "0.0.0.0"), claim(8080, "::")});
        REQUIRE(dnat.size() == 1);
        CHECK(dnat[0].starts_with("WARN: rule ip nat DOCKER handle "));
        CHECK(contains(dnat[0], "tcp port 8080 (ingress service web)"));
        CHECK(dnat[0].find("tcp port 8080") == dnat[0].rfind("tcp port 8080"));
        CHECK(dnat[0].ends_with("or publish the ingress service on another host port"));
        // On every address: no host address to miss.
        CHECK(lines_of([&](Report& report) { check_host_addresses(report, published, {}); })[0] ==
              "OK: no port is published on one host address, so none can miss its address");
    }
}
