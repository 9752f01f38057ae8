// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the dual-stack traffic tests: the client / host / two-container network with an
// echo server per container and protocol, and assertions on where a request ends up and which
// client address the container saw.
#pragma once

#include "conntrack.hpp"
#include "dual_stack_topology.hpp"
#include "support.hpp"
#include "traffic.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace kt {

using warren::nft::ContainerAddresses;
using warren::nft::Masquerading;
using Net = sandbox::DualStackTopology;

inline constexpr std::uint16_t tcp_container_port = 8080;
inline constexpr std::uint16_t udp_container_port = 5353;
inline constexpr std::uint16_t tcp_host_port = 18080;
inline constexpr std::uint16_t udp_host_port = 15353;

// How long to wait for an answer that must not come: long enough for a dropped SYN or datagram
// not to be mistaken for a slow one (the namespaces answer within milliseconds).
inline constexpr std::chrono::milliseconds no_answer_wait{400};

// An echo server that answers as "<tag>:<message>".
struct Echo {
    Echo(const Netns& netns, Transport transport, std::uint16_t port, std::string echo_tag)
        : tag(std::move(echo_tag)), server(netns, transport, port, tag)
    {
    }
    std::string tag;
    EchoServer server;
};

// The echo servers of one container: TCP on 8080 and UDP on 5353, both families.
struct ContainerEchoes {
    ContainerEchoes(const Netns& netns, const std::string& name)
        : tcp(netns, Transport::tcp, tcp_container_port, name + "-tcp"),
          udp(netns, Transport::udp, udp_container_port, name + "-udp")
    {
    }
    const Echo& on(Transport transport) const { return transport == Transport::tcp ? tcp : udp; }
    Echo tcp;
    Echo udp;
};

// The network with both containers answering.
struct DualStackNet {
    Net net;
    ContainerEchoes first{net.first, "first"};
    ContainerEchoes second{net.second, "second"};
};

inline const ContainerAddresses first_addresses{Net::first_ip, Net::first_ipv6};
inline const ContainerAddresses second_addresses{Net::second_ip, Net::second_ipv6};

inline const char* name_of(Transport transport) { return transport == Transport::tcp ? "tcp" : "udp"; }
inline const char* name_of(Family family) { return family == Family::ipv4 ? "IPv4" : "IPv6"; }
inline const char* name_of(Masquerading masquerading)
{
    return masquerading == Masquerading::always ? "masquerading always" : "masquerading when needed";
}

inline std::uint16_t host_port_of(Transport transport) { return transport == Transport::tcp ? tcp_host_port : udp_host_port; }

inline PortMapping mapping(Transport transport, std::uint16_t host_port, std::uint16_t container_port)
{
    return transport == Transport::tcp ? tcp(host_port, container_port) : udp(host_port, container_port);
}

// The addresses of the topology in one family, so that a test runs the same steps over both.
struct FamilyAddresses {
    Family family;
    std::string client, host_client_side, host_bridge, first, second;
    std::string unspecified;  // "0.0.0.0" or "::"
};
inline FamilyAddresses addresses_of(Family family)
{
    if (family == Family::ipv4)
        return {family, Net::client_ip, Net::host_client_side_ip, Net::host_bridge_ip, Net::first_ip, Net::second_ip, "0.0.0.0"};
    return {family, Net::client_ipv6, Net::host_client_side_ipv6, Net::host_bridge_ipv6, Net::first_ipv6, Net::second_ipv6, "::"};
}

// A message no other exchange of this process sends, so that an echo proves this exchange arrived.
inline std::string unique_message(const std::string& what)
{
    static int counter = 0;
    return what + "-" + std::to_string(++counter);
}

inline std::string last_peer(const Echo& echo)
{
    const auto peers = echo.server.peers();
    return peers.empty() ? std::string("(none)") : peers.back();
}

// A request from `from` to ip:port is answered by `echo`, which saw it come from `peer`.
inline void expect_reaches(const Netns& from, Transport transport, const std::string& ip, std::uint16_t port, const Echo& echo,
                           const std::string& peer)
{
    const auto message = unique_message("hello");
    const auto r = exchange(from, transport, ip, port, message);
    INFO(name_of(transport) << " to " << ip << " port " << port << ": " << (r.replied ? "answered " + r.reply : r.error));
    REQUIRE(r.replied);
    CHECK(r.reply == echo.tag + ":" + message);
    CHECK(last_peer(echo) == peer);
}

// A request from `from` to ip:port gets no answer, and none of `echoes` saw anything of it.
inline void expect_no_answer(const Netns& from, Transport transport, const std::string& ip, std::uint16_t port,
                             const std::vector<const Echo*>& echoes)
{
    std::vector<std::size_t> seen;
    for (const auto* echo : echoes)
        seen.push_back(echo->server.peers().size());
    const auto r = exchange(from, transport, ip, port, unique_message("nobody"), no_answer_wait);
    INFO(name_of(transport) << " to " << ip << " port " << port << ": " << (r.replied ? "answered " + r.reply : r.error));
    CHECK_FALSE(r.replied);
    for (std::size_t i = 0; i < echoes.size(); ++i)
        CHECK(echoes[i]->server.peers().size() == seen[i]);
}

// The echoes of both containers, for expect_no_answer().
inline std::vector<const Echo*> all_echoes(const DualStackNet& n)
{
    return {&n.first.tcp, &n.first.udp, &n.second.tcp, &n.second.udp};
}

// `nft list table <family> warren`, or "" when that table does not exist.
inline std::string warren_table_of(const std::string& family)
{
    Command command;
    command.argv = {"nft", "list", "table", family, "warren"};
    const auto result = run(command);
    return result.exit_code == 0 ? result.out : std::string();
}

// The host namespace's conntrack entries whose original destination port is `port`.
inline std::vector<sandbox::ConntrackEntry> conntrack_entries_to_port(const Net& net, std::uint16_t port)
{
    std::vector<sandbox::ConntrackEntry> matching;
    for (auto& entry : sandbox::conntrack_entries(net.host))
        if (entry.original.destination_port == port)
            matching.push_back(std::move(entry));
    return matching;
}

}  // namespace kt
