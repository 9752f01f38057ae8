// SPDX-License-Identifier: Apache-2.0
// A host port that a socket of the host would receive is not published over it: real listening and
// bound sockets in the test's namespace make publish_ports() refuse with port_conflict, naming the
// socket and this process; closing the socket lets the publish through; automatic host ports
// never pick a port a socket holds.
#include "socket_support.hpp"
#include "support.hpp"

#include <unistd.h>

#include <algorithm>
#include <vector>

using namespace kt;
using Catch::Matchers::Contains;
using sandbox::FreshNetns;
using warren::nft::ContainerAddresses;

namespace {

constexpr const char* container_ipv4 = "10.88.0.2";
constexpr const char* container_ipv6 = "fd88::2";

// " (process <comm>, pid <pid>)": how a message names this process as a socket's owner.
std::string this_process() { return " (process " + own_comm() + ", pid " + std::to_string(getpid()) + ")"; }

struct Case {
    const char* what;
    Protocol protocol;
    const char* socket_ip;
    Options options;
    std::string host_ip;  // of the published port
    const char* described;
};

Fd open_socket(const Case& c, std::uint16_t port)
{
    return c.protocol == Protocol::tcp ? tcp_listening(c.socket_ip, port, c.options) : udp_bound(c.socket_ip, port, c.options);
}

PortMapping mapping(const Case& c, std::uint16_t host_port)
{
    return on(c.host_ip, c.protocol == Protocol::tcp ? tcp(host_port, 80) : udp(host_port, 80));
}

// published_ports() as a comparable value: in host port order.
std::vector<PortMapping> by_host_port(std::vector<PortMapping> ports)
{
    std::sort(ports.begin(), ports.end(), [](const auto& a, const auto& b) { return a.host_port < b.host_port; });
    return ports;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "a listening socket blocks the publish of its port with a port_conflict naming it",
                 "[sockets][conflict]")
{
    add_namespace_addresses();
    constexpr std::uint16_t port = 18401;
    const Case c = GENERATE(
        Case{"tcp on 0.0.0.0, port on every address", Protocol::tcp, "0.0.0.0", {}, "", "tcp socket listening on 0.0.0.0:18401"},
        Case{"tcp on 0.0.0.0, port on one address",
             Protocol::tcp,
             "0.0.0.0",
             {},
             namespace_ipv4,
             "tcp socket listening on 0.0.0.0:18401"},
        Case{"tcp on one address, port on every address",
             Protocol::tcp,
             namespace_ipv4,
             {},
             "",
             "tcp socket listening on 10.77.0.1:18401"},
        Case{"tcp on one address, port on it",
             Protocol::tcp,
             namespace_ipv4,
             {},
             namespace_ipv4,
             "tcp socket listening on 10.77.0.1:18401"},
        Case{"tcp on :: (dual-stack), IPv4 port", Protocol::tcp, "::", {}, "0.0.0.0", "tcp socket listening on [::]:18401"},
        Case{"tcp on :: (IPv6 only), IPv6 port",
             Protocol::tcp,
             "::",
             {.v6only = true},
             "::",
             "tcp socket listening on [::]:18401"},
        Case{"tcp on one IPv6 address, port on it",
             Protocol::tcp,
             namespace_ipv6,
             {},
             namespace_ipv6,
             "tcp socket listening on [fd77::1]:18401"},
        Case{"udp on 0.0.0.0 with SO_REUSEADDR",
             Protocol::udp,
             "0.0.0.0",
             {.reuse = true},
             "",
             "udp socket bound to 0.0.0.0:18401"},
        Case{"udp on one address, port on it",
             Protocol::udp,
             namespace_ipv4,
             {},
             namespace_ipv4,
             "udp socket bound to 10.77.0.1:18401"},
        Case{"udp on :: (IPv6 only), IPv6 port",
             Protocol::udp,
             "::",
             {.v6only = true, .reuse = true},
             "::",
             "udp socket bound to [::]:18401"});
    INFO(c.what);

    HostPortPublisher publisher;
    const ContainerAddresses container{container_ipv4, container_ipv6};
    // Another port of the task, and of another task, that the socket does not block.
    publisher.publish_ports("other", container, std::vector{tcp(18400, 80)});
    auto socket = open_socket(c, port);
    const auto before = kernel_ports();

    const auto e = expect_error([&] {
        publisher.publish_ports("web", container, std::vector{tcp(18402, 80), mapping(c, port)});
    });
    INFO(describe(e));
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Contains(std::string(c.described) + this_process()));
    CHECK(kernel_ports() == before);
    CHECK(publisher.published_ports("web").empty());

    socket.close();
    publisher.publish_ports("web", container, std::vector{tcp(18402, 80), mapping(c, port)});
    CHECK(by_host_port(publisher.published_ports("web")) == std::vector{mapping(c, port), tcp(18402, 80)});
}

TEST_CASE_METHOD(FreshNetns, "a socket the published port would not receive from does not block it", "[sockets][conflict]")
{
    add_namespace_addresses();
    HostPortPublisher publisher;
    const auto only6 = tcp_listening("::", 18411, {.v6only = true});
    const auto other_address = tcp_listening("127.0.0.1", 18412);
    const auto other_protocol = udp_bound("0.0.0.0", 18413);

    // The task has only an IPv4 address: its ports on every address are IPv4 ports.
    const std::vector ports{tcp(18411, 80), on(namespace_ipv4, tcp(18412, 80)), tcp(18413, 80)};
    publisher.publish_ports("web", container_ipv4, ports);
    CHECK(by_host_port(publisher.published_ports("web")) == ports);
}

TEST_CASE_METHOD(FreshNetns, "check_listening_sockets = false publishes over a listening socket", "[sockets][conflict]")
{
    HostPortPublisher publisher(PublisherOptions{.check_listening_sockets = false});
    const auto socket = tcp_listening("0.0.0.0", 18421);
    const auto datagrams = udp_bound("::", 18422);
    const std::vector ports{tcp(18421, 80), udp(18422, 53)};
    publisher.publish_ports("web", ContainerAddresses{container_ipv4, container_ipv6}, ports);
    CHECK(publisher.published_ports("web") == ports);
}

TEST_CASE_METHOD(FreshNetns, "automatic host ports never pick a port a socket holds", "[sockets][conflict]")
{
    const bool check = GENERATE(true, false);
    INFO("check_listening_sockets = " << check);
    HostPortPublisher publisher(PublisherOptions{.check_listening_sockets = check, .automatic_ports = {18431, 18434}});
    const auto any4 = tcp_listening("0.0.0.0", 18431);
    const auto dual = tcp_listening("::", 18432);
    const auto datagrams = udp_bound("0.0.0.0", 18433);  // another protocol: no obstacle

    // The two ports of the range no socket holds, in whichever order the publisher picks them.
    const auto first = publisher.publish_ports("web", container_ipv4, std::vector{tcp(0, 80)});
    const auto second = publisher.publish_ports("db", container_ipv4, std::vector{tcp(0, 5432)});
    REQUIRE(first.size() == 1);
    REQUIRE(second.size() == 1);
    std::vector<std::uint16_t> chosen{first[0].host_port, second[0].host_port};
    std::sort(chosen.begin(), chosen.end());
    CHECK(chosen == std::vector<std::uint16_t>{18433, 18434});
    // Every port of the range is held by a socket or published.
    const auto e = expect_error([&] { publisher.publish_ports("cache", container_ipv4, std::vector{tcp(0, 6379)}); });
    INFO(describe(e));
    CHECK(e.code() == errc::port_conflict);
    CHECK(publisher.published_ports("cache").empty());
}

TEST_CASE_METHOD(FreshNetns, "a socket of another network namespace does not block a port", "[sockets][conflict]")
{
    const auto elsewhere = sandbox::Netns::create();
    const auto socket = elsewhere.run([] { return tcp_listening("0.0.0.0", 18441); });
    HostPortPublisher publisher;
    publisher.publish_ports("web", container_ipv4, std::vector{tcp(18441, 80)});
    CHECK(publisher.published_ports("web") == std::vector{tcp(18441, 80)});
    // One of the publisher's own namespace does.
    const auto here = tcp_listening("0.0.0.0", 18442);
    CHECK(expect_error([&] { publisher.publish_ports("db", container_ipv4, std::vector{tcp(18442, 80)}); }).code() ==
          errc::port_conflict);
}
