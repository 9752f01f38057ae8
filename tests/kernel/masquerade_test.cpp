// SPDX-License-Identifier: Apache-2.0
// Which client address the container sees: the host's with masquerading `always`, the client's own
// with `when_needed`; connections from the host itself are masqueraded in both modes (a container
// cannot answer the host's loopback or an address it would reach another way).
#include "dual_stack_support.hpp"

using namespace kt;

TEST_CASE_METHOD(FreshNetns, "the container sees the host's address with masquerading always and the client's with when_needed",
                 "[traffic][masquerading][dual-stack]")
{
    const DualStackNet n;
    const auto masquerading = GENERATE(Masquerading::always, Masquerading::when_needed);
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(masquerading) << ", " << name_of(family));
    HostPortPublisher publisher(PublisherOptions{.masquerading = masquerading});
    publisher.publish_ports("web", first_addresses,
                            std::vector{tcp(tcp_host_port, tcp_container_port), udp(udp_host_port, udp_container_port)});

    const auto client_seen_as = masquerading == Masquerading::always ? a.host_bridge : a.client;
    for (const auto transport : {Transport::tcp, Transport::udp}) {
        const auto port = host_port_of(transport);
        expect_reaches(n.net.client, transport, a.host_client_side, port, n.first.on(transport), client_seen_as);
        expect_reaches(n.net.client, transport, a.host_bridge, port, n.first.on(transport), client_seen_as);
        // From the host itself, always through the host's address on the bridge.
        expect_reaches(n.net.host, transport, a.host_client_side, port, n.first.on(transport), a.host_bridge);
        expect_reaches(n.net.host, transport, a.host_bridge, port, n.first.on(transport), a.host_bridge);
    }
}
