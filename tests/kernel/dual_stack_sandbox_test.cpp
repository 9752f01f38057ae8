// SPDX-License-Identifier: Apache-2.0
// The dual-stack test network itself, without any publisher: both families route between client,
// host and containers; a UDP flow keeps its source port and shows up in the conntrack reader as
// `conntrack -L` shows it; and the malicious neighbour's packets to 127.0.0.1 do arrive at the host,
// so that a test finding them dropped proves the publisher dropped them.
#include "dual_stack_support.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

using namespace kt;

TEST_CASE_METHOD(FreshNetns, "dual-stack network: client, host and both containers reach each other over both families",
                 "[sandbox][dual-stack]")
{
    const DualStackNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(family));
    for (const auto* netns : {&n.net.host, &n.net.client, &n.net.first, &n.net.second})
        CHECK(tentative_ipv6_addresses(*netns).empty());
    CHECK(read_net_sysctl("net/ipv4/ip_forward") == "1\n");
    CHECK(read_net_sysctl("net/ipv6/conf/all/forwarding") == "1\n");

    for (const auto transport : {Transport::tcp, Transport::udp}) {
        const auto port = transport == Transport::tcp ? tcp_container_port : udp_container_port;
        // Routed through the host, not translated: the containers see the client's own address.
        expect_reaches(n.net.client, transport, a.first, port, n.first.on(transport), a.client);
        expect_reaches(n.net.client, transport, a.second, port, n.second.on(transport), a.client);
        // Across the bridge, and from the host's bridge address.
        expect_reaches(n.net.first, transport, a.second, port, n.second.on(transport), a.first);
        expect_reaches(n.net.second, transport, a.first, port, n.first.on(transport), a.second);
        expect_reaches(n.net.host, transport, a.first, port, n.first.on(transport), a.host_bridge);
    }
    // Nothing answers where nothing listens: the host has no echo server.
    expect_no_answer(n.net.client, Transport::udp, a.host_client_side, udp_container_port, all_echoes(n));
}

TEST_CASE_METHOD(FreshNetns,
                 "dual-stack network: a UDP flow keeps its source port and the conntrack reader shows it as conntrack -L does",
                 "[sandbox][dual-stack][conntrack]")
{
    const DualStackNet n;
    // Any ct expression makes the namespace track connections, of both families.
    nft_script("table inet kt_track { chain forward { type filter hook forward priority 0; ct state new counter\n}\n}\n");
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(family));

    UdpFlow flow(n.net.client, family, 33001);
    for (int i = 0; i < 3; ++i) {
        const auto r = flow.exchange(a.first, udp_container_port, "flow");
        INFO(r.error);
        REQUIRE(r.replied);
        CHECK(r.reply == "first-udp:flow");
    }
    // Never answered: a second flow, unreplied.
    UdpFlow silent(n.net.client, family, 33002);
    silent.send(a.second, 9, "discard");

    const auto entries = sandbox::conntrack_entries(n.net.host);
    INFO(describe(entries));
    const auto is_flow = [&](const sandbox::ConntrackEntry& e) {
        return e.protocol == IPPROTO_UDP && e.original.source == a.client && e.original.source_port == 33001;
    };
    REQUIRE(std::count_if(entries.begin(), entries.end(), is_flow) == 1);  // three datagrams, one flow
    const auto& entry = *std::find_if(entries.begin(), entries.end(), is_flow);
    CHECK(entry.family == (family == Family::ipv4 ? AF_INET : AF_INET6));
    CHECK(entry.original == sandbox::ConntrackTuple{a.client, a.first, 33001, udp_container_port});
    CHECK(entry.reply == sandbox::ConntrackTuple{a.first, a.client, udp_container_port, 33001});
    CHECK(entry.seen_reply);
    const auto unreplied = std::find_if(entries.begin(), entries.end(),
                                        [&](const sandbox::ConntrackEntry& e) { return e.original.source_port == 33002; });
    REQUIRE(unreplied != entries.end());
    CHECK_FALSE(unreplied->seen_reply);

    // The same flows as the conntrack tool lists them, where it is installed.
    std::string cli;
    try {
        cli = check_output({find_program("conntrack"), "-L", "-f", family == Family::ipv4 ? "ipv4" : "ipv6"});
    } catch (const std::exception& e) {
        WARN("not compared with conntrack -L: " << e.what());
        return;
    }
    INFO("conntrack -L:\n" << cli);
    // Its lines have the state, timeout and counters around the tuples, which read alike.
    CHECK(cli.find(sandbox::describe(entry.original) + " " + sandbox::describe(entry.reply)) != std::string::npos);
    CHECK(cli.find(sandbox::describe(unreplied->original) + " [UNREPLIED] " + sandbox::describe(unreplied->reply)) !=
          std::string::npos);
}

TEST_CASE_METHOD(FreshNetns,
                 "dual-stack network: the malicious neighbour's packets to 127.0.0.1 reach the host, where a careless DNAT would "
                 "expose a container",
                 "[sandbox][localhost]")
{
    const DualStackNet n;
    n.net.route_client_loopback_to_host();
    // Without any rule the host drops them as martians: no answer, no container sees them.
    expect_no_answer(n.net.client, Transport::tcp, "127.0.0.1", tcp_host_port, all_echoes(n));

    // The rule a careless publisher would write: DNAT whatever is addressed to 127.0.0.1:port.
    nft_script(
        "table ip kt_careless { chain prerouting { type nat hook prerouting priority dstnat;\n"
        "  ip daddr 127.0.0.1 tcp dport " +
        std::to_string(tcp_host_port) + " counter dnat to " + Net::first_ip + ":" + std::to_string(tcp_container_port) +
        "\n}\n}\n");
    expect_reaches(n.net.client, Transport::tcp, "127.0.0.1", tcp_host_port, n.first.tcp, Net::client_ip);
}
