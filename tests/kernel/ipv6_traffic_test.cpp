// SPDX-License-Identifier: Apache-2.0
// Real IPv6 traffic through published ports: client -> [host]:host_port -> [container]:container_port
// and back, for TCP and UDP, on every IPv6 address of the host or on one.
#include "dual_stack_support.hpp"

using namespace kt;

namespace {

std::vector<PortMapping> web_ports(const std::string& host_ip)
{
    return {on(host_ip, tcp(tcp_host_port, tcp_container_port)), on(host_ip, udp(udp_host_port, udp_container_port))};
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "IPv6 TCP and UDP reach a port published on every IPv6 address of the host", "[traffic][ipv6]")
{
    const DualStackNet n;
    HostPortPublisher publisher;

    SECTION("host_ip empty, for a task with only an IPv6 address")
    {
        publisher.publish_ports("web-6", Net::first_ipv6, web_ports(""));
    }
    SECTION("host_ip ::, for a dual-stack task: IPv6 only")
    {
        publisher.publish_ports("web-6", first_addresses, web_ports("::"));
        // `::` is every IPv6 address and none of IPv4.
        expect_no_answer(n.net.client, Transport::tcp, Net::host_client_side_ip, tcp_host_port, all_echoes(n));
        expect_no_answer(n.net.client, Transport::udp, Net::host_client_side_ip, udp_host_port, all_echoes(n));
    }
    // The publish deletes the unreplied UDP entries to its new port on the cleaner's thread: done
    // before the datagrams below, whose entries it would otherwise delete with a reply in flight.
    publisher.wait_for_conntrack_cleanup();

    for (const auto transport : {Transport::tcp, Transport::udp}) {
        const auto port = host_port_of(transport);
        // From the client, on the address facing it and on the host's other IPv6 address;
        // masqueraded (the default) to the host's address on the containers' bridge.
        expect_reaches(n.net.client, transport, Net::host_client_side_ipv6, port, n.first.on(transport), Net::host_bridge_ipv6);
        expect_reaches(n.net.client, transport, Net::host_bridge_ipv6, port, n.first.on(transport), Net::host_bridge_ipv6);
        // From the host itself.
        expect_reaches(n.net.host, transport, Net::host_client_side_ipv6, port, n.first.on(transport), Net::host_bridge_ipv6);
    }
    CHECK(n.second.tcp.server.peers().empty());
    CHECK(n.second.udp.server.peers().empty());

    // Gone with the unpublish.
    publisher.unpublish_ports("web-6");
    expect_no_answer(n.net.client, Transport::tcp, Net::host_client_side_ipv6, tcp_host_port, all_echoes(n));
    expect_no_answer(n.net.client, Transport::udp, Net::host_client_side_ipv6, udp_host_port, all_echoes(n));
}

TEST_CASE_METHOD(FreshNetns, "an IPv6 port bound to one host address answers on that address and not on the host's other one",
                 "[traffic][ipv6][host-ip]")
{
    const DualStackNet n;
    HostPortPublisher publisher;
    publisher.publish_ports("web-6", first_addresses, web_ports(Net::host_client_side_ipv6));
    publisher.wait_for_conntrack_cleanup();  // before the datagrams, whose entries it would delete

    for (const auto transport : {Transport::tcp, Transport::udp}) {
        const auto port = host_port_of(transport);
        expect_reaches(n.net.client, transport, Net::host_client_side_ipv6, port, n.first.on(transport), Net::host_bridge_ipv6);
        expect_reaches(n.net.host, transport, Net::host_client_side_ipv6, port, n.first.on(transport), Net::host_bridge_ipv6);
        // The host's other IPv6 address, and IPv4 (the port names an IPv6 address), are not published.
        expect_no_answer(n.net.client, transport, Net::host_bridge_ipv6, port, all_echoes(n));
        expect_no_answer(n.net.host, transport, Net::host_bridge_ipv6, port, all_echoes(n));
        expect_no_answer(n.net.client, transport, Net::host_client_side_ip, port, all_echoes(n));
    }
    // The host itself answers there (nothing listens): the connection was not DNATed.
    const auto refused = exchange(n.net.client, Transport::tcp, Net::host_bridge_ipv6, tcp_host_port, "x", no_answer_wait);
    CHECK(refused.error == "connect: Connection refused");
}
