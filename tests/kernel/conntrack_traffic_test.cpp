// SPDX-License-Identifier: Apache-2.0
// Connection tracking after a change: a UDP client keeps its source port, so its datagrams are one
// conntrack flow whose NAT was decided by the first of them. Without cleanup a re-published port
// keeps sending it to the old container, and a client that sent before the publish stays
// black-holed until the entry idles out; with cleanup (the default) both reach the container at once.
#include "dual_stack_support.hpp"

#include "netlink/kernel_backend.hpp"
#include "publisher/publisher_on.hpp"
#include "ruleset/forwarding_backend.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>

using namespace kt;

namespace {

// A publisher with the given cleanup setting whose warnings the test can read.
struct WatchedPublisher {
    explicit WatchedPublisher(bool conntrack_cleanup)
        : publisher(PublisherOptions{.conntrack_cleanup = conntrack_cleanup,
                                     .logger = [this](warren::nft::LogLevel level, std::string_view message) {
                                         if (level >= warren::nft::LogLevel::warning)
                                             warnings.emplace_back(message);
                                     }})
    {
    }
    std::vector<std::string> warnings;
    HostPortPublisher publisher;
};

std::string joined(const std::vector<std::string>& lines)
{
    std::string text;
    for (const auto& line : lines)
        text += line + "\n";
    return text;
}

bool leads_to(const sandbox::ConntrackEntry& entry, const std::string& container) { return entry.reply.source == container; }

// The host's entries to `port`, once one of them leads to `destination` (waiting up to 2 s for the
// datagram that makes it); whatever is there by then otherwise.
std::vector<sandbox::ConntrackEntry> entries_once_leading_to(const DualStackNet& n, std::uint16_t port,
                                                             const std::string& destination)
{
    std::vector<sandbox::ConntrackEntry> entries;
    for (int i = 0; i < 200; ++i) {
        entries = conntrack_entries_to_port(n.net, port);
        if (std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return leads_to(e, destination); }))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return entries;
}

// The kernel backend, running `before_cleanup` each time before it forgets flows: what reaches the
// host between a change's commit and its conntrack cleanup, which runs on the publisher's thread.
class CleanupLater final : public warren::nft::ruleset::ForwardingBackend {
public:
    explicit CleanupLater(std::function<void()> before_cleanup)
        : CleanupLater(std::make_unique<warren::nft::netlink::KernelBackend>(), std::move(before_cleanup))
    {
    }
    std::size_t forget_flows(std::span<const warren::nft::ruleset::FlowMatch> matches) override
    {
        before_cleanup_();
        return next_.forget_flows(matches);
    }

private:
    CleanupLater(std::unique_ptr<warren::nft::netlink::KernelBackend> kernel, std::function<void()> before_cleanup)
        : ForwardingBackend(*kernel), kernel_(std::move(kernel)), before_cleanup_(std::move(before_cleanup))
    {
    }
    std::unique_ptr<warren::nft::netlink::KernelBackend> kernel_;
    std::function<void()> before_cleanup_;
};

}  // namespace

TEST_CASE_METHOD(
    FreshNetns, "a UDP flow follows its re-published host port to the second container, and without cleanup stays with the first",
    "[traffic][conntrack][dual-stack]")
{
    const DualStackNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const bool cleanup = GENERATE(true, false);
    const auto a = addresses_of(family);
    INFO(name_of(family) << ", conntrack_cleanup " << cleanup);
    WatchedPublisher watched(cleanup);
    auto& publisher = watched.publisher;
    const std::vector ports{udp(udp_host_port, udp_container_port)};

    publisher.publish_ports("dns", first_addresses, ports);
    // The publish's own cleanup runs on the publisher's thread: waiting for it keeps it from
    // deleting the entry this test is about to make.
    publisher.wait_for_conntrack_cleanup();
    UdpFlow flow(n.net.client, family, 33100);
    auto r = flow.exchange(a.host_client_side, udp_host_port, "one");
    INFO(r.error);
    REQUIRE(r.replied);
    CHECK(r.reply == "first-udp:one");
    {
        const auto entries = conntrack_entries_to_port(n.net, udp_host_port);
        INFO(describe(entries));
        REQUIRE(entries.size() == 1);
        CHECK(leads_to(entries.front(), a.first));
    }

    // The task moves to the second container, on the same host port.
    publisher.publish_ports("dns", second_addresses, ports);
    publisher.wait_for_conntrack_cleanup();  // done on the publisher's thread, after the call
    r = flow.exchange(a.host_client_side, udp_host_port, "two");
    const auto entries = conntrack_entries_to_port(n.net, udp_host_port);
    INFO(r.error << "\nconntrack:\n" << describe(entries) << "warnings:\n" << joined(watched.warnings));
    REQUIRE(r.replied);
    CHECK(watched.warnings.empty());
    if (cleanup) {
        CHECK(r.reply == "second-udp:two");
        CHECK(std::none_of(entries.begin(), entries.end(), [&](const auto& e) { return leads_to(e, a.first); }));
    } else {
        // The old entry's NAT still holds: what cleanup is for (and the proof this test can fail).
        CHECK(r.reply == "first-udp:two");
    }
}

TEST_CASE_METHOD(FreshNetns,
                 "a UDP client that sent to the host port before it was published gets through right after the publish",
                 "[traffic][conntrack][dual-stack]")
{
    const DualStackNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const bool cleanup = GENERATE(true, false);
    const auto a = addresses_of(family);
    INFO(name_of(family) << ", conntrack_cleanup " << cleanup);
    WatchedPublisher watched(cleanup);
    auto& publisher = watched.publisher;
    // Another task's port: the tables exist, so the host tracks connections of both families.
    publisher.publish_ports("other", first_addresses, std::vector{tcp(18099, tcp_container_port)});

    // Nothing is published there yet: the host itself refuses the datagram, and tracks the flow
    // unreplied, without NAT.
    UdpFlow flow(n.net.client, family, 33200);
    flow.send(a.host_client_side, udp_host_port, "early");
    const auto early = entries_once_leading_to(n, udp_host_port, a.host_client_side);
    INFO("before the publish:\n" << describe(early));
    REQUIRE(early.size() == 1);
    CHECK_FALSE(early.front().seen_reply);
    CHECK(early.front().reply.source == a.host_client_side);  // not translated

    publisher.publish_ports("dns", first_addresses, std::vector{udp(udp_host_port, udp_container_port)});
    publisher.wait_for_conntrack_cleanup();
    const auto r = flow.exchange(a.host_client_side, udp_host_port, "right-after",
                                 cleanup ? std::chrono::milliseconds(1500) : no_answer_wait);
    INFO((r.replied ? r.reply : r.error) << "\nconntrack:\n"
                                         << describe(conntrack_entries_to_port(n.net, udp_host_port)) << "warnings:\n"
                                         << joined(watched.warnings));
    CHECK(watched.warnings.empty());
    if (cleanup) {
        REQUIRE(r.replied);
        CHECK(r.reply == "first-udp:right-after");
    } else {
        // The unreplied entry without NAT keeps the flow away from the container (netavark #1045).
        CHECK_FALSE(r.replied);
        CHECK(n.first.udp.server.peers().empty());
    }
}

TEST_CASE_METHOD(FreshNetns,
                 "after unpublish no UDP conntrack entry to the host port remains, and flows to the container port itself stay",
                 "[traffic][conntrack][dual-stack]")
{
    const DualStackNet n;
    WatchedPublisher watched(true);
    auto& publisher = watched.publisher;
    publisher.publish_ports("web", first_addresses,
                            std::vector{tcp(tcp_host_port, tcp_container_port), udp(udp_host_port, udp_container_port)});
    publisher.wait_for_conntrack_cleanup();  // before the flows below, which it would otherwise delete

    std::vector<std::unique_ptr<UdpFlow>> flows;
    std::uint16_t source_port = 33300;
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto a = addresses_of(family);
        expect_reaches(n.net.client, Transport::tcp, a.host_client_side, tcp_host_port, n.first.tcp, a.host_bridge);
        for (const auto* destination : {&a.host_client_side, &a.first}) {
            // To the published host port, and straight to the container's port (routed, no NAT):
            // a flow the unpublish has no business with.
            flows.push_back(std::make_unique<UdpFlow>(n.net.client, family, source_port++));
            const auto port = *destination == a.first ? udp_container_port : udp_host_port;
            const auto r = flows.back()->exchange(*destination, port, "tracked");
            INFO("to " << *destination << ": " << r.error);
            REQUIRE(r.replied);
        }
    }
    const auto count = [&](std::uint16_t port, std::uint8_t protocol) {
        const auto entries = conntrack_entries_to_port(n.net, port);
        return std::count_if(entries.begin(), entries.end(), [&](const auto& e) { return e.protocol == protocol; });
    };
    REQUIRE(count(tcp_host_port, IPPROTO_TCP) == 2);  // one per family, in TIME_WAIT or closing
    REQUIRE(count(udp_host_port, IPPROTO_UDP) == 2);
    REQUIRE(count(udp_container_port, IPPROTO_UDP) == 2);

    publisher.unpublish_ports("web");
    publisher.wait_for_conntrack_cleanup();
    INFO("conntrack after the unpublish:\n"
         << describe(sandbox::conntrack_entries(n.net.host)) << "warnings:\n"
         << joined(watched.warnings));
    CHECK(watched.warnings.empty());
    CHECK(conntrack_entries_to_port(n.net, udp_host_port).empty());
    // TCP connections are left to end (docs/architecture.md): a closed one stays until it times out.
    CHECK(count(tcp_host_port, IPPROTO_TCP) == 2);
    // Matched on the host port, not on the container port.
    CHECK(count(udp_container_port, IPPROTO_UDP) == 2);
}

TEST_CASE_METHOD(FreshNetns,
                 "a datagram NATed to the container before the publish's cleanup ran keeps its entry, unlike one sent before",
                 "[traffic][conntrack][dual-stack]")
{
    const DualStackNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(family));
    // A container port nothing listens on: the datagram's entry stays unreplied, like one whose
    // answer is still on its way.
    constexpr std::uint16_t silent_port = udp_container_port + 7;
    UdpFlow early(n.net.client, family, 33400), late(n.net.client, family, 33401);
    std::atomic<bool> armed = false;
    std::atomic<bool> late_tracked = false;
    auto publisher = warren::nft::publisher_on(std::make_unique<CleanupLater>([&] {
        if (!armed.exchange(false))
            return;
        late.send(a.host_client_side, udp_host_port, "late");
        const auto entries = entries_once_leading_to(n, udp_host_port, a.first);
        late_tracked = std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return leads_to(e, a.first); });
    }));
    // Another task's port: the tables exist, so the host tracks connections of both families.
    publisher.publish_ports("other", first_addresses, std::vector{tcp(18099, tcp_container_port)});
    publisher.wait_for_conntrack_cleanup();

    early.send(a.host_client_side, udp_host_port, "early");  // nothing published there yet: no NAT
    const auto before = entries_once_leading_to(n, udp_host_port, a.host_client_side);
    REQUIRE(before.size() == 1);
    REQUIRE(leads_to(before.front(), a.host_client_side));

    armed = true;
    publisher.publish_ports("dns", first_addresses, std::vector{udp(udp_host_port, silent_port)});
    publisher.wait_for_conntrack_cleanup();
    REQUIRE(late_tracked);
    const auto after = conntrack_entries_to_port(n.net, udp_host_port);
    INFO("before the publish:\n" << describe(before) << "after its cleanup:\n" << describe(after));
    REQUIRE(after.size() == 1);
    CHECK(leads_to(after.front(), a.first));
    CHECK(after.front().reply.source_port == silent_port);
    CHECK_FALSE(after.front().seen_reply);
}
