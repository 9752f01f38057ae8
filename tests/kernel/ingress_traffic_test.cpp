// SPDX-License-Identifier: Apache-2.0
// Ingress mode under real traffic (docs/ingress.md): a client connects to an ingress host port of
// the host and three backend containers answer with their names, in both families. New connections
// spread by the backends' slots; a drained backend gets no new connection while one it had keeps
// working, until its deadline ends it (also when the publisher that drained it is gone by then);
// replacing the backend set moves no established connection; a UDP flow of a removed
// backend goes to another one at once (conntrack cleanup), and stays without cleanup; in a table
// that counts, each backend's `backends` element counts its traffic and goes with the service. A
// wide port (300 backends: one container answering on 300 addresses of each family) spreads
// connections over its 4,096 slots, those only the wide rule draws included, turns narrow when
// drained to 256 backends while a held connection goes on, and wide again with 300.
#include "dual_stack_support.hpp"
#include "tcp_sessions.hpp"

#include "netlink/kernel_backend.hpp"
#include "publisher/ingress_records.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <thread>

using namespace kt;
using sandbox::SessionServer;
using sandbox::TcpSession;
using warren::nft::IngressBackend;

namespace {

constexpr std::uint16_t ingress_tcp_port = 18080;
constexpr std::uint16_t ingress_udp_port = 15353;
constexpr std::size_t spread_connections = 3000;

const std::vector<PortMapping> tcp_ports{ingress(tcp(ingress_tcp_port, tcp_container_port))};
const std::vector<PortMapping> udp_ports{ingress(udp(ingress_udp_port, udp_container_port))};

const std::array<std::string, 3> names{"first", "second", "third"};

// The three containers: a TCP server that keeps connections open and a UDP echo server each,
// answering with the container's name.
struct IngressNet {
    Net net;
    SessionServer first_tcp{net.first, tcp_container_port, "first"};
    SessionServer second_tcp{net.second, tcp_container_port, "second"};
    SessionServer third_tcp{net.third, tcp_container_port, "third"};
    Echo first_udp{net.first, Transport::udp, udp_container_port, "first"};
    Echo second_udp{net.second, Transport::udp, udp_container_port, "second"};
    Echo third_udp{net.third, Transport::udp, udp_container_port, "third"};
};

// The backends' addresses in one family, in the order of `names`.
std::array<std::string, 3> backend_addresses(Family family)
{
    if (family == Family::ipv4)
        return {Net::first_ip, Net::second_ip, Net::third_ip};
    return {Net::first_ipv6, Net::second_ipv6, Net::third_ipv6};
}

std::vector<IngressBackend> backends(Family family, const std::array<std::uint32_t, 3>& weights)
{
    const auto addresses = backend_addresses(family);
    std::vector<IngressBackend> out;
    for (std::size_t i = 0; i < 3; ++i)
        if (weights[i] > 0)
            out.push_back(IngressBackend{addresses[i], std::nullopt, weights[i]});
    return out;
}

// The tag a server answered with ("second" of "second:hello", "fd00:201::7" of "fd00:201::7:hello":
// the messages hold no colon), or "" when there was no answer.
std::string answered_by(const sandbox::Exchange& r) { return r.replied ? r.reply.substr(0, r.reply.rfind(':')) : std::string(); }

// How many slots of the TCP ingress port lead to each backend, as nft lists the `ingress` map.
std::array<std::size_t, 3> slots_per_backend(Family family)
{
    const auto listing = nft({"list", "map", family == Family::ipv4 ? "ip" : "ip6", "warren", "ingress"});
    const auto addresses = backend_addresses(family);
    std::array<std::size_t, 3> counts{};
    for (std::size_t i = 0; i < 3; ++i) {
        const auto needle = ": " + addresses[i] + " . " + std::to_string(tcp_container_port);
        for (auto at = listing.find(needle); at != std::string::npos; at = listing.find(needle, at + 1))
            ++counts[i];
    }
    return counts;
}

// Opens connections to the ingress port until one reaches each backend in `wanted` (at most
// `attempts`), and keeps those.
std::map<std::string, std::unique_ptr<TcpSession>> hold_one_per_backend(const Net& net, const FamilyAddresses& a,
                                                                        const std::vector<std::string>& wanted)
{
    std::map<std::string, std::unique_ptr<TcpSession>> held;
    for (int attempt = 0; attempt < 200 && held.size() < wanted.size(); ++attempt) {
        auto session = std::make_unique<TcpSession>(net.client, a.host_client_side, ingress_tcp_port);
        const auto r = session->exchange("hold");
        INFO(r.error);
        REQUIRE(r.replied);
        const auto backend = answered_by(r);
        if (std::find(wanted.begin(), wanted.end(), backend) != wanted.end() && !held.count(backend))
            held.emplace(backend, std::move(session));
    }
    REQUIRE(held.size() == wanted.size());
    return held;
}

// Each held connection still answers, from the backend it was held for.
void expect_held_connections_answer(std::map<std::string, std::unique_ptr<TcpSession>>& held)
{
    for (auto& [backend, session] : held) {
        const auto message = unique_message("still-there");
        const auto r = session->exchange(message);
        INFO("connection held to " << backend << ": " << (r.replied ? r.reply : r.error));
        REQUIRE(r.replied);
        CHECK(r.reply == backend + ":" + message);
    }
}

// Opens `count` new connections to the ingress port, one after the other; how many each backend
// answered. Every connection must be answered.
std::map<std::string, std::size_t> new_connections(const Net& net, const FamilyAddresses& a, std::size_t count)
{
    std::map<std::string, std::size_t> answered;
    std::size_t failed = 0;
    std::string first_error;
    for (std::size_t i = 0; i < count; ++i) {
        TcpSession session(net.client, a.host_client_side, ingress_tcp_port);
        const auto r = session.exchange("hello");
        if (!r.replied) {
            if (failed++ == 0)
                first_error = r.error;
            continue;
        }
        ++answered[answered_by(r)];
    }
    INFO(failed << " of " << count << " connections failed, the first with: " << first_error);
    CHECK(failed == 0);
    return answered;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "new connections to an ingress port spread over three backends by their slots", "[ingress][traffic]")
{
    const IngressNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto weights = GENERATE(std::array<std::uint32_t, 3>{1, 1, 1}, std::array<std::uint32_t, 3>{1, 1, 2});
    const auto a = addresses_of(family);
    INFO(name_of(family) << ", weights " << weights[0] << ":" << weights[1] << ":" << weights[2]);
    HostPortPublisher publisher;
    publisher.publish_ingress("web", tcp_ports, backends(family, weights));

    // A backend's expected share is its slots / 256 (docs/ingress.md: largest remainders, ties to
    // the smaller address): 86, 85, 85 for 1:1:1 and 64, 64, 128 for 1:1:2.
    const auto slots = slots_per_backend(family);
    const auto expected_slots =
        weights[2] == 1 ? std::array<std::size_t, 3>{86, 85, 85} : std::array<std::size_t, 3>{64, 64, 128};
    REQUIRE(slots == expected_slots);

    const auto answered = new_connections(n.net, a, spread_connections);
    for (std::size_t i = 0; i < 3; ++i) {
        const double expected = static_cast<double>(spread_connections * slots[i]) / 256.0;
        const auto found = answered.find(names[i]);
        const double got = found == answered.end() ? 0.0 : static_cast<double>(found->second);
        INFO(names[i] << ": " << got << " of " << spread_connections << " connections, expected " << expected << " (" << slots[i]
                      << " of 256 slots) +-10%");
        CHECK(std::abs(got - expected) <= 0.1 * expected);
    }
    CHECK(answered.size() == 3);  // no answer from anyone else
}

TEST_CASE_METHOD(FreshNetns, "in a table that counts, each ingress backend has a backends element that counts its traffic",
                 "[ingress][traffic][counters]")
{
    const IngressNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(family));
    HostPortPublisher publisher(PublisherOptions{.counters = true});
    publisher.publish_ingress("web", tcp_ports, backends(family, {1, 1, 0}));
    const auto addresses = backend_addresses(family);
    const auto listed = [&] { return nft({"list", "set", family == Family::ipv4 ? "ip" : "ip6", "warren", "backends"}); };
    const auto element = [&](std::size_t i) { return addresses[i] + " . tcp . " + std::to_string(tcp_container_port); };
    INFO(listed());
    CHECK_THAT(listed(), Catch::Contains(element(0)) && Catch::Contains(element(1)) && !Catch::Contains(element(2)));

    const auto answered = new_connections(n.net, a, 20);
    CHECK(answered.size() == 2);
    const auto counters = publisher.destination_counters();
    REQUIRE(counters.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto found = std::find_if(counters.begin(), counters.end(), [&](const DestinationCounters& c) {
            return c.container_ip == addresses[i] && c.protocol == Protocol::tcp && c.container_port == tcp_container_port;
        });
        REQUIRE(found != counters.end());
        const auto connections = answered.count(names[i]) ? answered.at(names[i]) : 0;
        INFO(names[i] << ": " << connections << " connections, " << found->packets << " packets");
        // At least the handshake and the data both ways of each connection it answered.
        CHECK(connections > 0);
        CHECK(found->packets >= 5 * connections);
    }

    publisher.unpublish_ports("web");
    CHECK_THAT(listed(), !Catch::Contains(element(0)) && !Catch::Contains(element(1)));
    CHECK(publisher.destination_counters().empty());
}

// The held connection to `backend` gets no answer from it any more.
void expect_connection_ended(std::map<std::string, std::unique_ptr<TcpSession>>& held, const std::string& backend)
{
    const auto message = unique_message("after-the-deadline");
    const auto r = held.at(backend)->exchange(message);
    INFO("connection held to " << backend << ": " << (r.replied ? r.reply : r.error));
    CHECK(!r.replied);
    held.erase(backend);
}

std::chrono::sys_seconds seconds_from_now(int seconds)
{
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) + std::chrono::seconds(seconds);
}

TEST_CASE_METHOD(FreshNetns,
                 "a drained backend gets no new connection while a connection it had keeps exchanging data, until its "
                 "deadline ends it",
                 "[ingress][traffic][deadline]")
{
    const IngressNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(family));
    HostPortPublisher publisher;
    publisher.publish_ingress("web", tcp_ports, backends(family, {1, 1, 1}));
    auto held = hold_one_per_backend(n.net, a, {"first", "second", "third"});

    publisher.drain_backend("web", backend_addresses(family)[0]);
    const auto answered = new_connections(n.net, a, 300);
    CHECK(answered.count("first") == 0);
    CHECK(answered.count("second") == 1);
    CHECK(answered.count("third") == 1);
    expect_held_connections_answer(held);

    // Drained again, with a deadline: the connection it kept ends then, and no other backend's.
    const auto deadline = seconds_from_now(2);
    publisher.drain_backend("web", backend_addresses(family)[0], std::nullopt, deadline);
    expect_held_connections_answer(held);
    std::this_thread::sleep_until(deadline);
    publisher.wait_for_conntrack_cleanup();
    expect_connection_ended(held, "first");
    expect_held_connections_answer(held);
}

TEST_CASE_METHOD(FreshNetns, "a deadline whose publisher ended is acted on by the next publisher made after it",
                 "[ingress][traffic][deadline]")
{
    const IngressNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(family));
    std::chrono::sys_seconds deadline;
    std::map<std::string, std::unique_ptr<TcpSession>> held;
    {
        HostPortPublisher publisher;
        publisher.publish_ingress("web", tcp_ports, backends(family, {1, 1, 1}));
        held = hold_one_per_backend(n.net, a, {"first", "second"});
        deadline = seconds_from_now(2);
        publisher.drain_backend("web", backend_addresses(family)[1], std::nullopt, deadline);
    }  // gone before the deadline
    std::this_thread::sleep_until(deadline);
    expect_held_connections_answer(held);  // nobody acted yet
    HostPortPublisher restarted;
    restarted.wait_for_conntrack_cleanup();
    expect_connection_ended(held, "second");
    expect_held_connections_answer(held);
}

TEST_CASE_METHOD(FreshNetns, "replacing the backend set moves no established connection", "[ingress][traffic]")
{
    const IngressNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(family));
    HostPortPublisher publisher;
    publisher.publish_ingress("web", tcp_ports, backends(family, {1, 1, 0}));
    auto held = hold_one_per_backend(n.net, a, {"first", "second"});

    // The third backend joins and the first weighs three times the others: slots move.
    publisher.publish_ingress("web", tcp_ports, backends(family, {3, 1, 1}));
    REQUIRE(slots_per_backend(family) == std::array<std::size_t, 3>{154, 51, 51});
    expect_held_connections_answer(held);
    // The change took effect: new connections reach the new backend too.
    hold_one_per_backend(n.net, a, {"third"});
}

TEST_CASE_METHOD(FreshNetns,
                 "a UDP flow of a backend removed from an ingress port goes to another backend at once, and without "
                 "cleanup stays",
                 "[ingress][traffic][conntrack]")
{
    const IngressNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const bool cleanup = GENERATE(true, false);
    const auto a = addresses_of(family);
    INFO(name_of(family) << ", conntrack_cleanup " << cleanup);
    HostPortPublisher publisher(PublisherOptions{.conntrack_cleanup = cleanup});
    publisher.publish_ingress("dns", udp_ports, backends(family, {1, 1, 1}));
    publisher.wait_for_conntrack_cleanup();  // before the flow, which a late cleanup would delete

    sandbox::UdpFlow flow(n.net.client, family, 33400);
    auto r = flow.exchange(a.host_client_side, ingress_udp_port, "one");
    INFO(r.error);
    REQUIRE(r.replied);
    const auto reached = answered_by(r);
    const auto index = static_cast<std::size_t>(std::find(names.begin(), names.end(), reached) - names.begin());
    REQUIRE(index < 3);

    std::array<std::uint32_t, 3> without{1, 1, 1};
    without[index] = 0;
    publisher.publish_ingress("dns", udp_ports, backends(family, without));
    publisher.wait_for_conntrack_cleanup();
    r = flow.exchange(a.host_client_side, ingress_udp_port, "two");
    INFO("reached " << reached << " first; then " << (r.replied ? r.reply : r.error) << "\nconntrack:\n"
                    << describe(conntrack_entries_to_port(n.net, ingress_udp_port)));
    REQUIRE(r.replied);
    if (cleanup)
        CHECK(answered_by(r) != reached);
    else
        CHECK(answered_by(r) == reached);  // the entry's NAT holds: what cleanup is for
}

namespace {

namespace ingress_slots = warren::nft::ingress;
namespace ruleset = warren::nft::ruleset;

constexpr std::size_t wide_backend_count = 300;
constexpr std::size_t wide_connections = 3000;
constexpr std::size_t narrow_connections = 1000;

// The wide port's backends: 300 addresses of each family on the first container's lo, outside the
// topology's subnets (the host routes them to the container), in address order, which is key order.
std::vector<std::string> wide_backend_addresses(Family family)
{
    std::vector<std::string> out;
    for (std::size_t i = 0; i < wide_backend_count; ++i) {
        char text[40];
        if (family == Family::ipv4)
            std::snprintf(text, sizeof text, "10.201.%zu.%zu", i / 250, i % 250 + 1);
        else
            std::snprintf(text, sizeof text, "fd00:201::%zx", i + 1);
        out.emplace_back(text);
    }
    return out;
}

// One container answering on all those addresses, each connection with the address it reached.
struct WideIngressNet {
    WideIngressNet()
    {
        auto all = wide_backend_addresses(Family::ipv4);
        const auto ipv6 = wide_backend_addresses(Family::ipv6);
        all.insert(all.end(), ipv6.begin(), ipv6.end());
        net.first.run([&] { sandbox::add_loopback_addresses(all); });
        check_output({"ip", "route", "add", "10.201.0.0/16", "via", Net::first_ip});
        check_output({"ip", "-6", "route", "add", "fd00:201::/64", "via", Net::first_ipv6});
    }
    Net net;
    SessionServer server{net.first, tcp_container_port, SessionServer::LocalAddressTag{}};
};

std::vector<IngressBackend> weighted_equally(const std::vector<std::string>& addresses)
{
    std::vector<IngressBackend> out;
    for (const auto& address : addresses)
        out.push_back(IngressBackend{address, std::nullopt, 1});
    return out;
}

// The slot numbers of the TCP ingress port by backend address, read from the kernel (a dump of the
// ingress map) and decoded as the publisher decodes them.
using SlotsByBackend = std::map<std::string, std::vector<std::uint32_t>>;
SlotsByBackend slots_by_backend(Family family)
{
    const auto table_family = family == Family::ipv4 ? ruleset::Family::ip : ruleset::Family::ip6;
    warren::nft::netlink::KernelBackend backend;
    const std::vector<std::string> maps{"ingress"};
    const auto snapshot = backend.snapshot(ruleset::Table{table_family, "warren"}, {}, maps);
    SlotsByBackend out;
    for (const auto& element : snapshot.elements.at("ingress")) {
        const auto slot = ingress_slots::decode_slot(table_family, element);
        REQUIRE(slot);
        REQUIRE(slot->backend);
        if (slot->port.protocol == Protocol::tcp && slot->port.port == ingress_tcp_port)
            out[warren::nft::layout::to_string(slot->backend->address)].push_back(slot->slot);
    }
    return out;
}

// The port holds each slot number below `slot_count` once, and no other.
void expect_every_slot_once(const SlotsByBackend& slots, std::uint32_t slot_count)
{
    std::vector<std::uint32_t> all;
    for (const auto& [backend, numbers] : slots)
        all.insert(all.end(), numbers.begin(), numbers.end());
    std::sort(all.begin(), all.end());
    std::vector<std::uint32_t> expected(slot_count);
    std::iota(expected.begin(), expected.end(), 0U);
    CHECK(all.size() == slot_count);
    CHECK(all == expected);
}

// The backends whose slots are all numbered narrow_slot_count or more: only the wide rule's
// `numgen random mod 4096` reaches them.
std::set<std::string> beyond_narrow_slots(const SlotsByBackend& slots)
{
    std::set<std::string> out;
    for (const auto& [backend, numbers] : slots)
        if (*std::min_element(numbers.begin(), numbers.end()) >= ingress_slots::narrow_slot_count)
            out.insert(backend);
    return out;
}

std::size_t reached(const std::map<std::string, std::size_t>& answered, const std::set<std::string>& backends)
{
    return static_cast<std::size_t>(
        std::count_if(backends.begin(), backends.end(), [&](const std::string& backend) { return answered.count(backend) > 0; }));
}

// Every connection was answered from an address that holds slots of the port.
void expect_only_slot_holders_answered(const std::map<std::string, std::size_t>& answered, const SlotsByBackend& slots)
{
    for (const auto& [backend, connections] : answered) {
        INFO(connections << " connections answered from " << backend);
        CHECK(slots.count(backend) == 1);
    }
}

// How `count` (3,000) new connections spread over a wide port of 300 backends with 13 or 14 of the
// 4,096 slots each: all from backends holding slots, none of them with more than 3.5 times its
// expected share, and at least 95% of them reached, of all and of those holding only slots 256 and
// up. The bounds fail when the slot drawn is not uniform over the 4,096, yet leave room for chance:
// - a backend of 13 slots gets none of 3,000 connections with probability (1 - 13/4096)^3000 ~
//   7.2e-5, so that 15 of 300 get none has probability ~C(300,15) x (7.2e-5)^15 ~ 6e-38, and 3 of
//   44 (the backends drained and published again) ~C(44,3) x (7.2e-5)^3 ~ 5e-9;
// - it gets more than 3.5 times its 9.5 expected (34 or more) with probability ~5.8e-10 by the
//   binomial tail (2.9e-10 for 14 slots, 36 or more of 10.3): ~2e-7 for any of the 300.
void expect_wide_spread(const std::map<std::string, std::size_t>& answered, const SlotsByBackend& slots, std::size_t count)
{
    expect_only_slot_holders_answered(answered, slots);
    std::set<std::string> holders;
    for (const auto& [backend, numbers] : slots) {
        holders.insert(backend);
        const double expected = static_cast<double>(count * numbers.size()) / ingress_slots::wide_slot_count;
        const auto found = answered.find(backend);
        const auto got = found == answered.end() ? 0 : found->second;
        INFO(backend << ": " << got << " of " << count << " connections, expected " << expected << " (" << numbers.size()
                     << " of 4096 slots)");
        CHECK(static_cast<double>(got) <= 3.5 * expected);
    }
    INFO(reached(answered, holders) << " of " << holders.size() << " backends reached");
    CHECK(reached(answered, holders) * 100 >= holders.size() * 95);
    const auto beyond = beyond_narrow_slots(slots);
    INFO(reached(answered, beyond) << " of the " << beyond.size() << " backends with slots 256 and up only reached");
    CHECK(reached(answered, beyond) * 100 >= beyond.size() * 95);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns,
                 "a wide ingress port of 300 backends spreads new connections over its 4,096 slots, is narrow once drained "
                 "to 256 and wide again with 300",
                 "[ingress][traffic][wide]")
{
    const WideIngressNet n;
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    INFO(name_of(family));
    const auto addresses = wide_backend_addresses(family);
    HostPortPublisher publisher;
    publisher.publish_ingress("wide", tcp_ports, weighted_equally(addresses));

    // Wide: 4,096 slots, 14 each for the first 196 backends in key order and 13 for the others (largest
    // remainders, ties to the smaller key), given lowest first in key order: the first 19 (19 x 14 =
    // 266 > 256) hold the narrow slots, the other 281 only slots the narrow rule cannot draw.
    auto slots = slots_by_backend(family);
    expect_every_slot_once(slots, ingress_slots::wide_slot_count);
    CHECK(slots.size() == wide_backend_count);
    CHECK(beyond_narrow_slots(slots).size() == 281);
    expect_wide_spread(new_connections(n.net, a, wide_connections), slots, wide_connections);

    // Drained to 256 active backends, one transaction each (the last makes the port narrow) while a
    // connection to a backend that stays keeps exchanging data: the last 44 in key order but that one.
    auto session = std::make_unique<TcpSession>(n.net.client, a.host_client_side, ingress_tcp_port);
    const auto first = session->exchange("hold");
    INFO(first.error);
    REQUIRE(first.replied);
    const auto kept = answered_by(first);
    std::map<std::string, std::unique_ptr<TcpSession>> held;
    held.emplace(kept, std::move(session));
    std::set<std::string> drained;
    for (auto address = addresses.rbegin(); drained.size() < wide_backend_count - ingress_slots::narrow_slot_count; ++address)
        if (*address != kept) {
            publisher.drain_backend("wide", *address);
            drained.insert(*address);
        }
    slots = slots_by_backend(family);
    expect_every_slot_once(slots, ingress_slots::narrow_slot_count);
    CHECK(slots.size() == ingress_slots::narrow_slot_count);  // one slot for each active backend
    expect_held_connections_answer(held);
    // 256 backends of 1 slot each: one gets none of 1,000 connections with probability
    // (255/256)^1000 ~ 0.02, so about 5 of them (standard deviation ~2.2); 10% (26) is 9 deviations away.
    const auto narrow = new_connections(n.net, a, narrow_connections);
    expect_only_slot_holders_answered(narrow, slots);
    for (const auto& backend : drained)
        CHECK(narrow.count(backend) == 0);
    std::set<std::string> active;
    for (const auto& [backend, numbers] : slots)
        active.insert(backend);
    INFO(reached(narrow, active) << " of 256 active backends reached");
    CHECK(reached(narrow, active) * 10 >= active.size() * 9);
    expect_held_connections_answer(held);

    // Wide again with all 300: the backends that stayed keep their narrow slot, the freed slots 256
    // and up go to those below their share, so the drained ones hold only those.
    publisher.publish_ingress("wide", tcp_ports, weighted_equally(addresses));
    slots = slots_by_backend(family);
    expect_every_slot_once(slots, ingress_slots::wide_slot_count);
    CHECK(beyond_narrow_slots(slots) == drained);
    expect_wide_spread(new_connections(n.net, a, wide_connections), slots, wide_connections);
    expect_held_connections_answer(held);
}
