// SPDX-License-Identifier: Apache-2.0
// `warren-nft doctor`'s checks of iptables-legacy, of DNAT rules in other tables, of our tables (as
// inspect() reports them) and of the host (addresses, hairpin mode, listening sockets): each against a
// problem prepared in the test's own network namespace, and against real traffic where the doctor
// claims what the problem does to it and how to fix it (the fix it prints is run as printed).
#include "netns.hpp"
#include "nft_state.hpp"
#include "owned_table.hpp"
#include "process.hpp"
#include "traffic.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace kt {
namespace {

constexpr std::uint16_t host_port = 18080;
constexpr std::uint16_t container_port = 8080;

// The output of one `warren-nft doctor`, line by line.
struct DoctorReport {
    int status = -1;
    std::string out;
    std::vector<std::pair<std::string, std::string>> lines;  // level ("OK", "WARN", "FAIL"), text

    // The texts of the lines of `level` that contain every one of `words`.
    std::vector<std::string> matching(const std::string& level, std::initializer_list<std::string> words) const
    {
        std::vector<std::string> found;
        for (const auto& [l, text] : lines)
            if (l == level &&
                std::all_of(words.begin(), words.end(), [&](const std::string& w) { return text.find(w) != std::string::npos; }))
                found.push_back(text);
        return found;
    }
    std::size_t count(const std::string& level, std::initializer_list<std::string> words) const
    {
        return matching(level, words).size();
    }
};

// Runs the warren-nft binary under test (WARREN_NFT, set by meson test) in this thread's namespace.
CommandResult warren_nft(std::vector<std::string> args)
{
    const char* exe = std::getenv("WARREN_NFT");
    if (exe == nullptr || *exe == '\0')
        FAIL("WARREN_NFT is not set to the path of the warren-nft binary (meson test sets it)");
    ensure_not_in_original_netns();
    Command cmd;
    cmd.argv = std::move(args);
    cmd.argv.insert(cmd.argv.begin(), exe);
    return run(cmd);
}

DoctorReport doctor()
{
    const auto result = warren_nft({"doctor"});
    DoctorReport report;
    report.status = result.exit_code;
    report.out = result.out;
    INFO(result.describe({"warren-nft", "doctor"}));
    CHECK(result.err.empty());
    std::istringstream stream(result.out);
    std::string line;
    while (std::getline(stream, line)) {
        const auto colon = line.find(": ");
        const auto level = colon == std::string::npos ? std::string() : line.substr(0, colon);
        CHECK((level == "OK" || level == "WARN" || level == "FAIL"));
        report.lines.emplace_back(level, colon == std::string::npos ? line : line.substr(colon + 2));
    }
    return report;
}

void publish(const std::string& task, const std::string& ip, std::initializer_list<std::string> specs)
{
    std::vector<std::string> args{"publish", "--task", task, "--ip", ip};
    for (const auto& spec : specs) {
        args.push_back("-p");
        args.push_back(spec);
    }
    const auto result = warren_nft(args);
    INFO(result.describe(args));
    REQUIRE(result.exit_code == 0);
}

// Full path of a program, "" when it is not installed.
std::string installed(const std::string& program)
{
    try {
        return find_program(program);
    } catch (const std::exception&) {
        return {};
    }
}

// The fix a doctor line proposes: the words after "fix: " up to " (" or ";" or a comma.
std::vector<std::string> fix_command(const std::string& text)
{
    const auto start = text.find("fix: ");
    REQUIRE(start != std::string::npos);
    auto command = text.substr(start + 5);
    for (const char* end : {" (", ";", ","})
        if (const auto at = command.find(end); at != std::string::npos)
            command.erase(at);
    std::istringstream words(command);
    std::vector<std::string> argv;
    for (std::string word; words >> word;)
        argv.push_back(word);
    return argv;
}

// The command inside "(CMD)" after `marker` in a doctor line ("delete the rule (nft delete rule ...)").
std::vector<std::string> command_after(const std::string& text, const std::string& marker)
{
    const auto start = text.find(marker);
    REQUIRE(start != std::string::npos);
    const auto open = start + marker.size();
    const auto close = text.find(')', open);
    REQUIRE(close != std::string::npos);
    std::istringstream words(text.substr(open, close - open));
    std::vector<std::string> argv;
    for (std::string word; words >> word;)
        argv.push_back(word);
    return argv;
}

// Why the legacy tables of this namespace cannot be read ("" when they can, or when there are none):
// in a user namespace /proc/net/ip_tables_names belongs to the real root.
std::string legacy_tables_unreadable()
{
    std::ifstream names("/proc/thread-self/net/ip_tables_names");
    if (!names && errno != ENOENT)
        return std::string("/proc/net/ip_tables_names: ") + std::strerror(errno);
    return {};
}

// Runs `iptables-legacy args...` when it is installed and usable here; otherwise returns why not.
std::string try_legacy(std::vector<std::string> args)
{
    if (installed("iptables-legacy").empty() || installed("iptables-legacy-save").empty())
        return "iptables-legacy is not installed (Debian package iptables)";
    args.insert(args.begin(), "iptables-legacy");
    Command cmd;
    cmd.argv = args;
    const auto result = run(cmd);
    if (result.exit_code != 0)
        return "iptables-legacy does not work here: " + result.describe(args);
    if (const auto why = legacy_tables_unreadable(); !why.empty())
        return "the doctor cannot read iptables-legacy's tables here (" + why + ")";
    return {};
}

// What iptables-legacy holds in this namespace: the tables that exist, and their rules.
std::string legacy_state()
{
    std::ifstream names("/proc/thread-self/net/ip_tables_names");
    std::string state((std::istreambuf_iterator<char>(names)), std::istreambuf_iterator<char>());
    if (!state.empty()) {
        std::istringstream dump(check_output({"iptables-legacy-save"}));
        for (std::string line; std::getline(dump, line);)
            if (!line.starts_with("#"))  // the dump's comments carry the time
                state += line + "\n";
    }
    return state;
}

bool reaches_container(const Topology& net)
{
    const auto r =
        exchange(net.client, Transport::tcp, Topology::host_client_side_ip, host_port, "ping", std::chrono::milliseconds(700));
    return r.replied && r.reply == "container:ping";
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "doctor finds iptables-legacy FORWARD chains that drop published traffic", "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    auto report = doctor();
    INFO(report.out);
    if (legacy_tables_unreadable().empty()) {
        CHECK(report.status == 0);
        CHECK(report.count("OK", {"iptables-legacy has no tables here"}) == 1);
        // Reading created no legacy table (listing one with iptables-legacy -S would have).
        CHECK(legacy_state().empty());
    } else {  // a user namespace: the doctor cannot know, and says so
        CHECK(report.count("WARN", {"iptables-legacy's tables cannot be read here", "Permission denied"}) == 1);
    }

    const Topology net;  // this namespace is the host
    const EchoServer server(net.container, Transport::tcp, container_port, "container");
    publish("web-1", Topology::container_ip, {std::to_string(host_port) + ":" + std::to_string(container_port)});
    REQUIRE(reaches_container(net));

    // Docker's legacy setup, minus its rules: every forwarded packet is dropped, for certain.
    if (const auto why = try_legacy({"-P", "FORWARD", "DROP"}); !why.empty()) {
        WARN("SKIPPED: " << why << "; the doctor's findings in legacy tables are not tested");
        return;
    }
    auto before = ruleset() + legacy_state();
    report = doctor();
    INFO(report.out);
    CHECK(report.status == 1);
    const auto certain =
        report.matching("FAIL", {"iptables-legacy chain filter FORWARD drops every forwarded packet",
                                 "policy DROP and no rule that accepts anything", "nft list ruleset does not show it"});
    REQUIRE(certain.size() == 1);
    CHECK(ruleset() + legacy_state() == before);  // the doctor changed nothing
    CHECK_FALSE(reaches_container(net));          // and it was right

    // A rule that accepts other traffic: the policy may still drop ours.
    check_output({"iptables-legacy", "-A", "FORWARD", "-i", "kt-other", "-j", "ACCEPT"});
    report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("WARN", {"iptables-legacy chain filter FORWARD has policy DROP, so it may drop"}) == 1);
    CHECK(report.count("FAIL", {}) == 0);

    // The fix the doctor printed, as printed.
    const auto fix = fix_command(certain.front());
    CHECK(fix ==
          std::vector<std::string>{"iptables-legacy", "-I", "FORWARD", "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"});
    check_output(fix);
    report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("OK", {"iptables-legacy has table(s) filter", "filter FORWARD accepts DNATed connections first"}) == 1);
    CHECK(report.count("WARN", {"iptables-legacy"}) == 0);
    CHECK(reaches_container(net));

    // Drop rules after the accept do not matter; one before it does.
    check_output({"iptables-legacy", "-A", "FORWARD", "-p", "tcp", "--dport", "22", "-j", "REJECT"});
    CHECK(doctor().count("WARN", {"iptables-legacy"}) == 0);
    check_output({"iptables-legacy", "-I", "FORWARD", "-p", "udp", "-j", "DROP"});
    report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("WARN", {"iptables-legacy chain filter FORWARD has 1 rule(s) that DROP or REJECT",
                                "'-A FORWARD -p udp -j DROP'"}) == 1);
    CHECK(reaches_container(net));  // "may": this one spares TCP

    // A DROP in another table's FORWARD chain, behind a jump to a user chain (the doctor says "may" there).
    check_output({"iptables-legacy", "-t", "mangle", "-N", "BLOCK"});
    check_output({"iptables-legacy", "-t", "mangle", "-A", "BLOCK", "-j", "DROP"});
    check_output({"iptables-legacy", "-t", "mangle", "-A", "FORWARD", "-j", "BLOCK"});
    report = doctor();
    INFO(report.out);
    CHECK(report.count("WARN", {"iptables-legacy chain mangle FORWARD has 1 rule(s) that DROP or REJECT",
                                "(first: '-A FORWARD -j BLOCK', whose chain BLOCK has 1 rule(s) that DROP or REJECT)",
                                "iptables-legacy -t mangle -I FORWARD"}) == 1);
    CHECK_FALSE(reaches_container(net));
}

TEST_CASE_METHOD(FreshNetns, "doctor finds DNAT rules of other nftables tables for published ports", "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    // One case per chain, all jumped to from one NAT chain that runs after warren's (priority 100).
    nft_script(
        "table ip foo {\n"
        " set ports { type inet_service; elements = { 8080, 9090 }; }\n"
        " chain pre {\n"
        "  type nat hook prerouting priority 100;\n"
        "  jump c_literal\n  jump c_other_proto\n  jump c_set\n  jump c_not\n  jump c_range\n  jump c_map\n"
        "  meta l4proto . th dport vmap { tcp . 8080 : jump c_vmap, udp . 1 : jump c_vmap_other }\n"
        " }\n"
        " chain c_literal { tcp dport 8080 dnat to 10.9.9.9; }\n"
        " chain c_other_proto { udp dport 8080 dnat to 10.9.9.9; }\n"
        " chain c_set { tcp dport @ports dnat to 10.9.9.9; }\n"
        " chain c_not { tcp dport != 8080 dnat to 10.9.9.9; }\n"
        " chain c_range { iifname \"eth0\" udp dport 5000-6000 redirect to :53; }\n"
        " chain c_map { dnat to tcp dport map { 8080 : 10.9.9.9 }; }\n"
        " chain c_vmap { dnat to 10.9.9.9; }\n"
        " chain c_vmap_other { dnat to 10.9.9.9; }\n"
        "}\n");

    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("OK", {"nothing is published, so no DNAT rule outside table ip warren can take a published port",
                              "(8 DNAT or redirect rule(s) elsewhere)"}) == 1);

    publish("web-1", "10.0.0.2", {"8080:80", "5353:53/udp", "7000:70/sctp"});
    const auto before = ruleset();
    report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);  // warnings only: that chain runs after warren's
    const auto tcp = "DNATs every new connection to tcp port 8080 (task web-1)";
    const auto later = "runs after warren's (priority -100)";
    CHECK(report.count("WARN", {"rule ip foo c_literal handle", "(reached from base chain pre through c_literal)", tcp, later}) ==
          1);
    CHECK(report.count("WARN", {"rule ip foo c_set handle", tcp}) == 1);
    CHECK(report.count("WARN", {"rule ip foo c_map handle", tcp}) == 1);
    CHECK(report.count("WARN", {"rule ip foo c_vmap handle", tcp}) == 1);
    CHECK(report.count("WARN", {"rule ip foo c_range handle",
                                "redirects new connections to udp port 5353 (task web-1) that also match iifname eth0"}) == 1);
    CHECK(report.count("WARN", {"nft delete rule ip foo c_literal handle "}) == 1);
    // Rules that cannot match a published port are not reported.
    for (const char* chain : {"c_other_proto", "c_not", "c_vmap_other"})
        CHECK(report.out.find(std::string("ip foo ") + chain) == std::string::npos);
    CHECK(report.out.find("sctp port 7000") == std::string::npos);
    CHECK(report.count("WARN", {"rule ip foo "}) == 5);
    CHECK(ruleset() == before);

    nft({"delete", "table", "ip", "foo"});
    report = doctor();
    INFO(report.out);
    CHECK(report.count("OK", {"no DNAT or redirect rule outside table ip warren matches a published port",
                              "(0 DNAT or redirect rule(s) elsewhere)"}) == 1);
}

TEST_CASE_METHOD(FreshNetns, "doctor fails on a DNAT rule that takes a published port before warren's", "[cli][doctor]")
{
    const Topology net;
    const EchoServer server(net.container, Transport::tcp, container_port, "container");
    const auto spec = std::to_string(host_port) + ":" + std::to_string(container_port);
    publish("web-1", Topology::container_ip, {spec});
    REQUIRE(reaches_container(net));
    const std::string port = "tcp port " + std::to_string(host_port) + " (task web-1)";

    // Earlier than warren's chain, for every connection to the port: certain.
    nft_script(
        "table inet early {\n chain pre {\n  type nat hook prerouting priority -150;\n"
        "  tcp dport " +
        std::to_string(host_port) + " dnat ip to " + Topology::container_ip + ":9\n }\n}\n");
    const auto before = ruleset();
    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 1);
    const auto found = report.matching(
        "FAIL", {"rule inet early pre handle", "DNATs every new connection to " + port,
                 "(hook prerouting, priority -150) runs before warren's (priority -100)", "never reach the containers"});
    REQUIRE(found.size() == 1);
    CHECK(ruleset() == before);
    CHECK_FALSE(reaches_container(net));  // the doctor was right

    // The deletion it proposes, as printed, gives the port back.
    const auto remove = command_after(found.front(), "delete the rule (");
    REQUIRE(remove.size() == 8);
    CHECK(std::vector<std::string>(remove.begin(), remove.begin() + 6) ==
          std::vector<std::string>{"nft", "delete", "rule", "inet", "early", "pre"});
    check_output(remove);
    report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("OK", {"no DNAT or redirect rule outside table ip warren matches a published port"}) == 1);
    CHECK(reaches_container(net));

    // Docker through iptables-nft: table ip nat at warren's priority, behind a jump with an xt match.
    if (installed("iptables-nft").empty()) {
        WARN("SKIPPED: iptables-nft is not installed (Debian package iptables): Docker's table ip nat is not tested");
    } else {
        const auto to = std::string(Topology::container_ip) + ":9";
        check_output({"iptables-nft", "-t", "nat", "-N", "DOCKER"});
        check_output({"iptables-nft", "-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"});
        check_output({"iptables-nft", "-t", "nat", "-A", "DOCKER", "!", "-i", "docker0", "-p", "tcp", "-m", "tcp", "--dport",
                      std::to_string(host_port), "-j", "DNAT", "--to-destination", to});
        report = doctor();
        INFO(report.out);
        CHECK(report.status == 0);
        CHECK(report.count("WARN", {"rule ip nat DOCKER handle", "(reached from base chain PREROUTING through DOCKER)",
                                    "DNATs new connections to " + port + " that also match", "iifname != docker0",
                                    "xt match addrtype", "has the priority of warren's"}) == 1);
        check_output({"iptables-nft", "-t", "nat", "-F"});
        check_output({"iptables-nft", "-t", "nat", "-X"});
    }

    // iptables-legacy's nat table: invisible to nft, same priority as warren's.
    const auto rule = "-A PREROUTING -p tcp -m tcp --dport " + std::to_string(host_port) + " -j DNAT --to-destination " +
                      Topology::container_ip + ":9";
    if (const auto why =
            try_legacy({"-t", "nat", "-A", "PREROUTING", "-p", "tcp", "-m", "tcp", "--dport", std::to_string(host_port), "-j",
                        "DNAT", "--to-destination", std::string(Topology::container_ip) + ":9"});
        !why.empty()) {
        WARN("SKIPPED: " << why << "; legacy DNAT rules are not tested");
        return;
    }
    const auto legacy_before = legacy_state();
    report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    const auto legacy = report.matching("WARN", {"iptables-legacy nat rule '" + rule + "'",
                                                 "DNATs every new connection to " + port, "has the priority of warren's"});
    REQUIRE(legacy.size() == 1);
    CHECK(legacy_state() == legacy_before);
    const auto legacy_remove = command_after(legacy.front(), "delete the rule (");
    CHECK(legacy_remove.front() == "iptables-legacy");
    check_output(legacy_remove);
    CHECK(legacy_state().find(std::to_string(host_port)) == std::string::npos);
    CHECK(doctor().count("OK", {"no DNAT or redirect rule outside table ip warren matches a published port"}) == 1);
}

}  // namespace kt

namespace kt {

TEST_CASE_METHOD(FreshNetns, "doctor reads br_netfilter from its sysctl, built in or a module", "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    if (read_net_sysctl("net/bridge/bridge-nf-call-iptables").empty()) {
        const auto report = doctor();
        INFO(report.out);
        CHECK(report.count("WARN", {"br_netfilter is not loaded", "fix: modprobe br_netfilter"}) == 1);
        WARN("SKIPPED: br_netfilter is not loaded on this machine, so only the doctor's answer without it was tested");
        return;
    }
    write_net_sysctl("net/bridge/bridge-nf-call-iptables", "0");
    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("WARN",
                       {"net.bridge.bridge-nf-call-iptables is 0", "fix: sysctl -w net.bridge.bridge-nf-call-iptables=1"}) == 1);
    write_net_sysctl("net/bridge/bridge-nf-call-iptables", "1");
    report = doctor();
    INFO(report.out);
    CHECK(report.count("OK", {"br_netfilter is loaded and net.bridge.bridge-nf-call-iptables is 1"}) == 1);
    CHECK(report.count("WARN", {"bridge"}) == 0);
}

}  // namespace kt

namespace kt {

TEST_CASE_METHOD(FreshNetns, "doctor fails on table ip warren without its rules", "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    publish("web-1", "10.0.0.2", {"8080:80"});
    CHECK(doctor().count("OK", {"table ip warren has its chains, with their rules"}) == 1);

    nft({"flush", "table", "ip", "warren"});  // keeps chains and elements, deletes every rule
    const auto before = ruleset();
    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 1);
    for (const char* chain : {"prerouting", "output", "postrouting", "forward"})
        CHECK(report.count("FAIL", {"chain ip warren " + std::string(chain) + " lacks its fixed rules",
                                    "; fix: publish any task's ports again (the same ports are enough)"}) == 1);
    CHECK(report.count("OK", {"table ip warren has its chains"}) == 0);
    CHECK(ruleset() == before);  // diagnosed, not repaired

    publish("web-1", "10.0.0.2", {"8080:80"});  // the same ports again, as the doctor says
    report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("OK", {"with their rules"}) == 1);
}

}  // namespace kt

namespace kt {

TEST_CASE_METHOD(FreshNetns, "doctor compares the addresses of DNAT rules with ports published on one address", "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    sandbox::add_loopback_addresses({"192.0.2.1"});
    publish("web-1", "10.0.0.2", {"192.0.2.1:8080:80", "9090:90"});
    nft_script(
        "table ip foo {\n chain pre {\n  type nat hook prerouting priority 100;\n"
        "  ip daddr 192.0.2.1 tcp dport 8080 dnat to 10.9.9.1 comment \"same address\"\n"
        "  ip daddr 192.0.2.0/24 tcp dport 8080 dnat to 10.9.9.3 comment \"its network\"\n"
        "  ip daddr 198.51.100.7 tcp dport 8080 dnat to 10.9.9.2 comment \"another address\"\n"
        "  ip daddr != 192.0.2.1 tcp dport 8080 dnat to 10.9.9.4 comment \"all but it\"\n"
        "  ip daddr 192.0.2.1 tcp dport 9090 dnat to 10.9.9.5 comment \"one address of all\"\n"
        " }\n}\n");
    std::map<std::string, std::string> handles;  // comment -> "handle N"
    const auto chain = nlohmann::json::parse(nft({"-j", "list", "chain", "ip", "foo", "pre"}));
    for (const auto& object : chain.at("nftables"))
        if (object.contains("rule"))
            handles[object["rule"]["comment"].get<std::string>()] = "handle " + object["rule"]["handle"].dump();
    REQUIRE(handles.size() == 5);

    const auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    const auto bound = "DNATs every new connection to tcp port 8080 on 192.0.2.1 (task web-1);";
    CHECK(report.count("WARN", {"rule ip foo pre " + handles["same address"] + " ", bound}) == 1);
    CHECK(report.count("WARN", {"rule ip foo pre " + handles["its network"] + " ", bound}) == 1);
    CHECK(report.count("WARN", {"rule ip foo pre " + handles["one address of all"] + " ",
                                "DNATs new connections to tcp port 9090 (task web-1) that also match ip daddr 192.0.2.1"}) == 1);
    CHECK(report.count("WARN", {"rule ip foo pre " + handles["another address"] + " "}) == 0);
    CHECK(report.count("WARN", {"rule ip foo pre " + handles["all but it"] + " "}) == 0);
    CHECK(report.count("WARN", {"rule ip foo "}) == 3);
}

}  // namespace kt

namespace kt {
namespace {

// Publishes, as the doctor's fixes end, and expects the doctor content.
void publish_and_expect_no_failure()
{
    publish("web-1", "10.0.0.2", {"8080:80"});
    const auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("FAIL", {}) == 0);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "doctor fails on a dormant table and a chain with policy drop, which publishing repairs",
                 "[cli][doctor][adopt]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    publish("web-1", "10.0.0.2", {"8080:80"});
    nft({"add", "table", "ip", "warren", "{ flags dormant; }"});
    nft({"chain", "ip", "warren", "forward", "{ policy drop; }"});
    const auto before = ruleset();
    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 1);
    const auto dormant = report.matching("FAIL", {"table ip warren is dormant (flags dormant): its chains hook nothing, so "
                                                  "no published port works; fix: nft add table ip warren (which wakes "
                                                  "it; so does the next warren-nft publish)"});
    REQUIRE(dormant.size() == 1);
    CHECK(report.count("FAIL", {"chain ip warren forward has policy drop: it drops every packet of its hook that no rule "
                                "accepts, the host's own traffic included; fix: nft chain ip warren forward '{ policy "
                                "accept; }', or publish any task's ports again"}) == 1);
    CHECK(report.count("WARN", {"chain ip warren forward"}) == 0);  // the FAIL says it
    CHECK(report.count("OK", {"1 port(s) published"}) == 1);        // a publisher adopts it
    CHECK(ruleset() == before);                                     // diagnosed, not repaired

    // The fix as printed wakes the table.
    check_output(Command{fix_command(dormant.front()), {}, nullptr, {}});
    CHECK_THAT(warren_table(), !Catch::Contains("dormant"));
    report = doctor();
    INFO(report.out);
    CHECK(report.count("FAIL", {"dormant"}) == 0);
    CHECK(report.count("FAIL", {"policy drop"}) == 1);

    publish_and_expect_no_failure();  // the same ports again, as the doctor says
}

TEST_CASE_METHOD(FreshNetns, "doctor fails on sets a publisher refuses, with the fix that works", "[cli][doctor][adopt]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    const std::string ports_type = "type inet_proto . inet_service : ipv4_addr . inet_service; ";
    const std::string backends_type = "type ipv4_addr . inet_proto . inet_service; ";
    const bool constant = GENERATE(false, true);
    if (constant)
        nft_script("table ip warren {\n\tmap ports { " + ports_type + "flags constant; }\n}\n");
    else
        nft_script(
            "table ip warren {\n"
            "\tmap ports { " +
            ports_type +
            "flags timeout; timeout 2s; size 2; }\n"
            "\tmap bound_ports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; "
            "flags interval; }\n"
            "\tset backends { " +
            backends_type +
            "flags dynamic; }\n"
            // Not ours: no concern of a publisher.
            "\tset other { " +
            backends_type +
            "flags timeout; }\n"
            "}\n");
    const auto before = ruleset();
    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 1);
    const std::string refused =
        ", so warren-nft refuses to publish into it; fix: nft delete table ip warren (which "
        "deletes every port published in it), then publish every task's ports again";
    std::vector<std::string> expected;
    if (constant) {
        expected = {"map ip warren ports has flags constant: the kernel refuses to add or delete its elements"};
    } else {
        expected = {"map ip warren ports has flags timeout: its elements would expire",
                    "map ip warren ports has size 2: the kernel takes no more than 2 elements",
                    "map ip warren bound_ports has flags interval: its elements are ranges of keys, not the single "
                    "ports warren-nft writes",
                    "set ip warren backends has flags dynamic: rules may add elements to it that no task published"};
    }
    for (const auto& line : expected)
        CHECK(report.count("FAIL", {line, refused}) == 1);
    CHECK(report.count("FAIL", {"refuses to publish"}) == expected.size());
    CHECK(report.count("FAIL", {"nf_tables cannot be used"}) == 0);  // not the publisher's refusal as a failure
    CHECK(ruleset() == before);

    // The fix as printed, then a publish, and the doctor is content.
    const auto fix = report.matching("FAIL", {"refuses to publish"});
    REQUIRE_FALSE(fix.empty());
    check_output(Command{fix_command(fix.front()), {}, nullptr, {}});
    publish_and_expect_no_failure();
}

TEST_CASE_METHOD(FreshNetns, "doctor fails on a table owned by another process", "[cli][doctor][adopt]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    OwnedTable owned;
    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 1);
    // The library names the owner by its netlink port id (the kernel reports no more).
    CHECK(report.count("FAIL", {"table ip warren is owned by another process (netlink port id ",
                                "): only that process may change it, so warren-nft refuses to publish into it; fix: "
                                "stop that process or have it delete the table (the kernel deletes it when the process "
                                "closes its netlink socket; `ss -f netlink -p` names the process with port id ",
                                "), then publish again"}) == 1);
    CHECK(report.count("FAIL", {"nf_tables cannot be used"}) == 0);

    owned.release();
    publish_and_expect_no_failure();
}

}  // namespace kt

namespace kt {

TEST_CASE_METHOD(FreshNetns, "doctor names ownerless elements and missing backends elements, with their fixes",
                 "[cli][doctor][inspect]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    const auto published = warren_nft({"publish", "--counters", "--task", "web-1", "--ip", "10.0.0.2", "-p", "8080:80"});
    REQUIRE(published.exit_code == 0);
    nft({"add", "element", "ip", "warren", "ports", "{ tcp . 9100 : 10.99.0.9 . 80 }"});
    nft({"delete", "element", "ip", "warren", "backends", "{ 10.0.0.2 . tcp . 80 }"});
    const auto before = ruleset();
    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 1);
    const auto ownerless =
        report.matching("WARN", {"host port tcp . 9100 of table ip warren leads to 10.99.0.9:80 but names no task"});
    REQUIRE(ownerless.size() == 1);
    CHECK(report.count("FAIL", {"set ip warren backends lacks 10.0.0.2:80/tcp",
                                "; fix: publish any task's ports again (the same ports are enough): the change adds it"}) == 1);
    CHECK(ruleset() == before);  // diagnosed, not repaired

    // Both fixes as printed: the command after "if no program of yours added it: ", and a publish.
    const auto text = ownerless.front();
    const auto command = text.substr(text.find("added it: ") + 10);
    std::istringstream words(command);
    std::vector<std::string> argv;
    for (std::string word; words >> word;)
        argv.push_back(word);
    check_output(Command{argv, {}, nullptr, {}});
    publish_and_expect_no_failure();
    report = doctor();
    CHECK(report.count("WARN", {"names no task"}) == 0);
}

TEST_CASE_METHOD(FreshNetns, "doctor --json prints the checks as one JSON object, each fix apart", "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    publish("web-1", "10.0.0.2", {"8080:80"});
    nft({"flush", "chain", "ip", "warren", "forward"});
    const auto result = warren_nft({"doctor", "--json"});
    INFO(result.out);
    CHECK(result.exit_code == 1);
    const auto report = nlohmann::json::parse(result.out);
    CHECK(report.at("failed") == true);
    std::size_t flushed = 0;
    for (const auto& check : report.at("checks")) {
        const auto level = check.at("level").get<std::string>();
        CHECK((level == "OK" || level == "WARN" || level == "FAIL"));
        if (level != "OK")
            CHECK_FALSE(check.value("fix", "").empty());
        if (level == "FAIL" && check.at("text").get<std::string>().starts_with("chain ip warren forward lacks its fixed rules"))
            ++flushed;
    }
    CHECK(flushed == 1);
}

}  // namespace kt

namespace kt {

TEST_CASE_METHOD(FreshNetns, "doctor warns about a port published on an address the host no longer has, with the fix that works",
                 "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    sandbox::add_loopback_addresses({"192.0.2.1"});
    publish("web-1", "10.0.0.2", {"192.0.2.1:8080:80", "9090:90"});
    auto report = doctor();
    INFO(report.out);
    CHECK(report.count("OK", {"1 port(s) published on one host address: this host has each address"}) == 1);

    check_output({"ip", "addr", "del", "192.0.2.1/32", "dev", "lo"});
    report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);  // a WARN: the address may come back
    const auto lines = report.matching(
        "WARN",
        {"no interface of this host has address 192.0.2.1, so nothing reaches tcp port 8080 (task web-1) published on it"});
    REQUIRE(lines.size() == 1);
    CHECK(report.count("WARN", {"9090"}) == 0);

    // The fix as printed, with the interface the address was on.
    auto fix = command_after(lines[0], "fix: add the address to an interface (");
    REQUIRE(fix.back() == "IFACE");
    fix.back() = "lo";
    check_output(fix);
    report = doctor();
    INFO(report.out);
    CHECK(report.count("WARN", {"no interface of this host has address"}) == 0);
    CHECK(report.count("OK", {"1 port(s) published on one host address"}) == 1);
}

TEST_CASE_METHOD(FreshNetns, "doctor warns about a port published with --skip-address-check", "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    const std::vector<std::string> args{
        "publish", "--task", "vip", "--ip", "10.0.0.3", "--skip-address-check", "-p", "198.51.100.7:443:443"};
    const auto result = warren_nft(args);
    INFO(result.describe(args));
    REQUIRE(result.exit_code == 0);
    const auto report = doctor();
    INFO(report.out);
    CHECK(report.count("WARN", {"no interface of this host has address 198.51.100.7", "tcp port 443 (task vip)",
                                "fix: add the address to an interface (ip addr add 198.51.100.7/32 dev IFACE)"}) == 1);
    // The same line in --json, its fix apart.
    const auto json = warren_nft({"doctor", "--json"});
    INFO(json.out);
    const auto parsed = nlohmann::json::parse(json.out);  // kept: the loop iterates into it
    std::size_t found = 0;
    for (const auto& check : parsed.at("checks"))
        if (check.at("level") == "WARN" &&
            check.at("text").get<std::string>().starts_with("no interface of this host has address 198.51.100.7")) {
            ++found;
            CHECK(check.at("fix") ==
                  "add the address to an interface (ip addr add 198.51.100.7/32 dev IFACE), or publish the task again on an "
                  "address the host has");
        }
    CHECK(found == 1);
}

}  // namespace kt

namespace kt {

namespace {

// Forwarding on, and bridge br-doc (10.77.0.1/24) with one port, veth-doc, whose peer stands for a
// container's interface; hairpin mode on that port as asked.
void bridge_with_container_port(bool hairpin)
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"ip", "link", "add", "br-doc", "type", "bridge"},
          {"ip", "addr", "add", "10.77.0.1/24", "dev", "br-doc"},
          {"ip", "link", "add", "veth-doc", "type", "veth", "peer", "name", "veth-doc-c"},
          {"ip", "link", "set", "veth-doc", "master", "br-doc"},
          {"ip", "link", "set", "br-doc", "up"}})
        check_output(command);
    if (hairpin)
        check_output({"bridge", "link", "set", "dev", "veth-doc", "hairpin", "on"});
}

}  // namespace

TEST_CASE_METHOD(FreshNetns,
                 "doctor warns about a bridge port without hairpin mode where a published container is, and its fix works",
                 "[cli][doctor][hairpin]")
{
    bridge_with_container_port(false);
    publish("web-1", "10.77.0.2", {"8080:80"});

    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    const auto lines = report.matching(
        "WARN",
        {"bridge br-doc holds published containers (10.77.0.2 (task web-1)) and its port(s) veth-doc have hairpin mode off"});
    REQUIRE(lines.size() == 1);
    const auto fix = fix_command(lines[0]);
    REQUIRE(fix == std::vector<std::string>{"bridge", "link", "set", "dev", "veth-doc", "hairpin", "on"});
    check_output(fix);
    // The kernel's bridge port has hairpin mode now (sysfs may belong to another namespace: ask rtnetlink).
    const auto link = nlohmann::json::parse(check_output({"bridge", "-j", "-d", "link", "show", "dev", "veth-doc"}));
    REQUIRE(link.is_array());
    REQUIRE(link.size() == 1);
    CHECK(link[0].at("hairpin") == true);

    report = doctor();
    INFO(report.out);
    CHECK(report.count("WARN", {"hairpin"}) == 0);
    CHECK(report.count("OK", {"every port of the 1 bridge(s) holding published containers has hairpin mode on"}) == 1);

    // A task elsewhere: no bridge holds it.
    const auto args = std::vector<std::string>{"unpublish", "--task", "web-1"};
    REQUIRE(warren_nft(args).exit_code == 0);
    publish("db", "10.78.0.2", {"5432:5432"});
    report = doctor();
    INFO(report.out);
    CHECK(report.count("OK", {"no bridge of this host holds a published container's address"}) == 1);
}

}  // namespace kt

namespace kt {

TEST_CASE_METHOD(FreshNetns, "doctor warns about a published port over a socket the host listens on since", "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    publish("web-1", "10.0.0.2", {"18090:80", "18091:80"});
    auto report = doctor();
    INFO(report.out);
    CHECK(report.count("OK", {"no published port takes the connections of a listening socket of the host"}) == 1);

    // Publishing refuses a port a socket listens on; one that starts listening afterwards is shadowed.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(18090);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    report = doctor();
    ::close(fd);
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("WARN", {"tcp port 18090 (task web-1) is published over the host's tcp socket listening on 0.0.0.0:18090",
                                "fix: stop the program that listens there"}) == 1);
    CHECK(report.count("WARN", {"18091"}) == 0);
}

}  // namespace kt

namespace kt {

TEST_CASE_METHOD(FreshNetns, "doctor warns about a backends element no published port leads to, and publishing removes it",
                 "[cli][doctor][inspect]")
{
    write_net_sysctl("net/ipv4/ip_forward", "1");
    const auto published = warren_nft({"publish", "--counters", "--task", "web-1", "--ip", "10.0.0.2", "-p", "8080:80"});
    REQUIRE(published.exit_code == 0);
    nft({"add", "element", "ip", "warren", "backends", "{ 10.0.0.9 . tcp . 81 }"});
    const auto before = ruleset();
    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);  // a WARN: traffic works
    CHECK(report.count("WARN", {"set ip warren backends holds 10.0.0.9:81/tcp, where no published port leads",
                                "; fix: publish any task's ports again (the same ports are enough): the change removes it"}) ==
          1);
    CHECK(ruleset() == before);  // diagnosed, not repaired

    publish_and_expect_no_failure();  // the fix as printed
    report = doctor();
    INFO(report.out);
    CHECK(report.count("WARN", {"where no published port leads"}) == 0);
    CHECK(nft({"list", "set", "ip", "warren", "backends"}).find("10.0.0.9") == std::string::npos);
}

}  // namespace kt

namespace kt {

TEST_CASE_METHOD(FreshNetns,
                 "doctor finds nothing wrong with an ingress service beside a task, and names the service in what concerns it",
                 "[cli][doctor][ingress]")
{
    bridge_with_container_port(true);
    const std::vector<std::string> publish_web{
        "publish",      "--ingress", "--counters", "--task",    "web",           "-p",        "18080:80",    "-p",
        "18053:53/udp", "--backend", "10.77.0.5",  "--backend", "10.0.0.2:8080", "--backend", "[fd00::5]:80"};
    for (const auto& args :
         {std::vector<std::string>{"publish", "--counters", "--task", "db", "--ip", "10.0.0.2", "-p", "15432:5432"}, publish_web,
          std::vector<std::string>{"drain", "--task", "web", "--backend", "10.0.0.2"}}) {
        const auto result = warren_nft(args);
        INFO(result.describe(args));
        REQUIRE(result.exit_code == 0);
    }

    const auto before = ruleset();
    auto report = doctor();
    INFO(report.out);
    CHECK(report.status == 0);
    CHECK(report.count("FAIL", {}) == 0);
    // Nothing of the service is a problem: no claim as an ownerless element or a DNAT to 0.0.0.0, no
    // record or backends element as stale or missing; and nft lists the ruleset, its slot map too.
    for (const char* word : {"web", "ingress", "18080", "18053", "0.0.0.0", "10.77.0.5", "fd00::5", "backends", "cannot read"})
        CHECK(report.count("WARN", {word}) == 0);
    CHECK(report.count("OK",
                       {"table ip warren has its chains", "it publishes 3 port(s) of 1 task(s) and 1 ingress service(s)"}) == 1);
    CHECK(report.count("OK",
                       {"table ip6 warren has its chains", "it publishes 2 port(s) of 0 task(s) and 1 ingress service(s)"}) == 1);
    CHECK(report.count("OK", {"every port of the 1 bridge(s) holding published containers has hairpin mode on"}) == 1);
    CHECK(report.count("OK", {"no DNAT or redirect rule outside table ip warren matches a published port"}) == 1);
    CHECK(ruleset() == before);

    // Hairpin mode: the bridge holds a backend, not a claim.
    check_output({"bridge", "link", "set", "dev", "veth-doc", "hairpin", "off"});
    // A socket on the service's port, and another table's DNAT of it before warren's.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(18080);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    nft_script(
        "table ip foo {\n chain pre {\n  type nat hook prerouting priority -150;\n  tcp dport 18080 dnat to 10.9.9.9\n }\n}\n");
    report = doctor();
    ::close(fd);
    INFO(report.out);
    CHECK(report.status == 1);
    CHECK(report.count("WARN", {"bridge br-doc holds published containers (10.77.0.5 (ingress service web))",
                                "fix: bridge link set dev veth-doc hairpin on"}) == 1);
    CHECK(report.count("WARN", {"tcp port 18080 (ingress service web) is published over the host's tcp socket listening on "
                                "0.0.0.0:18080"}) == 1);
    CHECK(report.count("FAIL",
                       {"rule ip foo pre handle", "DNATs every new connection to tcp port 18080 (ingress service web)"}) == 1);
    CHECK(report.count("FAIL", {}) == 1);
}

}  // namespace kt
