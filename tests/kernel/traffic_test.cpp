// SPDX-License-Identifier: Apache-2.0
// Real traffic through published ports: client -> host:host_port -> container:container_port and back,
// for TCP and UDP, from another namespace and from the host itself; nothing before publish or after
// unpublish; transit traffic not addressed to the host is left alone.
#include "support.hpp"
#include "traffic.hpp"

using namespace kt;

namespace {

constexpr std::uint16_t tcp_container_port = 8080;
constexpr std::uint16_t udp_container_port = 5353;
constexpr std::uint16_t tcp_host_port = 18080;
constexpr std::uint16_t udp_host_port = 15353;

std::string last_peer(const EchoServer& server)
{
    const auto peers = server.peers();
    return peers.empty() ? std::string("(none)") : peers.back();
}

// The echo servers of the container: the published ports, and listeners on the host port numbers that
// only transit traffic (not DNATed) can reach.
struct Container {
    explicit Container(const Topology& net)
        : tcp_published(net.container, Transport::tcp, tcp_container_port, "tcp-published"),
          udp_published(net.container, Transport::udp, udp_container_port, "udp-published"),
          tcp_direct(net.container, Transport::tcp, tcp_host_port, "tcp-direct"),
          udp_direct(net.container, Transport::udp, udp_host_port, "udp-direct")
    {
    }
    EchoServer tcp_published, udp_published, tcp_direct, udp_direct;
};

// Sends `message` and expects `server` (answering as `tag`) to echo it, having seen `peer` as source.
void expect_echo(const Netns& from, Transport transport, const std::string& ip, std::uint16_t port, const std::string& message,
                 const EchoServer& server, const std::string& tag, const std::string& peer)
{
    const auto r = exchange(from, transport, ip, port, message);
    INFO("to " << ip << ":" << port << " (" << (transport == Transport::tcp ? "tcp" : "udp") << "): " << r.error);
    REQUIRE(r.replied);
    CHECK(r.reply == tag + ":" + message);
    CHECK(last_peer(server) == peer);
}

const std::vector<PortMapping> web_ports = {tcp(tcp_host_port, tcp_container_port, "web"),
                                            udp(udp_host_port, udp_container_port, "dns")};

}  // namespace

TEST_CASE_METHOD(FreshNetns, "published ports carry real TCP and UDP traffic, and only while published", "[traffic]")
{
    const Topology net;
    Container container(net);

    // The topology itself works: the client reaches the container directly, without any NAT.
    {
        const auto direct = exchange(net.client, Transport::tcp, Topology::container_ip, tcp_container_port, "setup");
        INFO(direct.error);
        REQUIRE(direct.replied);
        REQUIRE(direct.reply == "tcp-published:setup");
        REQUIRE(last_peer(container.tcp_published) == Topology::client_ip);
    }

    HostPortPublisher publisher;  // in the host namespace

    // Before publishing nothing answers on the host port.
    {
        const auto t = exchange(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "early",
                                std::chrono::milliseconds(500));
        CHECK_FALSE(t.replied);
        CHECK(t.error == "connect: Connection refused");  // the host itself answered: nothing listens there
        const auto u = exchange(net.client, Transport::udp, Topology::host_client_side_ip, udp_host_port, "early",
                                std::chrono::milliseconds(500));
        CHECK_FALSE(u.replied);
    }

    publisher.publish_ports("web-1", Topology::container_ip, web_ports);
    // The publish deletes the unreplied UDP entries to its new port on the cleaner's thread: one
    // made by the test's first datagram before that ran would lose its NAT with the reply in flight.
    publisher.wait_for_conntrack_cleanup();

    SECTION("from another host: DNAT to the container, masqueraded to the host's address")
    {
        expect_echo(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "hello-tcp",
                    container.tcp_published, "tcp-published", Topology::host_container_side_ip);

        expect_echo(net.client, Transport::udp, Topology::host_client_side_ip, udp_host_port, "hello-udp",
                    container.udp_published, "udp-published", Topology::host_container_side_ip);

        // Any local address of the host works, not just the one facing the client.
        const auto other = exchange(net.client, Transport::tcp, Topology::host_container_side_ip, tcp_host_port, "other-address");
        INFO(other.error);
        CHECK(other.replied);
        CHECK(other.reply == "tcp-published:other-address");
    }

    SECTION("from the host itself (output chain)")
    {
        expect_echo(net.host, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "local-tcp", container.tcp_published,
                    "tcp-published", Topology::host_container_side_ip);

        expect_echo(net.host, Transport::udp, Topology::host_client_side_ip, udp_host_port, "local-udp", container.udp_published,
                    "udp-published", Topology::host_container_side_ip);
    }

    SECTION("the host's own services on 127.0.0.1 keep their port (loopback is never DNATed)")
    {
        // A service of the host listening on loopback at the published port number.
        EchoServer host_local(net.host, Transport::tcp, tcp_host_port, "host-loopback");
        const auto t = exchange(net.host, Transport::tcp, "127.0.0.1", tcp_host_port, "local");
        INFO(t.error);
        REQUIRE(t.replied);
        CHECK(t.reply == "host-loopback:local");
        CHECK(last_peer(container.tcp_published) != "127.0.0.1");
    }

    SECTION("from the container to its own published port through the host (hairpin)")
    {
        expect_echo(net.container, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "hairpin",
                    container.tcp_published, "tcp-published", Topology::host_container_side_ip);
    }

    SECTION("transit traffic not addressed to the host is neither DNATed nor masqueraded")
    {
        expect_echo(net.client, Transport::tcp, Topology::container_ip, tcp_host_port, "transit-tcp", container.tcp_direct,
                    "tcp-direct", Topology::client_ip);

        expect_echo(net.client, Transport::udp, Topology::container_ip, udp_host_port, "transit-udp", container.udp_direct,
                    "udp-direct", Topology::client_ip);
        CHECK(container.tcp_published.peers().size() == 1);  // only the setup exchange
        CHECK(container.udp_published.peers().empty());
    }

    SECTION("after unpublish new connections no longer reach the container")
    {
        REQUIRE(exchange(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "still").replied);
        REQUIRE(exchange(net.client, Transport::udp, Topology::host_client_side_ip, udp_host_port, "still").replied);
        const auto tcp_seen = container.tcp_published.peers().size();
        const auto udp_seen = container.udp_published.peers().size();

        publisher.unpublish_ports("web-1");

        const auto t = exchange(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "late",
                                std::chrono::milliseconds(500));
        CHECK_FALSE(t.replied);
        CHECK(t.error == "connect: Connection refused");
        const auto u = exchange(net.client, Transport::udp, Topology::host_client_side_ip, udp_host_port, "late",
                                std::chrono::milliseconds(500));
        CHECK_FALSE(u.replied);
        const auto local = exchange(net.host, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "late-local",
                                    std::chrono::milliseconds(500));
        CHECK_FALSE(local.replied);
        CHECK(container.tcp_published.peers().size() == tcp_seen);
        CHECK(container.udp_published.peers().size() == udp_seen);
    }
}

TEST_CASE_METHOD(FreshNetns, "traffic flows again after nft flush ruleset and the next publish", "[traffic][self-healing]")
{
    const Topology net;
    Container container(net);
    HostPortPublisher publisher;
    publisher.publish_ports("web-1", Topology::container_ip, web_ports);
    REQUIRE(exchange(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "one").replied);

    nft({"flush", "ruleset"});
    CHECK_FALSE(exchange(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "flushed",
                         std::chrono::milliseconds(500))
                    .replied);

    // Another task publishes: the table comes back with its rules, and its port carries traffic.
    publisher.publish_ports("web-2", Topology::container_ip, std::vector{tcp(28080, tcp_container_port)});
    const auto t = exchange(net.client, Transport::tcp, Topology::host_client_side_ip, 28080, "two");
    INFO(t.error);
    REQUIRE(t.replied);
    CHECK(t.reply == "tcp-published:two");
    CHECK(last_peer(container.tcp_published) == Topology::host_container_side_ip);
}

TEST_CASE_METHOD(FreshNetns, "a re-published port leads new connections to the new container port", "[traffic]")
{
    const Topology net;
    Container container(net);
    HostPortPublisher publisher;
    publisher.publish_ports("web-1", Topology::container_ip, std::vector{tcp(tcp_host_port, tcp_container_port)});
    auto t = exchange(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "first");
    INFO(t.error);
    REQUIRE(t.replied);
    CHECK(t.reply == "tcp-published:first");

    // Same host port, now to the container's other listener.
    publisher.publish_ports("web-1", Topology::container_ip, std::vector{tcp(tcp_host_port, tcp_host_port)});
    t = exchange(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "second");
    INFO(t.error);
    REQUIRE(t.replied);
    CHECK(t.reply == "tcp-direct:second");
    CHECK(last_peer(container.tcp_direct) == Topology::host_container_side_ip);
}

TEST_CASE_METHOD(FreshNetns, "destination counters count real traffic and are read anew on every call", "[traffic][counters]")
{
    const Topology net;
    Container container(net);
    HostPortPublisher publisher(PublisherOptions{.counters = true});
    CHECK(publisher.destination_counters().empty());  // no table: nothing to count, nothing created
    CHECK(tables().empty());

    // Two host ports lead to one destination, which counts the traffic of both.
    constexpr std::uint16_t second_door = 28080;
    publisher.publish_ports("web-1", Topology::container_ip,
                            std::vector{tcp(tcp_host_port, tcp_container_port), tcp(second_door, tcp_container_port),
                                        udp(udp_host_port, udp_container_port)});
    publisher.wait_for_conntrack_cleanup();  // before the datagrams, whose entries it would delete
    const auto counters_of = [&](Protocol protocol, std::uint16_t port) {
        const auto all = publisher.destination_counters();
        // What the library reads is what nft shows.
        CHECK(as_kernel_counters(all) == kernel_backend_counters());
        for (const auto& c : all)
            if (c.container_ip == Topology::container_ip && c.protocol == protocol && c.container_port == port)
                return c;
        FAIL("no counters for " << Topology::container_ip << " " << warren::nft::to_string(protocol) << " " << port);
        return DestinationCounters{};
    };
    REQUIRE(publisher.destination_counters().size() == 2);
    CHECK(counters_of(Protocol::tcp, tcp_container_port).packets == 0);
    CHECK(counters_of(Protocol::udp, udp_container_port).bytes == 0);

    expect_echo(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "count-me", container.tcp_published,
                "tcp-published", Topology::host_container_side_ip);
    const auto one = counters_of(Protocol::tcp, tcp_container_port);
    INFO("after one TCP exchange: " << one);
    // At least the handshake and the data both ways, each packet at least 40 bytes of headers.
    CHECK(one.packets >= 5);
    CHECK(one.bytes >= one.packets * 40);
    CHECK(counters_of(Protocol::udp, udp_container_port).packets == 0);

    // The same publisher reads again: no ruleset change happened, yet the counters moved.
    expect_echo(net.client, Transport::tcp, Topology::host_client_side_ip, second_door, "and-me", container.tcp_published,
                "tcp-published", Topology::host_container_side_ip);
    const auto two = counters_of(Protocol::tcp, tcp_container_port);
    INFO("after the second exchange: " << two);
    CHECK(two.packets >= 2 * 5);
    CHECK(two.bytes > one.bytes);

    expect_echo(net.client, Transport::udp, Topology::host_client_side_ip, udp_host_port, "dns", container.udp_published,
                "udp-published", Topology::host_container_side_ip);
    const auto udp_counted = counters_of(Protocol::udp, udp_container_port);
    INFO("after one UDP exchange: " << udp_counted);
    CHECK(udp_counted.packets >= 2);  // the request and the reply
    CHECK(counters_of(Protocol::tcp, tcp_container_port) == two);

    // Unpublishing the destination's last port removes its counters.
    publisher.publish_ports("web-1", Topology::container_ip, std::vector{udp(udp_host_port, udp_container_port)});
    CHECK(publisher.destination_counters().size() == 1);
    CHECK(counters_of(Protocol::udp, udp_container_port) == udp_counted);  // untouched by the re-publish
}

TEST_CASE_METHOD(FreshNetns, "counters are off by default, and a publisher that wants them adds them without a gap in service",
                 "[traffic][counters]")
{
    const Topology net;
    Container container(net);
    HostPortPublisher plain;
    plain.publish_ports("web-1", Topology::container_ip, std::vector{tcp(tcp_host_port, tcp_container_port)});
    expect_echo(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "uncounted", container.tcp_published,
                "tcp-published", Topology::host_container_side_ip);
    if (tables_always_count()) {
        // This kernel cannot match on the ports maps alone: the table counts from the start.
        CHECK(kernel_backends_counted());
        REQUIRE(plain.destination_counters().size() == 1);
        CHECK(plain.destination_counters().front().packets >= 5);
        return;
    }
    CHECK_FALSE(kernel_has_backends());  // masquerade and forward matched on the original port
    CHECK(plain.destination_counters().empty());

    // Another process wants counters: its first change creates a counting backends set, with web-1's
    // destination in it, in the transaction that publishes its own port.
    HostPortPublisher counting(PublisherOptions{.counters = true});
    counting.publish_ports("web-2", Topology::container_ip, std::vector{udp(udp_host_port, udp_container_port)});
    CHECK(kernel_backends_counted());
    CHECK(kernel_backends() == std::vector<KernelBackend>{{Topology::container_ip, "tcp", tcp_container_port},
                                                          {Topology::container_ip, "udp", udp_container_port}});
    CHECK(plain.published_ports("web-1").size() == 1);
    REQUIRE(counting.destination_counters().size() == 2);
    CHECK(counting.destination_counters().front().packets == 0);  // counting starts with the new set

    // web-1 still answers, through the re-added rules, and is counted now.
    expect_echo(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "counted", container.tcp_published,
                "tcp-published", Topology::host_container_side_ip);
    const auto counted = counting.destination_counters().front();
    INFO(counted);
    CHECK(counted.protocol == Protocol::tcp);
    CHECK(counted.packets >= 5);
    CHECK(as_kernel_counters(plain.destination_counters()) == kernel_backend_counters());

    // The publisher without the wish leaves them on.
    plain.unpublish_ports("web-1");
    CHECK(kernel_backends_counted());
    CHECK(plain.destination_counters().size() == 1);
}

TEST_CASE_METHOD(
    FreshNetns,
    "a table of an earlier build, with a backends set that does not count, is migrated and its port answers before and after",
    "[traffic][counters]")
{
    const Topology net;
    Container container(net);
    const std::string container_ip = Topology::container_ip;
    const std::string tcp_port = std::to_string(tcp_host_port), tcp_destination = std::to_string(tcp_container_port);
    // What earlier builds wrote by default: every destination in a set without counters, and the
    // masquerade and forward rules looking it up.
    nft_script(
        "table ip warren {\n"
        "  map ports { type inet_proto . inet_service : ipv4_addr . inet_service;\n"
        "    elements = { tcp . " +
        tcp_port + " comment \"task=web-1\" : " + container_ip + " . " + tcp_destination +
        " } }\n"
        "  map bound_ports { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n"
        "  set backends { type ipv4_addr . inet_proto . inet_service;\n"
        "    elements = { " +
        container_ip + " . tcp . " + tcp_destination +
        " } }\n"
        "  chain prerouting { type nat hook prerouting priority dstnat; policy accept;\n"
        "    fib daddr type local dnat ip to ip daddr . meta l4proto . th dport map @bound_ports comment \"warren-nft: DNAT host "
        "ports published on one local address to containers\"\n"
        "    fib daddr type local dnat ip to meta l4proto . th dport map @ports comment \"warren-nft: DNAT published host ports "
        "of local addresses to containers\"\n  }\n"
        "  chain output { type nat hook output priority -100; policy accept;\n"
        "    fib daddr type local ip daddr != 127.0.0.0/8 dnat ip to ip daddr . meta l4proto . th dport map @bound_ports comment "
        "\"warren-nft: DNAT host ports published on one local non-loopback address to containers\"\n"
        "    fib daddr type local ip daddr != 127.0.0.0/8 dnat ip to meta l4proto . th dport map @ports comment \"warren-nft: "
        "DNAT published host ports of local non-loopback addresses to containers\"\n  }\n"
        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;\n"
        "    ct status dnat ip daddr . meta l4proto . th dport @backends masquerade comment \"warren-nft: masquerade connections "
        "DNATed to published containers\"\n  }\n"
        "  chain forward { type filter hook forward priority filter; policy accept;\n"
        "    ct status dnat ip daddr . meta l4proto . th dport @backends accept comment \"warren-nft: accept traffic to "
        "published containers\"\n"
        "    ct status dnat ip saddr . meta l4proto . th sport @backends accept comment \"warren-nft: accept replies from "
        "published containers\"\n  }\n"
        "}\n");
    expect_echo(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "before", container.tcp_published,
                "tcp-published", Topology::host_container_side_ip);

    // The first change of a publisher that does not count drops the set and matches on the
    // original port instead, in the transaction that publishes its own port.
    HostPortPublisher publisher;
    CHECK(publisher.published_ports("web-1") == std::vector{tcp(tcp_host_port, tcp_container_port)});
    publisher.publish_ports("web-2", container_ip, std::vector{udp(udp_host_port, udp_container_port)});
    CHECK(kernel_has_backends() == tables_always_count());  // where the kernel needs it, it counts
    CHECK(kernel_backends_counted() == tables_always_count());
    expect_echo(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_host_port, "after", container.tcp_published,
                "tcp-published", Topology::host_container_side_ip);
    expect_echo(net.client, Transport::udp, Topology::host_client_side_ip, udp_host_port, "and-udp", container.udp_published,
                "udp-published", Topology::host_container_side_ip);
}

TEST_CASE_METHOD(FreshNetns, "a port bound to one host address answers on that address only", "[traffic][host-ip]")
{
    const Topology net;
    Container container(net);
    HostPortPublisher publisher;
    const std::string one = Topology::host_client_side_ip;       // 10.200.1.1
    const std::string other = Topology::host_container_side_ip;  // 10.200.2.1, also the host's
    const auto refused = [&](const Netns& from, Transport transport, const std::string& ip, std::uint16_t port) {
        const auto r = exchange(from, transport, ip, port, "nobody", std::chrono::milliseconds(500));
        INFO("to " << ip << ":" << port << ": " << (r.replied ? r.reply : r.error));
        CHECK_FALSE(r.replied);
        if (transport == Transport::tcp)
            CHECK(r.error == "connect: Connection refused");  // the host itself answered: not DNATed
    };

    publisher.publish_ports(
        "web-1", Topology::container_ip,
        std::vector{on(one, tcp(tcp_host_port, tcp_container_port)), on(one, udp(udp_host_port, udp_container_port))});
    CHECK(kernel_ports().front().host_ip == one);

    // From another host and from the host itself, on the bound address: DNATed and masqueraded.
    expect_echo(net.client, Transport::tcp, one, tcp_host_port, "bound-tcp", container.tcp_published, "tcp-published",
                Topology::host_container_side_ip);
    expect_echo(net.client, Transport::udp, one, udp_host_port, "bound-udp", container.udp_published, "udp-published",
                Topology::host_container_side_ip);
    expect_echo(net.host, Transport::tcp, one, tcp_host_port, "bound-local", container.tcp_published, "tcp-published",
                Topology::host_container_side_ip);
    // On the host's other address the port is not published.
    refused(net.client, Transport::tcp, other, tcp_host_port);
    refused(net.client, Transport::udp, other, udp_host_port);
    refused(net.host, Transport::tcp, other, tcp_host_port);

    // Another task takes the same port on the other address, to another container port.
    publisher.publish_ports("web-2", Topology::container_ip, std::vector{on(other, tcp(tcp_host_port, tcp_host_port))});
    expect_echo(net.client, Transport::tcp, other, tcp_host_port, "other-address", container.tcp_direct, "tcp-direct",
                Topology::host_container_side_ip);
    expect_echo(net.client, Transport::tcp, one, tcp_host_port, "still-one", container.tcp_published, "tcp-published",
                Topology::host_container_side_ip);

    // All addresses overlap both: refused, and traffic is as it was.
    const auto e =
        expect_error([&] { publisher.publish_ports("web-3", Topology::container_ip, std::vector{tcp(tcp_host_port, 1)}); });
    CHECK(e.code() == errc::port_conflict);

    SECTION("unpublishing one address leaves the other")
    {
        publisher.unpublish_ports("web-1");
        refused(net.client, Transport::tcp, one, tcp_host_port);
        expect_echo(net.client, Transport::tcp, other, tcp_host_port, "left", container.tcp_direct, "tcp-direct",
                    Topology::host_container_side_ip);
    }
    SECTION("moving a task from one address to all addresses")
    {
        publisher.unpublish_ports("web-2");
        publisher.publish_ports("web-1", Topology::container_ip, std::vector{tcp(tcp_host_port, tcp_container_port)});
        expect_echo(net.client, Transport::tcp, one, tcp_host_port, "all-1", container.tcp_published, "tcp-published",
                    Topology::host_container_side_ip);
        expect_echo(net.client, Transport::tcp, other, tcp_host_port, "all-2", container.tcp_published, "tcp-published",
                    Topology::host_container_side_ip);
    }
    SECTION("after nft flush ruleset, publishing the bound port again brings it back")
    {
        nft({"flush", "ruleset"});
        refused(net.client, Transport::tcp, one, tcp_host_port);
        publisher.publish_ports("web-1", Topology::container_ip, std::vector{on(one, tcp(tcp_host_port, tcp_container_port))});
        expect_echo(net.client, Transport::tcp, one, tcp_host_port, "healed", container.tcp_published, "tcp-published",
                    Topology::host_container_side_ip);
        refused(net.client, Transport::tcp, other, tcp_host_port);
    }
}
