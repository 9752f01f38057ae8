// SPDX-License-Identifier: Apache-2.0
// Dual-stack tasks with real traffic: one publish is one transaction over tables ip and ip6 warren;
// one host port on two host addresses leads to two containers; several consecutive ports (what the
// CLI makes of a port range) in one call.
#include "dual_stack_support.hpp"

#include <algorithm>
#include <tuple>

using namespace kt;

namespace {

// Elements the transaction added to table `family` warren (`nft monitor` says "create element" for
// an element added with NLM_F_EXCL, "add element" otherwise).
std::size_t elements_added(const MonitorLog& log, const std::string& family)
{
    return static_cast<std::size_t>(std::count_if(log.lines.begin(), log.lines.end(), [&](const std::string& line) {
        return line.starts_with("add element " + family + " warren ") ||
               line.starts_with("create element " + family + " warren ");
    }));
}

// The mappings in one order whatever order they were listed in.
std::vector<PortMapping> sorted(std::vector<PortMapping> ports)
{
    std::sort(ports.begin(), ports.end(), [](const PortMapping& a, const PortMapping& b) {
        return std::tie(a.protocol, a.host_port, a.host_ip) < std::tie(b.protocol, b.host_port, b.host_ip);
    });
    return ports;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "a dual-stack task is published in one transaction over both tables and answers over both families",
                 "[traffic][dual-stack][atomicity]")
{
    const DualStackNet n;
    HostPortPublisher publisher;
    const std::vector ports{tcp(tcp_host_port, tcp_container_port), udp(udp_host_port, udp_container_port)};

    const auto log = monitor_transactions([&] { publisher.publish_ports("web-1", first_addresses, ports); });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    CHECK(elements_added(log, "ip") >= 2);
    CHECK(elements_added(log, "ip6") >= 2);

    // Each table holds the port, leading to the container's address of its family.
    const auto ip_table = warren_table_of("ip");
    const auto ip6_table = warren_table_of("ip6");
    INFO("table ip warren:\n" << ip_table << "table ip6 warren:\n" << ip6_table);
    for (const auto& table : {ip_table, ip6_table}) {
        CHECK(table.find(std::to_string(tcp_host_port)) != std::string::npos);
        CHECK(table.find(std::to_string(udp_host_port)) != std::string::npos);
    }
    CHECK(ip_table.find(Net::first_ip) != std::string::npos);
    CHECK(ip_table.find(Net::first_ipv6) == std::string::npos);
    CHECK(ip6_table.find(Net::first_ipv6) != std::string::npos);
    CHECK(ip6_table.find(Net::first_ip) == std::string::npos);

    // Read back as published: one mapping per port (every address of both families), one
    // PublishedPort per family.
    CHECK(sorted(publisher.published_ports("web-1")) == sorted(ports));
    const auto all = publisher.all_published_ports();
    INFO("all_published_ports: " << all.size());
    CHECK(all.size() == 4);
    CHECK(std::count_if(all.begin(), all.end(), [](const PublishedPort& p) { return p.container_ip == Net::first_ipv6; }) == 2);

    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto a = addresses_of(family);
        for (const auto transport : {Transport::tcp, Transport::udp})
            expect_reaches(n.net.client, transport, a.host_client_side, host_port_of(transport), n.first.on(transport),
                           a.host_bridge);
    }

    // Unpublishing is one transaction too, and empties both tables of the task.
    const auto gone = monitor_transactions([&] { publisher.unpublish_ports("web-1"); });
    INFO("nft monitor:\n" << gone.text);
    CHECK(gone.generations == 1);
    CHECK(publisher.all_published_ports().empty());
    for (const auto family : {Family::ipv4, Family::ipv6})
        expect_no_answer(n.net.client, Transport::tcp, addresses_of(family).host_client_side, tcp_host_port, all_echoes(n));
}

TEST_CASE_METHOD(FreshNetns, "the same host port on two host addresses leads to two containers, in both families",
                 "[traffic][dual-stack][host-ip]")
{
    const DualStackNet n;
    HostPortPublisher publisher;
    const auto bound = [](const std::string& ip, const std::string& ipv6) {
        return std::vector{on(ip, tcp(tcp_host_port, tcp_container_port)), on(ipv6, tcp(tcp_host_port, tcp_container_port)),
                           on(ip, udp(udp_host_port, udp_container_port)), on(ipv6, udp(udp_host_port, udp_container_port))};
    };
    publisher.publish_ports("via-client-side", first_addresses, bound(Net::host_client_side_ip, Net::host_client_side_ipv6));
    publisher.publish_ports("via-bridge", second_addresses, bound(Net::host_bridge_ip, Net::host_bridge_ipv6));

    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto a = addresses_of(family);
        for (const auto transport : {Transport::tcp, Transport::udp}) {
            const auto port = host_port_of(transport);
            expect_reaches(n.net.client, transport, a.host_client_side, port, n.first.on(transport), a.host_bridge);
            expect_reaches(n.net.client, transport, a.host_bridge, port, n.second.on(transport), a.host_bridge);
        }
    }

    // Every address of a family overlaps both: refused.
    const auto e =
        expect_error([&] { publisher.publish_ports("everywhere", first_addresses, std::vector{tcp(tcp_host_port, 1)}); });
    CHECK(e.code() == errc::port_conflict);

    // One task going leaves the other's address answering.
    publisher.unpublish_ports("via-client-side");
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto a = addresses_of(family);
        expect_no_answer(n.net.client, Transport::tcp, a.host_client_side, tcp_host_port, all_echoes(n));
        expect_reaches(n.net.client, Transport::tcp, a.host_bridge, tcp_host_port, n.second.tcp, a.host_bridge);
    }
}

TEST_CASE_METHOD(FreshNetns, "three consecutive ports published in one call each lead to their own container port",
                 "[traffic][dual-stack][ranges]")
{
    const DualStackNet n;
    // Host ports 28000-28002 to container ports 9000-9002, as `-p 28000-28002:9000-9002` asks.
    const Echo e0(n.net.first, Transport::tcp, 9000, "port-9000");
    const Echo e1(n.net.first, Transport::tcp, 9001, "port-9001");
    const Echo e2(n.net.first, Transport::tcp, 9002, "port-9002");
    const std::vector<const Echo*> echoes{&e0, &e1, &e2};
    HostPortPublisher publisher;

    const auto log = monitor_transactions([&] {
        publisher.publish_ports("range", first_addresses, std::vector{tcp(28000, 9000), tcp(28001, 9001), tcp(28002, 9002)});
    });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);

    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto a = addresses_of(family);
        for (std::uint16_t i = 0; i < 3; ++i)
            expect_reaches(n.net.client, Transport::tcp, a.host_client_side, static_cast<std::uint16_t>(28000 + i), *echoes[i],
                           a.host_bridge);
        // Just outside the range nothing is published.
        expect_no_answer(n.net.client, Transport::tcp, a.host_client_side, 27999, echoes);
        expect_no_answer(n.net.client, Transport::tcp, a.host_client_side, 28003, echoes);
    }
}
