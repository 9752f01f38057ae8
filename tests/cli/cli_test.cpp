// SPDX-License-Identifier: Apache-2.0
// The real warren-nft binary, run inside the test's fresh network namespace: what it publishes is
// what nft shows, and bad arguments are refused with the documented exit status and change nothing.
#include "cli_support.hpp"
#include "dual_stack_topology.hpp"
#include "hostile_comments.hpp"
#include "netns.hpp"
#include "nft_state.hpp"
#include "printable.hpp"
#include "process.hpp"
#include "traffic.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace kt {
namespace {

using nlohmann::json;
using warren::nft::printable;
using warren::nft::quote;

// What `list` prints when nothing is published: the header alone.
const std::string empty_list = "TASK  FAMILY  HOST  PORT  CONTAINER  NAME  PACKETS  BYTES  ACCESS\n";

// The ports of `list --json` of one family ("ipv4", "ipv6") as nft would show them, sorted.
std::vector<KernelPort> as_kernel_ports(const json& list, const std::string& family = "ipv4")
{
    std::vector<KernelPort> ports;
    for (const auto& port : list) {
        REQUIRE(port.size() == 13);
        if (port.at("family") != family)
            continue;
        const auto name = port.at("name").get<std::string>();
        ports.push_back(KernelPort{port.at("protocol").get<std::string>(), port.at("host_port").get<long>(),
                                   port.at("container_ip").get<std::string>(), port.at("container_port").get<long>(),
                                   "task=" + port.at("task").get<std::string>() + (name.empty() ? "" : " name=" + name),
                                   port.at("host_ip").get<std::string>()});
    }
    std::sort(ports.begin(), ports.end());
    return ports;
}

struct BadCall {
    std::vector<std::string> args;
    int status;
    std::vector<std::string> words;  // the message names these
};

std::vector<BadCall> bad_calls()
{
    const std::string ip = "10.0.0.9";
    const std::string ip6 = "fd00::9";
    std::vector<std::string> too_many_ports{"publish", "--task", "t", "--ip", ip};
    for (int port = 1; port <= 513; ++port)
        too_many_ports.insert(too_many_ports.end(), {"-p", std::to_string(port) + ":80"});
    return {
        {{"publish", "--task", "t", "--ip", ip, "-p", ""}, 2, {"-p \"\": ", "container port", "missing"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "1:2:3:4"}, 2, {"\"1:2:3:4\"", "[[HOST_IP:]HOST_PORT:]CONTAINER_PORT"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "http:80"}, 2, {"host port \"http\"", "not a number", "1 to 65535"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:"}, 2, {"container port", "missing"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "+80:80"}, 2, {"host port \"+80\"", "not a number"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "0-2:80-82"}, 2, {"-p \"0-2:80-82\": ", "starts at 0"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:0"}, 2, {"-p \"8080:0\": ", "container port 0", "1-65535"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "70000:80"}, 2, {"host port \"70000\"", "out of range"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:70000"}, 2, {"container port \"70000\"", "out of range"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "99999999999999999999:80"}, 2, {"out of range"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80/icmp"}, 2, {"unknown protocol \"icmp\"", "tcp, udp or sctp"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80/TCP"}, 2, {"unknown protocol \"TCP\""}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "nohost:8080:80"}, 2, {"-p \"nohost:8080:80\": ", "host IP \"nohost\""}},
        {{"publish", "--task", "t", "--ip", ip, "--ip", ip6, "-p", "[::1]:8080:80"}, 2, {"-p \"[::1]:8080:80\": ", "\"::1\""}},
        {{"publish", "--task", "t", "--ip", ip, "--ip", ip6, "-p", "[fe80::1]:8080:80"},
         2,
         {"-p \"[fe80::1]:8080:80\": ", "\"fe80::1\""}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "224.0.0.1:8080:80"}, 2, {"-p \"224.0.0.1:8080:80\": ", "\"224.0.0.1\""}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "10.1.2.3:8080:80", "-p", "8080:81"}, 2, {"-p: ", "8080/tcp", "10.1.2.3"}},
        // A host address of a family the container has no address of.
        {{"publish", "--task", "t", "--ip", ip, "-p", "[::]:8080:80"}, 2, {"-p \"[::]:8080:80\": ", "no IPv6 address", "--ip"}},
        {{"publish", "--task", "t", "--ip", ip6, "-p", "0.0.0.0:8080:80"}, 2, {"-p \"0.0.0.0:8080:80\": ", "no IPv4 address"}},
        {{"publish", "--task", "t", "--ip", ip6, "-p", "10.0.0.1:8080:80"}, 2, {"no IPv4 address"}},
        // docker's syntax: ranges and brackets.
        {{"publish", "--task", "t", "--ip", ip, "-p", "8000-8002:9000-9001"},
         2,
         {"-p \"8000-8002:9000-9001\": ", "ranges must have the same length: 8000-8002 has 3 ports, 9000-9001 has 2 ports"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8002-8000:9000-9002/udp"},
         2,
         {"range \"8002-8000\" is reversed", "8000-8002"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "1-600:1-600"}, 2, {"-p \"1-600:1-600\": ", "600 ports", "at most 512"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8000-8300:9000-9300", "-p", "1-300:1-300"},
         2,
         {"-p: ", "601 ports", "at most 512"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8000-8002:9000-9002", "-p", "8001:80"}, 2, {"-p: ", "8001/tcp", "twice"}},
        {{"publish", "--task", "t", "--ip", ip, "--ip", ip6, "-p", "2001:db8::10:8080:80"},
         2,
         {"IPv6 host address \"2001:db8::10\" must be in brackets", "\"[2001:db8::10]:8080:80\""}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "[::]8080:80"}, 2, {"followed by ':'"}},
        // What the user typed comes back escaped and cut short, on one line.
        {{"publish", "--task", "t", "--ip", ip, "-p", "80:80/\x1b[2J\n\xff"},
         2,
         {"\"80:80/\\x1b[2J\\x0a\\xff\"", "unknown protocol"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", std::string(3000, '7') + ":80"},
         2,
         {"\" (cut short, 3003 bytes)", "out of range"}},
        {{"publish", "--task", "t", "--ip", "10.0.0.300", "-p", "8080:80"}, 2, {"--ip: ", "\"10.0.0.300\""}},
        {{"publish", "--task", "t", "--ip", "container", "-p", "8080:80"}, 2, {"--ip: ", "\"container\""}},
        {{"publish", "--task", "t", "--ip", "127.0.0.1", "-p", "8080:80"}, 2, {"--ip: ", "\"127.0.0.1\""}},
        // An address with a port is said to be one, not taken for IPv6 because of its ':'.
        {{"publish", "--task", "t", "--ip", "10.88.0.5:80", "-p", "8080:80"},
         2,
         {"--ip: container IP \"10.88.0.5:80\" is an IPv4 address with a port; give the address alone (10.88.0.5)"}},
        {{"publish", "--task", "t", "--ip", "[fd00::5]:80", "-p", "8080:80"}, 2, {"--ip: ", "has brackets and a port"}},
        {{"publish", "--task", "t", "--ip", "10.88.0.5", "--ip", "10.88.0.6:80", "-p", "8080:80"},
         2,
         {"\"10.88.0.6:80\" is an IPv4 address with a port"}},
        // A port on 127.0.0.1 needs the interface towards the container, and here there is none.
        {{"publish", "--task", "t", "--ip", ip, "-p", "127.0.0.1:8080:80"}, 1, {"10.0.0.9", "no route to the container"}},
        {{"publish", "--task", "t", "--ip", "::1", "-p", "8080:80"}, 2, {"--ip: ", "\"::1\""}},
        {{"publish", "--task", "t", "--ip", ip, "--ip", "10.0.0.8", "-p", "8080:80"},
         2,
         {"--ip: \"10.0.0.9\" and \"10.0.0.8\" are both IPv4 addresses", "at most one IPv4 and one IPv6"}},
        {{"publish", "--task", "t", "--ip", ip6, "--ip", ip, "--ip", "fd00::8", "-p", "8080:80"},
         2,
         {"--ip: \"fd00::9\" and \"fd00::8\" are both IPv6 addresses"}},
        {{"publish", "--task", "t", "--ip", "", "-p", "8080:80"}, 2, {"--ip: "}},
        {{"publish", "--task", "t", "--ip", "0.0.0.0", "-p", "8080:80"}, 2, {"--ip: ", "\"0.0.0.0\"", "unspecified"}},
        {{"publish", "--ip", ip, "-p", "8080:80"}, 2, {"publish needs --task ID"}},
        {{"publish", "--task", "t", "-p", "8080:80"}, 2, {"publish needs --ip CONTAINER_IP"}},
        {{"publish", "--task", "t", "--ip", ip}, 2, {"publish needs -p/--publish SPEC"}},
        {{"publish", "--task", "", "--ip", ip, "-p", "8080:80"}, 2, {"--task: ", "empty"}},
        {{"publish", "--task", "a b", "--ip", ip, "-p", "8080:80"}, 2, {"--task: ", "\"a b\"", "only letters, digits"}},
        {{"publish", "--task", std::string(65, 'x'), "--ip", ip, "-p", "8080:80"}, 2, {"--task: ", "at most 64"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--name", "a\"b"},
         2,
         {"--name: ", "port name", "only letters, digits"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "-p", "8080:81/tcp"}, 2, {"-p: ", "8080/tcp", "twice"}},
        {too_many_ports, 2, {"-p: ", "513 ports", "at most 512"}},
        // Access policies: each option named, with what would be right.
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--allow", "10.0.0.0/33"}, 2, {"--allow: ", "\"10.0.0.0/33\""}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--allow", "everyone"}, 2, {"--allow: ", "\"everyone\""}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--allow", ""}, 2, {"--allow: "}},
        {{"publish", "--task", "t", "--ip", ip, "--ip", ip6, "-p", "8080:80", "--allow", "10.0.0.0/8"},
         2,
         {"--allow: ", "\"8080:80\"", "IPv6", "::/0"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--max-connections", "ten"},
         2,
         {"--max-connections: ", "\"ten\"", "not a number", "1 to 1000000"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--max-connections", "-1"}, 2, {"--max-connections"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--max-connections", "1000001"},
         2,
         {"--max-connections: ", "out of range"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--rate", "5"}, 2, {"--rate: ", "\"5\"", "N/second"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--rate", "5/sec"}, 2, {"--rate: ", "\"5/sec\"", "N/minute"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--rate", "fast/second"}, 2, {"--rate: ", "not a number"}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--rate", "99999999999/hour"}, 2, {"--rate: ", "out of range"}},
        // Refused before the kernel is asked: --counters does not make the table count either.
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:70000", "--counters"}, 2, {"container port \"70000\""}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--bogus"},
         2,
         {"unknown option \"--bogus\" for warren-nft publish"}},
        {{"unpublish"}, 2, {"unpublish needs --task ID"}},
        {{"unpublish", "--task", "a;b"}, 2, {"--task: ", "\"a;b\"", "only letters, digits"}},
        {{"unpublish", "--task", "t", "--counters"}, 2, {"--counters"}},  // only publish turns counting on
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--masquerade", "sometimes"},
         2,
         {"--masquerade: \"sometimes\" is no masquerading mode", "always", "when-needed"}},
        {{"list", "--masquerade", "always"}, 2, {"--masquerade"}},
        {{"list", "--task", ""}, 2, {"--task", "empty"}},
        {{"list", "--counters"}, 2, {"--counters"}},
        {{"watch", "--bogus"}, 2, {"--bogus", "warren-nft watch --help"}},
        {{"watch", "--task", "t"}, 2, {"--task"}},
        {{"watch", "now"}, 2, {"unexpected argument \"now\" for warren-nft watch"}},
        {{"frobnicate"},
         2,
         {"unknown command \"frobnicate\"", "publish, unpublish, drain, list, metrics, flush, doctor or watch"}},
        {{"frob\x1bnicate"}, 2, {"unknown command \"frob\\x1bnicate\""}},
        {{"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--bo\x07gus"}, 2, {"--bo\\x07gus"}},
        {{}, 2, {"a command is required"}},
        {{"flush"}, 2, {"--yes"}},
    };
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "publish, list and unpublish round trip", "[cli]")
{
    cli_ok({"publish", "--task", "web-1", "--ip", "10.0.0.2", "-p", "8080:80", "-p", "0.0.0.0:8443:443/tcp", "-p", "5353:53/udp",
            "--name", "web"});
    cli_ok({"publish", "--task", "db", "--ip", "10.0.0.3", "-p", "5432:5432", "-p", "9000:9000/sctp"});

    const auto all = list_json();
    REQUIRE(all.size() == 5);
    const auto web = list_json({"--task", "web-1"});
    REQUIRE(web.size() == 3);
    // Published without --counters: the table does not count, so there are no counters to show.
    CHECK_FALSE(kernel_has_backends());
    // 0.0.0.0 is every IPv4 address, which for a container with only an IPv4 address is every address.
    CHECK(
        web[0] ==
        json::parse(
            R"({"task":"web-1","protocol":"tcp","host_port":8080,"container_ip":"10.0.0.2",)"
            R"("container_port":80,"name":"web","packets":null,"bytes":null,"host_ip":"",)"
            R"("family":"ipv4","access":{"allow":[],"max_connections":0,"rate":0,"rate_unit":"second"},"mode":"host","backends":[]})"));
    CHECK(
        web[1] ==
        json::parse(
            R"({"task":"web-1","protocol":"tcp","host_port":8443,"container_ip":"10.0.0.2",)"
            R"("container_port":443,"name":"web","packets":null,"bytes":null,"host_ip":"",)"
            R"("family":"ipv4","access":{"allow":[],"max_connections":0,"rate":0,"rate_unit":"second"},"mode":"host","backends":[]})"));
    CHECK(
        web[2] ==
        json::parse(
            R"({"task":"web-1","protocol":"udp","host_port":5353,"container_ip":"10.0.0.2",)"
            R"("container_port":53,"name":"web","packets":null,"bytes":null,"host_ip":"",)"
            R"("family":"ipv4","access":{"allow":[],"max_connections":0,"rate":0,"rate_unit":"second"},"mode":"host","backends":[]})"));
    // Keys in the documented order.
    CHECK(cli_ok({"list", "--json", "--task", "db"}).find(R"("task": "db",
    "protocol": "sctp")") != std::string::npos);

    const auto table = cli_ok({"list"});
    INFO(table);
    // Ordered by protocol and host port; columns aligned; no trailing blanks; "-" for no counters.
    CHECK(table ==
          "TASK   FAMILY  HOST  PORT       CONTAINER      NAME  PACKETS  BYTES  ACCESS\n"
          "db     ipv4    *     5432/tcp   10.0.0.3:5432              -      -  -\n"
          "web-1  ipv4    *     8080/tcp   10.0.0.2:80    web         -      -  -\n"
          "web-1  ipv4    *     8443/tcp   10.0.0.2:443   web         -      -  -\n"
          "web-1  ipv4    *     5353/udp   10.0.0.2:53    web         -      -  -\n"
          "db     ipv4    *     9000/sctp  10.0.0.3:9000              -      -  -\n");
    CHECK(std::count(table.begin(), table.end(), '\n') == 6);

    // Publishing again replaces the task's ports.
    cli_ok({"publish", "--task", "db", "--ip", "10.0.0.3", "-p", "5433:5432"});
    CHECK(list_json({"--task", "db"}).size() == 1);

    cli_ok({"unpublish", "--task", "web-1"});
    CHECK(list_json({"--task", "web-1"}).empty());
    CHECK(list_json().size() == 1);
    cli_ok({"unpublish", "--task", "web-1"});  // idempotent
    cli_ok({"unpublish", "--task", "never-published"});
    cli_ok({"unpublish", "--task", "db"});
    CHECK(list_json().empty());
    CHECK(kernel_ports().empty());
    CHECK(cli_ok({"list"}) == empty_list);
}

TEST_CASE_METHOD(FreshNetns, "list and unpublish without a table create none", "[cli][lazy]")
{
    CHECK(cli_ok({"list"}) == empty_list);
    CHECK(list_json().empty());
    CHECK(list_json({"--task", "web-1"}).empty());
    cli_ok({"unpublish", "--task", "web-1"});
    cli_ok({"flush", "--yes"});
    CHECK(tables().empty());

    // Nor after the table was deleted: only the next publish brings it back.
    cli_ok({"publish", "--task", "web-1", "--ip", "10.0.0.2", "-p", "8080:80"});
    nft({"delete", "table", "ip", "warren"});
    CHECK(list_json().empty());
    cli_ok({"unpublish", "--task", "web-1"});
    CHECK(tables().empty());
    cli_ok({"publish", "--task", "web-1", "--ip", "10.0.0.2", "-p", "8080:80"});
    CHECK(list_json().size() == 1);
    CHECK(warren_chains().size() == 7);  // prerouting, output, postrouting, forward, guard, police, bound_police
}

TEST_CASE_METHOD(FreshNetns, "list shows the packet and byte counters of each port's destination", "[cli][counters]")
{
    const Topology net;
    EchoServer echo(net.container, Transport::tcp, 8080, "echo");
    cli_ok({"publish", "--task", "web-1", "--ip", Topology::container_ip, "-p", "18080:8080", "-p", "28080:8080", "-p",
            "5353:53/udp", "--counters"});
    CHECK(kernel_backends_counted());
    for (const auto& port : list_json()) {
        CHECK(port.at("packets") == 0);
        CHECK(port.at("bytes") == 0);
    }

    const auto reply = exchange(net.client, Transport::tcp, Topology::host_client_side_ip, 18080, "hello");
    INFO(reply.error);
    REQUIRE(reply.replied);
    const auto listed = list_json();  // tcp 18080, tcp 28080, udp 5353
    REQUIRE(listed.size() == 3);
    const auto kernel = kernel_backend_counters();  // 10.200.2.2 . tcp . 8080 sorts before udp
    REQUIRE(kernel.size() == 2);
    INFO(listed.dump());
    CHECK(listed[0].at("packets").get<long>() == kernel[0].packets);
    CHECK(listed[0].at("bytes").get<long>() == kernel[0].bytes);
    CHECK(kernel[0].packets > 0);
    // Both host ports lead to one destination and show its counters.
    CHECK(listed[1].at("packets") == listed[0].at("packets"));
    CHECK(listed[1].at("bytes") == listed[0].at("bytes"));
    CHECK(listed[2].at("packets") == 0);
    const auto table = cli_ok({"list"});
    INFO(table);
    CHECK(table.find(" " + std::to_string(kernel[0].packets) + "  ") != std::string::npos);
    CHECK(table.find(" " + std::to_string(kernel[0].bytes) + "  -\n") != std::string::npos);

    // A destination missing from the backends set (deleted by hand) has no counters to show.
    nft({"delete", "element", "ip", "warren", "backends", "{ 10.200.2.2 . udp . 53 }"});
    const auto damaged = list_json();
    CHECK(damaged[2].at("packets").is_null());
    CHECK(damaged[2].at("bytes").is_null());
    const auto text = cli_ok({"list", "--task", "web-1"});
    INFO(text);
    CHECK(line_words(text, "5353/udp") ==
          std::vector<std::string>{"web-1", "ipv4", "*", "5353/udp", "10.200.2.2:53", "-", "-", "-"});
}

TEST_CASE_METHOD(FreshNetns, "nft list table warren agrees with list --json", "[cli]")
{
    sandbox::add_loopback_addresses({"10.9.0.1", "10.9.0.2"});
    cli_ok(
        {"publish", "--task", "a", "--ip", "172.17.0.2", "-p", "80:8080", "-p", "53:53/udp", "-p", "7:7/sctp", "--name", "svc"});
    cli_ok({"publish", "--task", "b@node/1", "--ip", "172.17.0.3", "-p", "8081:80", "-p", "10.9.0.1:8443:443", "-p",
            "10.9.0.2:8443:444"});
    const auto listed = as_kernel_ports(list_json());
    const auto in_kernel = kernel_ports();
    CHECK(listed == in_kernel);
    REQUIRE(in_kernel.size() == 6);
    CHECK(std::count_if(in_kernel.begin(), in_kernel.end(), [](const KernelPort& p) { return p.host_ip == "10.9.0.1"; }) == 1);
    const auto text = warren_table();
    INFO(text);
    CHECK(text.find("task=a name=svc") != std::string::npos);
    CHECK(text.find("task=b@node/1") != std::string::npos);
    CHECK(text.find("10.9.0.1 . tcp . 8443 comment \"task=b@node/1\" : 172.17.0.3 . 443") != std::string::npos);

    // list names a bound port by its address; JSON has it in host_ip ("" for all addresses).
    const auto table = cli_ok({"list", "--task", "b@node/1"});
    INFO(table);
    CHECK(line_words(table, "172.17.0.3:443") ==
          std::vector<std::string>{"b@node/1", "ipv4", "10.9.0.1", "8443/tcp", "172.17.0.3:443", "-", "-", "-"});
    CHECK(line_words(table, "172.17.0.3:444") ==
          std::vector<std::string>{"b@node/1", "ipv4", "10.9.0.2", "8443/tcp", "172.17.0.3:444", "-", "-", "-"});
    CHECK(line_words(table, "172.17.0.3:80") ==
          std::vector<std::string>{"b@node/1", "ipv4", "*", "8081/tcp", "172.17.0.3:80", "-", "-", "-"});
    const auto json_b = list_json({"--task", "b@node/1"});
    REQUIRE(json_b.size() == 3);
    CHECK(json_b[0].at("host_ip") == "");
    CHECK(json_b[1].at("host_ip") == "10.9.0.1");
    CHECK(json_b[2].at("host_ip") == "10.9.0.2");
}

TEST_CASE_METHOD(FreshNetns, "a dual-stack task is published in both tables in one transaction and listed per family",
                 "[cli][ipv6]")
{
    sandbox::add_loopback_addresses({"10.9.0.1", "2001:db8::10", "2001:db8::11"});
    const auto log = monitor_transactions([] {
        cli_ok({"publish", "--task", "dual", "--ip", "10.0.0.2", "--ip", "fd00::2", "-p", "8080:80", "-p", "0.0.0.0:9090:90",
                "-p", "[::]:8443:443", "-p", "[2001:db8::10]:7070:70/udp", "-p", "10.9.0.1:5432:5432", "--name", "svc"});
    });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    CHECK(tables() == std::vector<std::string>{"ip warren", "ip6 warren"});

    // One entry per family a port is published in, ordered by protocol, host port and family:
    // 8080 (no HOST_IP) in both, 0.0.0.0 and an IPv4 address in IPv4 only, [::] and an IPv6 address
    // in IPv6 only.
    const auto listed = list_json();
    INFO(listed.dump(1));
    const auto entry = [](std::string family, std::string protocol, int host_port, std::string container_ip, int container_port,
                          std::string host_ip) {
        return json{{"task", "dual"},
                    {"protocol", protocol},
                    {"host_port", host_port},
                    {"container_ip", container_ip},
                    {"container_port", container_port},
                    {"name", "svc"},
                    {"packets", nullptr},
                    {"bytes", nullptr},
                    {"host_ip", host_ip},
                    {"family", family},
                    {"access", {{"allow", json::array()}, {"max_connections", 0}, {"rate", 0}, {"rate_unit", "second"}}},
                    {"mode", "host"},
                    {"backends", json::array()}};
    };
    CHECK(listed == json{entry("ipv4", "tcp", 5432, "10.0.0.2", 5432, "10.9.0.1"), entry("ipv4", "tcp", 8080, "10.0.0.2", 80, ""),
                         entry("ipv6", "tcp", 8080, "fd00::2", 80, ""), entry("ipv6", "tcp", 8443, "fd00::2", 443, ""),
                         entry("ipv4", "tcp", 9090, "10.0.0.2", 90, ""),
                         entry("ipv6", "udp", 7070, "fd00::2", 70, "2001:db8::10")});
    // The IPv4 half is what nft shows in table ip warren; the IPv6 half is in table ip6 warren, with
    // the same maps.
    CHECK(as_kernel_ports(listed, "ipv4") == kernel_ports());
    const auto ipv6_table = nft({"list", "table", "ip6", "warren"});
    INFO(ipv6_table);
    CHECK(ipv6_table.find("tcp . 8080 comment \"task=dual name=svc\" : fd00::2 . 80") != std::string::npos);
    CHECK(ipv6_table.find("tcp . 8443 comment \"task=dual name=svc\" : fd00::2 . 443") != std::string::npos);
    CHECK(ipv6_table.find("2001:db8::10 . udp . 7070 comment \"task=dual name=svc\" : fd00::2 . 70") != std::string::npos);
    CHECK(ipv6_table.find("9090") == std::string::npos);
    CHECK(ipv6_table.find("5432") == std::string::npos);
    CHECK(warren_table().find("8443") == std::string::npos);

    const auto table = cli_ok({"list"});
    INFO(table);
    CHECK(line_words(table, "[fd00::2]:443") ==
          std::vector<std::string>{"dual", "ipv6", "*", "8443/tcp", "[fd00::2]:443", "svc", "-", "-", "-"});
    CHECK(line_words(table, "[fd00::2]:70") ==
          std::vector<std::string>{"dual", "ipv6", "2001:db8::10", "7070/udp", "[fd00::2]:70", "svc", "-", "-", "-"});
    CHECK(line_words(table, "10.0.0.2:5432") ==
          std::vector<std::string>{"dual", "ipv4", "10.9.0.1", "5432/tcp", "10.0.0.2:5432", "svc", "-", "-", "-"});
    CHECK(std::count(table.begin(), table.end(), '\n') == 7);

    // [::] and 0.0.0.0 do not conflict with each other; an IPv6 address does with [::] (docker's rules).
    cli_ok({"publish", "--task", "other", "--ip", "10.0.0.3", "--ip", "fd00::3", "-p", "0.0.0.0:8443:443", "-p", "[::]:9090:90"});
    const auto with_other = ruleset();
    require_refused({"publish", "--task", "third", "--ip", "fd00::4", "-p", "[2001:db8::11]:8443:443"}, 1,
                    {"8443/tcp", "\"dual\""});
    CHECK(ruleset() == with_other);
    cli_ok({"unpublish", "--task", "other"});

    // Publishing again with one address replaces both families' ports in one transaction.
    const auto narrowed = monitor_transactions([] {
        cli_ok({"publish", "--task", "dual", "--ip", "10.0.0.2", "-p", "8080:80", "--name", "svc"});
    });
    CHECK(narrowed.generations == 1);
    CHECK(list_json() == json{entry("ipv4", "tcp", 8080, "10.0.0.2", 80, "")});
    CHECK(nft({"list", "table", "ip6", "warren"}).find("task=dual") == std::string::npos);

    cli_ok({"publish", "--task", "dual", "--ip", "fd00::2", "--ip", "10.0.0.2", "-p", "8080:80", "--name", "svc"});
    CHECK(list_json().size() == 2);
    cli_ok({"unpublish", "--task", "dual"});
    CHECK(list_json().empty());
    CHECK(kernel_ports().empty());
    CHECK(nft({"list", "table", "ip6", "warren"}).find("task=") == std::string::npos);
    CHECK(cli_ok({"list"}) == empty_list);

    // flush removes both tables.
    cli_ok({"publish", "--task", "dual", "--ip", "10.0.0.2", "--ip", "fd00::2", "-p", "8080:80"});
    cli_ok({"flush", "--yes"});
    CHECK(tables().empty());
}

TEST_CASE_METHOD(FreshNetns, "ports published with the CLI carry IPv6 and IPv4 traffic", "[cli][ipv6]")
{
    using Net = DualStackTopology;
    const Net net;
    EchoServer first(net.first, Transport::tcp, 80, "first");
    EchoServer first_udp(net.first, Transport::udp, 53, "first-udp");
    EchoServer second(net.second, Transport::tcp, 80, "second");
    const auto reply = [&](Transport transport, const std::string& ip, std::uint16_t port) {
        const auto got = exchange(net.client, transport, ip, port, "hi");
        return got.replied ? got.reply : "no reply: " + got.error;
    };
    cli_ok({"publish", "--task", "web", "--ip", Net::first_ip, "--ip", Net::first_ipv6, "-p", "8080:80", "-p", "5353:53/udp",
            "-p", "[::]:8443:80"});
    cli_ok({"publish", "--task", "api", "--ip", Net::second_ip, "--ip", Net::second_ipv6, "-p",
            "[" + std::string(Net::host_client_side_ipv6) + "]:9090:80", "-p", "0.0.0.0:8443:80"});

    // No HOST_IP: both families, TCP and UDP; the container sees the host's address (masqueraded).
    CHECK(reply(Transport::tcp, Net::host_client_side_ipv6, 8080) == "first:hi");
    CHECK(first.peers().back() == Net::host_bridge_ipv6);
    CHECK(reply(Transport::tcp, Net::host_client_side_ip, 8080) == "first:hi");
    CHECK(reply(Transport::udp, Net::host_client_side_ipv6, 5353) == "first-udp:hi");
    CHECK(reply(Transport::udp, Net::host_client_side_ip, 5353) == "first-udp:hi");
    // [::] and 0.0.0.0 of one port lead to two containers, one per family.
    CHECK(reply(Transport::tcp, Net::host_client_side_ipv6, 8443) == "first:hi");
    CHECK(reply(Transport::tcp, Net::host_client_side_ip, 8443) == "second:hi");
    // One IPv6 address: that address only, not the host's other one, nor IPv4.
    CHECK(reply(Transport::tcp, Net::host_client_side_ipv6, 9090) == "second:hi");
    CHECK(reply(Transport::tcp, Net::host_bridge_ipv6, 9090).starts_with("no reply"));
    CHECK(reply(Transport::tcp, Net::host_client_side_ip, 9090).starts_with("no reply"));
    CHECK(reply(Transport::tcp, Net::host_bridge_ipv6, 8080) == "first:hi");  // a wildcard port is there

    cli_ok({"unpublish", "--task", "web"});
    CHECK(reply(Transport::tcp, Net::host_client_side_ipv6, 8080).starts_with("no reply"));
    CHECK(reply(Transport::tcp, Net::host_client_side_ip, 8080).starts_with("no reply"));
    CHECK(reply(Transport::tcp, Net::host_client_side_ipv6, 9090) == "second:hi");
}

TEST_CASE_METHOD(FreshNetns, "a UDP flow follows its port to the new container when the CLI re-publishes it", "[cli][conntrack]")
{
    using Net = DualStackTopology;
    const Net net;
    EchoServer first(net.first, Transport::udp, 53, "first");
    EchoServer second(net.second, Transport::udp, 53, "second");
    cli_ok({"publish", "--task", "dns", "--ip", Net::first_ip, "--ip", Net::first_ipv6, "-p", "5353:53/udp"});
    // Clients that keep their source port: each is one conntrack flow.
    UdpFlow ipv4(net.client, Family::ipv4, 40053);
    UdpFlow ipv6(net.client, Family::ipv6, 40054);
    CHECK(ipv4.exchange(Net::host_client_side_ip, 5353, "a").reply == "first:a");
    CHECK(ipv6.exchange(Net::host_client_side_ipv6, 5353, "a").reply == "first:a");

    // Re-targeted: the CLI's publisher deletes the flows' entries before it exits, so the next
    // datagram of the same flow is DNATed anew.
    cli_ok({"publish", "--task", "dns", "--ip", Net::second_ip, "--ip", Net::second_ipv6, "-p", "5353:53/udp"});
    const auto after4 = ipv4.exchange(Net::host_client_side_ip, 5353, "b");
    INFO(after4.error);
    CHECK(after4.reply == "second:b");
    const auto after6 = ipv6.exchange(Net::host_client_side_ipv6, 5353, "b");
    INFO(after6.error);
    CHECK(after6.reply == "second:b");
}

TEST_CASE_METHOD(FreshNetns, "a task with only an IPv6 address", "[cli][ipv6]")
{
    cli_ok({"publish", "--task", "six", "--ip", "fd00::5", "-p", "8080:80", "-p", "[::]:53:5353/udp"});
    const auto listed = list_json();
    INFO(listed.dump(1));
    REQUIRE(listed.size() == 2);
    for (const auto& port : listed) {
        CHECK(port.at("family") == "ipv6");
        CHECK(port.at("container_ip") == "fd00::5");
        CHECK(port.at("host_ip") == "");
    }
    CHECK(listed[0].at("host_port") == 8080);
    CHECK(listed[1].at("protocol") == "udp");
    CHECK(list_json({"--task", "six"}) == listed);
    const auto ipv6_table = nft({"list", "table", "ip6", "warren"});
    INFO(ipv6_table);
    CHECK(ipv6_table.find("type inet_proto . inet_service : ipv6_addr . inet_service") != std::string::npos);
    CHECK(ipv6_table.find("type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service") != std::string::npos);
    CHECK(ipv6_table.find("udp . 53 comment \"task=six\" : fd00::5 . 5353") != std::string::npos);
    if (warren_table_exists())
        CHECK(kernel_ports().empty());
    cli_ok({"unpublish", "--task", "six"});
    CHECK(list_json().empty());
}

TEST_CASE_METHOD(FreshNetns, "port ranges are published in one transaction, all or nothing", "[cli][ranges]")
{
    sandbox::add_loopback_addresses({"10.9.0.1"});
    const auto log = monitor_transactions([] {
        cli_ok({"publish", "--task", "range", "--ip", "10.0.0.2", "-p", "8000-8002:9000-9002/udp", "-p",
                "10.9.0.1:7000-7001:80-81"});
    });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    const auto listed = as_kernel_ports(list_json());
    CHECK(listed == kernel_ports());
    CHECK(listed == std::vector<KernelPort>{
                        {"tcp", 7000, "10.0.0.2", 80, "task=range", "10.9.0.1"},
                        {"tcp", 7001, "10.0.0.2", 81, "task=range", "10.9.0.1"},
                        {"udp", 8000, "10.0.0.2", 9000, "task=range", ""},
                        {"udp", 8001, "10.0.0.2", 9001, "task=range", ""},
                        {"udp", 8002, "10.0.0.2", 9002, "task=range", ""},
                    });

    // A range that runs into another task's port changes nothing, not even its free ports.
    cli_ok({"publish", "--task", "owner", "--ip", "10.0.0.3", "-p", "6002:80"});
    const auto before = ruleset();
    require_refused({"publish", "--task", "late", "--ip", "10.0.0.4", "-p", "6000-6004:80-84"}, 1, {"6002/tcp", "\"owner\""});
    CHECK(ruleset() == before);
    CHECK(list_json({"--task", "late"}).empty());

    // In both families of a dual-stack task.
    cli_ok({"publish", "--task", "late", "--ip", "10.0.0.4", "--ip", "fd00::4", "-p", "6003-6004:83-84"});
    CHECK(list_json({"--task", "late"}).size() == 4);
}

TEST_CASE_METHOD(FreshNetns, "a port on 127.0.0.1 serves the host's own processes, not the network", "[cli][localhost]")
{
    const Topology net;
    EchoServer echo(net.container, Transport::tcp, 8080, "db");
    cli_ok({"publish", "--task", "db", "--ip", Topology::container_ip, "-p", "127.0.0.1:15432:8080", "-p", "18080:8080"});
    const auto listed = list_json();
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].at("host_ip") == "127.0.0.1");
    CHECK(listed[0].at("host_port") == 15432);
    CHECK(line_words(cli_ok({"list"}), "15432/tcp") ==
          std::vector<std::string>{"db", "ipv4", "127.0.0.1", "15432/tcp", "10.200.2.2:8080", "-", "-", "-"});

    // From the host: 127.0.0.1 reaches the container, which sees the host's address on its network
    // (the loopback source is masqueraded); route_localnet is on for the interface towards it.
    const auto local = exchange(net.host, Transport::tcp, "127.0.0.1", 15432, "local");
    INFO(local.error);
    CHECK(local.replied);
    CHECK(local.reply == "db:local");
    CHECK(echo.peers() == std::vector<std::string>{Topology::host_container_side_ip});
    CHECK(read_net_sysctl("net/ipv4/conf/kt-ctr/route_localnet") == "1\n");

    // From the network: not on the host's address, while the wildcard port is.
    CHECK(answer(net, 15432, "remote").starts_with("no reply"));
    CHECK(answer(net, 18080, "remote") == "db:remote");
    // A port on every address is not on 127.0.0.1 (PublisherOptions::wildcard_on_localhost is off).
    CHECK_FALSE(exchange(net.host, Transport::tcp, "127.0.0.1", 18080, "wildcard").replied);

    cli_ok({"unpublish", "--task", "db"});
    CHECK_FALSE(exchange(net.host, Transport::tcp, "127.0.0.1", 15432, "gone").replied);
}

TEST_CASE_METHOD(FreshNetns, "--masquerade when-needed lets the container see its clients; a change writes its own mode",
                 "[cli][masquerade]")
{
    const Topology net;
    EchoServer echo(net.container, Transport::tcp, 8080, "echo");
    const auto last_peer = [&] {
        const auto peers = echo.peers();
        return peers.empty() ? std::string("none") : peers.back();
    };
    cli_ok({"publish", "--task", "web", "--ip", Topology::container_ip, "-p", "18080:8080", "--masquerade", "when-needed"});
    REQUIRE(answer(net, 18080, "client") == "echo:client");
    CHECK(last_peer() == Topology::client_ip);
    // From the host itself the reply would not come back without it: masqueraded.
    const auto from_host = exchange(net.host, Transport::tcp, Topology::host_client_side_ip, 18080, "host");
    INFO(from_host.error);
    CHECK(from_host.reply == "echo:host");
    CHECK(last_peer() == Topology::host_container_side_ip);

    // The mode belongs to the tables' rules: a change without the flag writes the default, always.
    cli_ok({"publish", "--task", "other", "--ip", "10.0.0.9", "-p", "9090:90"});
    REQUIRE(answer(net, 18080, "always") == "echo:always");
    CHECK(last_peer() == Topology::host_container_side_ip);
    cli_ok({"unpublish", "--task", "other", "--masquerade", "when-needed"});
    REQUIRE(answer(net, 18080, "again") == "echo:again");
    CHECK(last_peer() == Topology::client_ip);
}

TEST_CASE_METHOD(FreshNetns, "--wildcard-on-localhost publishes ports on every address on 127.0.0.1 too", "[cli][localhost]")
{
    const Topology net;
    EchoServer echo(net.container, Transport::tcp, 8080, "echo");
    cli_ok({"publish", "--task", "web", "--ip", Topology::container_ip, "-p", "18080:8080"});
    CHECK_FALSE(exchange(net.host, Transport::tcp, "127.0.0.1", 18080, "off").replied);
    cli_ok({"publish", "--task", "web", "--ip", Topology::container_ip, "-p", "18080:8080", "--wildcard-on-localhost"});
    const auto local = exchange(net.host, Transport::tcp, "127.0.0.1", 18080, "on");
    INFO(local.error);
    CHECK(local.reply == "echo:on");
    CHECK(read_net_sysctl("net/ipv4/conf/kt-ctr/route_localnet") == "1\n");
    CHECK(answer(net, 18080, "network") == "echo:network");
}

TEST_CASE_METHOD(FreshNetns, "bad arguments are refused with exit status 2 and change nothing", "[cli]")
{
    SECTION("with no table yet: a usage error does not even create the table")
    {
        for (const auto& call : bad_calls()) {
            require_refused(call.args, call.status, call.words);
            REQUIRE(tables().empty());
        }
    }
    SECTION("with published ports: the ruleset stays as it was")
    {
        cli_ok({"publish", "--task", "t", "--ip", "10.0.0.9", "-p", "8080:80", "-p", "53:53/udp"});
        const auto before = ruleset();
        for (const auto& call : bad_calls()) {
            require_refused(call.args, call.status, call.words);
            REQUIRE(ruleset() == before);
        }
    }
}

TEST_CASE_METHOD(FreshNetns, "a port another task publishes is refused with exit status 1", "[cli]")
{
    sandbox::add_loopback_addresses({"10.9.0.1", "10.9.0.2"});
    cli_ok({"publish", "--task", "owner", "--ip", "10.0.0.2", "-p", "8080:80", "-p", "53:53/udp"});
    const auto before = ruleset();
    require_refused({"publish", "--task", "other", "--ip", "10.0.0.3", "-p", "9090:90", "-p", "8080:81"}, 1,
                    {"8080/tcp", "\"owner\""});
    CHECK(ruleset() == before);
    // Another task's port of the same number but another protocol is no conflict.
    cli_ok({"publish", "--task", "other", "--ip", "10.0.0.3", "-p", "8080:81/udp"});
    CHECK(list_json({"--task", "other"}).size() == 1);

    // A port on all addresses includes each address, so binding it to one is a conflict too.
    const auto with_other = ruleset();
    require_refused({"publish", "--task", "bound", "--ip", "10.0.0.4", "-p", "10.9.0.1:8080:80"}, 1,
                    {"8080/tcp on 10.9.0.1", "overlaps host port 8080/tcp", "\"owner\""});
    CHECK(ruleset() == with_other);
    cli_ok({"publish", "--task", "bound", "--ip", "10.0.0.4", "-p", "10.9.0.1:9090:80"});
    require_refused({"publish", "--task", "all", "--ip", "10.0.0.5", "-p", "9090:80"}, 1,
                    {"9090/tcp overlaps host port 9090/tcp on 10.9.0.1", "\"bound\""});
    cli_ok({"publish", "--task", "elsewhere", "--ip", "10.0.0.5", "-p", "10.9.0.2:9090:80"});  // another address
}

TEST_CASE_METHOD(FreshNetns, "a HOST_IP the host does not have is refused with exit status 2 unless --skip-address-check",
                 "[cli][host-address]")
{
    cli_ok({"publish", "--task", "owner", "--ip", "10.0.0.2", "-p", "8080:80"});
    const auto before = ruleset();
    for (const auto& spec : {"203.0.113.9:8081:80", "[2001:db8::9]:8081:80"}) {
        INFO(spec);
        const bool ipv6 = std::string(spec).front() == '[';
        require_refused({"publish", "--task", "web", "--ip", ipv6 ? "fd00::3" : "10.0.0.3", "-p", spec}, 2,
                        {ipv6 ? "8081/tcp on [2001:db8::9]" : "8081/tcp on 203.0.113.9",
                         ipv6 ? "2001:db8::9 is not an address of this host" : "203.0.113.9 is not an address of this host",
                         "nothing was changed"});
        CHECK(ruleset() == before);
    }
    cli_ok({"publish", "--task", "web", "--ip", "10.0.0.3", "-p", "203.0.113.9:8081:80", "--skip-address-check"});
    const auto listed = list_json({"--task", "web"});
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("host_ip") == "203.0.113.9");
}

// Whether `text` is printable ASCII, lines apart.
bool printable_lines(const std::string& text)
{
    return std::all_of(text.begin(), text.end(), [](char c) { return c == '\n' || (c >= 0x20 && c < 0x7f); });
}

TEST_CASE_METHOD(FreshNetns, "element comments written with nft are listed escaped, one row each, as JSON and in conflicts",
                 "[cli][untrusted]")
{
    cli_ok({"publish", "--task", "web-1", "--ip", "10.0.0.2", "-p", "8080:80", "--name", "web"});
    nft_script(untrusted::nft_script());
    const auto& hostile = untrusted::elements();

    const auto table = cli_ok({"list"});
    INFO(printable(table));
    CHECK(printable_lines(table));
    CHECK(std::count(table.begin(), table.end(), '\n') == static_cast<long>(2 + hostile.size()));
    CHECK(line_words(table, "8080/tcp") ==
          std::vector<std::string>{"web-1", "ipv4", "*", "8080/tcp", "10.0.0.2:80", "web", "-", "-", "-"});
    for (const auto& element : hostile) {
        const auto port = std::to_string(element.host_port) + "/tcp";
        const auto words = line_words(table, port);
        REQUIRE(words.size() >= 8);
        CHECK(std::vector(words.begin(), words.begin() + 5) ==
              std::vector<std::string>{"(foreign)", "ipv4", "*", port, untrusted::destination_ip + ":80"});
        CHECK(table.find("\"" + printable(element.comment) + "\"") != std::string::npos);
    }

    // JSON that parses, whatever the comments' bytes: the comment escaped as the element's name.
    const auto all = list_json();
    REQUIRE(all.size() == 1 + hostile.size());
    std::size_t foreign = 0;
    for (const auto& port : all) {
        REQUIRE(port.size() == 13);
        if (port.at("task") == "web-1")
            continue;
        CHECK(port.at("task") == "");
        const auto element =
            std::find_if(hostile.begin(), hostile.end(), [&](const auto& h) { return port.at("host_port") == h.host_port; });
        REQUIRE(element != hostile.end());
        CHECK(port.at("name") == printable(element->comment));
        CHECK(port.at("container_ip") == untrusted::destination_ip);
        ++foreign;
    }
    CHECK(foreign == hostile.size());
    CHECK(list_json({"--task", "web-1"}).size() == 1);

    // A conflict with one of them names it by its comment, escaped, on one line.
    const auto before = ruleset();
    for (const auto& element : hostile) {
        require_refused({"publish", "--task", "api", "--ip", "10.0.0.3", "-p", std::to_string(element.host_port) + ":80"}, 1,
                        {"is already published by another program (an element without a warren-nft owner, comment " +
                             quote(element.comment) + ") to " + untrusted::destination_ip + ":80",
                         "port conflict"});
    }
    CHECK(ruleset() == before);
    // The CLI's own tasks work beside them.
    cli_ok({"unpublish", "--task", "web-1"});
    CHECK(list_json().size() == hostile.size());
}

TEST_CASE_METHOD(FreshNetns, "echoed arguments are one escaped line of bounded length, however long or hostile",
                 "[cli][untrusted]")
{
    const std::string ip = "10.0.0.9";
    const std::string big(100 * 1024, '9');
    const std::string newlines(100 * 1024, '\n');
    const std::vector<std::vector<std::string>> calls{
        {"publish", "--task", "t", "--ip", ip, "-p", "8080:80\nwarren-nft: forged"},
        {"publish", "--task", "t", "--ip", ip, "-p", "8080:80/\x1b[2J\x1b]0;title\x07\xff"},
        {"publish", "--task", "t", "--ip", ip, "-p", big + ":80"},
        {"publish", "--task", "t", "--ip", ip, "-p", "8080:80/" + newlines},
        {"publish", "--task", "t", "--ip", ip, "-p", "10.0.0.1" + big + ":8080:80"},
        {"publish", "--task", "t", "--ip", big, "-p", "8080:80"},
        {"publish", "--task", "t", "--ip", ip + "\n" + newlines, "-p", "8080:80"},
        {"publish", "--task", "t", "--ip", ip, "--ip", "10.0.0.8\nwarren-nft: forged", "-p", "8080:80"},
        {"publish", "--task", "t\nwarren-nft: forged", "--ip", ip, "-p", "8080:80"},
        {"publish", "--task", big, "--ip", ip, "-p", "8080:80"},
        {"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--name", "\x1b[31m" + big},
        {"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--masquerade", "\n" + big},
        {"list", "--task", "a\nwarren-nft: forged"},
        {"publish", "--task", "t", "--ip", ip, "-p", "8080:80", "--" + big},
        {big + "\n"},
    };
    for (const auto& args : calls) {
        const auto result = cli(args);
        INFO(printable(result.err).substr(0, 2000));
        CHECK(result.exit_code == 2);
        CHECK(result.out.empty());
        CHECK(result.err.starts_with("warren-nft: "));
        CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
        CHECK(result.err.back() == '\n');
        CHECK(printable_lines(result.err));
        CHECK(result.err.size() < 1000);
    }
    CHECK(tables().empty());
}

TEST_CASE_METHOD(FreshNetns, "without CAP_NET_ADMIN an operation fails with exit status 1", "[cli]")
{
    const auto exe = warren_nft_path();
    cli_ok({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "8080:80"});
    const auto before = ruleset();
    const std::vector<std::vector<std::string>> calls{
        {"publish", "--task", "u", "--ip", "10.0.0.3", "-p", "9090:90"},
        {"unpublish", "--task", "t"},
        {"flush", "--yes"},
        {"watch"},
    };
    for (const auto& args : calls) {
        // setpriv (util-linux) runs warren-nft in this namespace with CAP_NET_ADMIN dropped.
        Command cmd;
        cmd.argv = {"setpriv", "--bounding-set=-net_admin", exe};
        cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
        const auto result = run(cmd);
        INFO(result.describe(cmd.argv));
        CHECK(result.exit_code == 1);
        CHECK(result.err.starts_with("warren-nft: "));
        CHECK(result.err.find("permission denied") != std::string::npos);
        CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
        CHECK(ruleset() == before);
    }
}

TEST_CASE_METHOD(FreshNetns, "flush asks for --yes, then removes the table", "[cli]")
{
    nft_script("table inet other {\n chain c {\n  type filter hook input priority 0;\n }\n}\n");
    cli_ok({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "8080:80"});
    const auto before = ruleset();
    require_refused({"flush"}, 2, {"--yes", "every port"});
    CHECK(ruleset() == before);

    cli_ok({"flush", "--yes"});
    CHECK(!warren_table_exists());
    CHECK(tables() == std::vector<std::string>{"inet other"});
    cli_ok({"flush", "--yes"});  // nothing left to remove: still fine
    CHECK(tables() == std::vector<std::string>{"inet other"});
}

TEST_CASE_METHOD(FreshNetns, "--version and --help", "[cli]")
{
    CHECK(cli_ok({"--version"}) == "warren-nft " + std::string(WARREN_NFT_TEST_VERSION) + "\n");
    for (const std::string sub : {"publish", "unpublish", "drain", "list", "flush", "doctor", "watch"}) {
        const auto help = cli_ok({sub, "--help"});
        CHECK(help.find("Usage: warren-nft " + sub) != std::string::npos);
    }
    const auto publish_help = cli_ok({"publish", "--help"});
    CHECK(publish_help.find("[[HOST_IP:]HOST_PORT[-LAST]:]CONTAINER_PORT[-LAST]") != std::string::npos);
    for (const std::string option : {"--counters", "--allow", "--max-connections", "--rate", "--json"})
        CHECK(publish_help.find(option) != std::string::npos);
    CHECK(cli_ok({"--help"}).find("Exit status") != std::string::npos);
    CHECK(tables().empty());
}

}  // namespace kt

namespace kt {
namespace {

// The lines of `warren-nft doctor` that start with `level` ("OK", "WARN", "FAIL") and contain `text`.
std::size_t doctor_lines(const std::string& out, const std::string& level, const std::string& text)
{
    std::size_t count = 0;
    std::size_t start = 0;
    while (start < out.size()) {
        const auto end = std::min(out.find('\n', start), out.size());
        const auto line = out.substr(start, end - start);
        if (line.starts_with(level + ": ") && line.find(text) != std::string::npos)
            ++count;
        start = end + 1;
    }
    return count;
}

// Every line of doctor's output is OK, WARN or FAIL.
void check_doctor_format(const std::string& out)
{
    INFO(out);
    REQUIRE(!out.empty());
    CHECK(out.back() == '\n');
    std::size_t lines = static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n'));
    CHECK(doctor_lines(out, "OK", "") + doctor_lines(out, "WARN", "") + doctor_lines(out, "FAIL", "") == lines);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "doctor finds ip_forward=0, a forward drop policy and a damaged table", "[cli][doctor]")
{
    write_net_sysctl("net/ipv4/ip_forward", "0");
    auto result = cli({"doctor"});
    INFO(result.out << result.err);
    check_doctor_format(result.out);
    CHECK(result.exit_code == 1);
    CHECK(doctor_lines(result.out, "FAIL", "net.ipv4.ip_forward is 0") == 1);
    CHECK(doctor_lines(result.out, "FAIL", "sysctl -w net.ipv4.ip_forward=1") == 1);
    CHECK(doctor_lines(result.out, "OK", "table ip warren does not exist yet") == 1);
    CHECK(doctor_lines(result.out, "OK", "packets and bytes") == 0);  // no table, no line about counting
    CHECK(tables().empty());                                          // the doctor created nothing

    write_net_sysctl("net/ipv4/ip_forward", "1");
    result = cli({"doctor"});
    check_doctor_format(result.out);
    CHECK(result.exit_code == 0);
    CHECK(doctor_lines(result.out, "OK", "net.ipv4.ip_forward is 1") == 1);
    CHECK(doctor_lines(result.out, "OK", "no other forward chain") == 1);
    CHECK(doctor_lines(result.out, "FAIL", "") == 0);

    cli_ok({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "8080:80"});
    nft_script("table ip filter {\n chain FORWARD {\n  type filter hook forward priority 0; policy drop;\n }\n}\n");
    const auto before = ruleset();
    result = cli({"doctor"});
    INFO(result.out << result.err);
    check_doctor_format(result.out);
    CHECK(result.exit_code == 0);  // a drop policy is a warning: its own rules may accept our traffic
    CHECK(doctor_lines(result.out, "WARN", "chain ip filter FORWARD (hook forward, policy drop)") == 1);
    CHECK(doctor_lines(result.out, "OK", "1 port(s) published") == 1);
    CHECK(doctor_lines(result.out, "OK", "table ip warren has its chains") == 1);
    CHECK(ruleset() == before);

    nft({"delete", "chain", "ip", "warren", "output"});
    const auto damaged = ruleset();
    result = cli({"doctor"});
    INFO(result.out << result.err);
    CHECK(result.exit_code == 1);
    CHECK(doctor_lines(
              result.out, "FAIL",
              "chain ip warren output is missing, so published ports do not work; fix: publish any task's ports again") == 1);
    CHECK(ruleset() == damaged);  // diagnosed, not silently repaired
    cli_ok({"list"});             // nor by reading
    CHECK(ruleset() == damaged);
    cli_ok({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "8080:80"});  // but by the next publish
    CHECK(warren_chains().size() == 7);                                       // the four, guard and the two police chains
}

TEST_CASE_METHOD(FreshNetns, "publish --counters adds counters to a table without them and keeps its ports; others leave them on",
                 "[cli][counters][doctor]")
{
    const Topology net;
    EchoServer echo(net.container, Transport::tcp, 8080, "echo");
    // What a client gets from task a's port 18080.
    const auto answer_of_a = [&](const std::string& payload) { return answer(net, 18080, payload); };

    // Task a, published without --counters: its port works, and nothing counts.
    cli_ok({"publish", "--task", "a", "--ip", Topology::container_ip, "-p", "18080:8080"});
    REQUIRE(answer_of_a("uncounted") == "echo:uncounted");
    CHECK_FALSE(kernel_has_backends());
    auto listed = list_json();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("packets").is_null());
    CHECK(listed[0].at("bytes").is_null());
    auto report = cli({"doctor"});
    INFO(report.out << report.err);
    check_doctor_format(report.out);
    CHECK(doctor_lines(report.out, "OK", "table ip warren does not count packets and bytes per destination") == 1);
    CHECK(doctor_lines(report.out, "OK", "publish with --counters") == 1);
    CHECK(doctor_lines(report.out, "OK", "table ip warren counts") == 0);

    // Task b asks for counters: one transaction creates a counting set backends holding a's
    // destination, and publishes b's port.
    const auto log = monitor_transactions([] {
        cli_ok({"publish", "--task", "b", "--ip", Topology::container_ip, "-p", "5353:53/udp", "--counters"});
    });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    const auto created = log.text.find("add set ip warren backends");
    CHECK(created != std::string::npos);
    CHECK(log.text.find("add element ip warren backends { " + std::string(Topology::container_ip) + " . tcp . 8080", created) !=
          std::string::npos);
    CHECK(kernel_backends_counted());
    CHECK(kernel_backends() ==
          std::vector<KernelBackend>{{Topology::container_ip, "tcp", 8080}, {Topology::container_ip, "udp", 53}});
    listed = list_json();  // tcp 18080 (a), udp 5353 (b)
    INFO(listed.dump());
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].at("task") == "a");
    CHECK(listed[0].at("host_port") == 18080);
    CHECK(listed[1].at("task") == "b");
    for (const auto& port : listed) {
        CHECK(port.at("packets") == 0);  // counting starts with the new set
        CHECK(port.at("bytes") == 0);
    }
    report = cli({"doctor"});
    INFO(report.out << report.err);
    check_doctor_format(report.out);
    CHECK(doctor_lines(report.out, "OK", "table ip warren counts packets and bytes per destination") == 1);
    CHECK(doctor_lines(report.out, "OK", "does not count") == 0);

    // a's port still answers, through the rules that came back with the set, and is counted now.
    REQUIRE(answer_of_a("counted") == "echo:counted");
    listed = list_json();
    const auto kernel = kernel_backend_counters();  // tcp . 8080 sorts before udp . 53
    REQUIRE(kernel.size() == 2);
    CHECK(kernel[0].packets > 0);
    CHECK(listed[0].at("packets").get<long>() == kernel[0].packets);
    CHECK(listed[0].at("bytes").get<long>() == kernel[0].bytes);

    // Changes without --counters leave the counting on.
    cli_ok({"publish", "--task", "c", "--ip", "10.0.0.9", "-p", "9090:90"});
    cli_ok({"unpublish", "--task", "b"});
    CHECK(kernel_backends_counted());
    listed = list_json();
    REQUIRE(listed.size() == 2);
    for (const auto& port : listed)
        CHECK(port.at("packets").is_number());

    // To stop counting: flush, then publish again without --counters. Publishing the same ports
    // again with --counters turns it back on.
    cli_ok({"flush", "--yes"});
    cli_ok({"publish", "--task", "a", "--ip", Topology::container_ip, "-p", "18080:8080"});
    CHECK_FALSE(kernel_has_backends());
    CHECK(list_json().at(0).at("packets").is_null());
    cli_ok({"publish", "--task", "a", "--ip", Topology::container_ip, "-p", "18080:8080", "--counters"});
    CHECK(kernel_backends_counted());
    CHECK(list_json().at(0).at("packets") == 0);
    CHECK(answer_of_a("again") == "echo:again");
}

}  // namespace kt
