// SPDX-License-Identifier: Apache-2.0
// Hairpin traffic: a container calling its own and its neighbour's published port through the host's
// address. The answer only finds its way back through the host when the connection is masqueraded,
// so it is in both masquerading modes, over both families.
#include "dual_stack_support.hpp"

using namespace kt;

TEST_CASE_METHOD(FreshNetns, "a container reaches its own and its neighbour's published ports through the host's address",
                 "[traffic][hairpin][dual-stack]")
{
    const DualStackNet n;
    const auto masquerading = GENERATE(Masquerading::always, Masquerading::when_needed);
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(masquerading) << ", " << name_of(family));

    HostPortPublisher publisher(PublisherOptions{.masquerading = masquerading});
    constexpr std::uint16_t neighbour_tcp = 18081, neighbour_udp = 15354;
    publisher.publish_ports("first", first_addresses,
                            std::vector{tcp(tcp_host_port, tcp_container_port), udp(udp_host_port, udp_container_port)});
    publisher.publish_ports("second", second_addresses,
                            std::vector{tcp(neighbour_tcp, tcp_container_port), udp(neighbour_udp, udp_container_port)});

    for (const auto transport : {Transport::tcp, Transport::udp}) {
        const auto own = host_port_of(transport);
        const auto neighbour = transport == Transport::tcp ? neighbour_tcp : neighbour_udp;
        // Masqueraded to the host's address on the bridge: otherwise the container would answer
        // itself or its neighbour directly, from an address the caller never called.
        expect_reaches(n.net.first, transport, a.host_client_side, own, n.first.on(transport), a.host_bridge);
        expect_reaches(n.net.first, transport, a.host_client_side, neighbour, n.second.on(transport), a.host_bridge);
        expect_reaches(n.net.second, transport, a.host_client_side, own, n.first.on(transport), a.host_bridge);
        // Through the host's address on the containers' own network too.
        expect_reaches(n.net.first, transport, a.host_bridge, own, n.first.on(transport), a.host_bridge);
        expect_reaches(n.net.second, transport, a.host_bridge, neighbour, n.second.on(transport), a.host_bridge);
    }
}
