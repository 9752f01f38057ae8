// SPDX-License-Identifier: Apache-2.0
// Ingress backends in a table that counts (docs/ingress.md, "Masquerade and forward-accept"): each
// backend of an ingress port has a `backends` element, shared with host-mode destinations and other
// services by one use count, kept while draining, deleted at the last use, and put back by the
// counters upgrade and the healer.
#include "publisher/ingress_records.hpp"
#include "publisher/publisher_on.hpp"
#include "publisher/schema.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <set>

#include "ports.hpp"

using namespace warren::nft;
using ruleset::FakeBackend;
using ruleset::Family;

namespace {

PortMapping ingress_port(std::uint16_t host, std::uint16_t container)
{
    auto mapping = test::port(host, container);
    mapping.publish_mode = PublishMode::ingress;
    return mapping;
}

const std::vector<PortMapping> web{ingress_port(8080, 80)};

std::vector<IngressBackend> backends(std::initializer_list<const char*> addresses)
{
    std::vector<IngressBackend> out;
    for (const auto* address : addresses)
        out.push_back(IngressBackend{address, std::nullopt, 1});
    return out;
}

// The `backends` elements of the IPv4 table as "address:port/protocol".
std::set<std::string> destinations(const FakeBackend& fake)
{
    std::set<std::string> out;
    const auto& table = fake.state().at({Family::ip, layout::table_name});
    for (const auto& [key, element] : table.sets.at(layout::backends_set).elements) {
        const auto destination = layout::decode_destination_element(Family::ip, element);
        REQUIRE(destination);
        out.insert(layout::to_string(destination->address) + ":" + std::to_string(destination->port) + "/" +
                   (destination->protocol == Protocol::tcp ? "tcp" : "other"));
    }
    return out;
}

PublisherOptions counting() { return PublisherOptions{.counters = true}; }

}  // namespace

TEST_CASE("in a table that counts, each ingress backend has a backends element, and the claim none", "[ingress][api][counters]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake), counting());
    publisher.publish_ingress("web", web, backends({"10.88.0.5", "10.88.0.6"}));
    CHECK(fake.committed().size() == 1);  // with the records, in one transaction
    CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.6:80/tcp"});
    CHECK(publisher.destination_counters() ==
          std::vector<DestinationCounters>{{"10.88.0.5", Protocol::tcp, 80, 0, 0}, {"10.88.0.6", Protocol::tcp, 80, 0, 0}});

    SECTION("a backend left out loses its element, one added gets one")
    {
        publisher.publish_ingress("web", web, backends({"10.88.0.5", "10.88.0.7"}));
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.7:80/tcp"});
    }
    SECTION("a draining backend keeps its element")
    {
        publisher.drain_backend("web", "10.88.0.6");
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.6:80/tcp"});
        publisher.unpublish_ports("web");
        CHECK(destinations(fake).empty());
    }
    SECTION("shared with a host-mode port: deleted only when its last user leaves")
    {
        publisher.publish_ports("task-a", "10.88.0.5", std::vector{test::port(9090, 80)});
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.6:80/tcp"});
        publisher.unpublish_ports("web");
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp"});
        publisher.unpublish_ports("task-a");
        CHECK(destinations(fake).empty());
    }
    SECTION("shared with a host-mode port that leaves first")
    {
        publisher.publish_ports("task-a", "10.88.0.5", std::vector{test::port(9090, 80)});
        publisher.unpublish_ports("task-a");
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.6:80/tcp"});
    }
    SECTION("shared with another service and another port of the same service")
    {
        publisher.publish_ingress("api", std::vector{ingress_port(8081, 80)}, backends({"10.88.0.6"}));
        publisher.publish_ingress("web", std::vector{ingress_port(8080, 80), ingress_port(8082, 80)}, backends({"10.88.0.5"}));
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.6:80/tcp"});
        publisher.publish_ingress("web", std::vector{ingress_port(8082, 80)}, backends({"10.88.0.5"}));
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.6:80/tcp"});
        publisher.unpublish_ports("web");
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.6:80/tcp"});
        publisher.unpublish_ports("api");
        CHECK(destinations(fake).empty());
    }
    SECTION("a fresh publisher adopts the uses: a host-mode change repairs nothing and adds no claim's element")
    {
        auto fresh = publisher_on(test::share(fake), counting());
        const auto commits = fake.committed().size();
        fresh.publish_ports("task-a", "10.88.0.5", std::vector{test::port(9090, 80)});
        CHECK(fake.committed().size() == commits + 1);
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.6:80/tcp"});
        fresh.unpublish_ports("web");
        CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp"});
    }
}

TEST_CASE("a table converted to counting gets the backends elements of its ingress backends", "[ingress][api][counters]")
{
    FakeBackend fake;
    publisher_on(test::share(fake)).publish_ingress("web", web, backends({"10.88.0.5", "10.88.0.6"}));
    CHECK_FALSE(fake.state().at({Family::ip, layout::table_name}).sets.contains(layout::backends_set));
    auto publisher = publisher_on(test::share(fake), counting());
    publisher.publish_ports("task-a", "10.88.0.9", std::vector{test::port(9090, 90)});
    CHECK(fake.state().at({Family::ip, layout::table_name}).sets.at(layout::backends_set).declaration.counter);
    CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.6:80/tcp", "10.88.0.9:90/tcp"});
}

TEST_CASE("a self-healing publisher refills an emptied backends set with its ingress backends", "[ingress][api][counters][heal]")
{
    FakeBackend fake;
    std::mutex mutex;
    std::condition_variable reported;
    std::vector<RepairReport> reports;
    auto options = counting();
    options.self_heal = true;
    options.on_repair = [&](const RepairReport& report) {
        std::lock_guard lock(mutex);
        reports.push_back(report);
        reported.notify_all();
    };
    auto publisher = publisher_on(test::share(fake), options);
    publisher.publish_ingress("web", web, backends({"10.88.0.5", "10.88.0.6"}));
    fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::backends_set).elements.clear();
    fake.bump_generation();
    std::unique_lock lock(mutex);
    REQUIRE(reported.wait_for(lock, std::chrono::seconds(5), [&] { return !reports.empty(); }));
    CHECK(reports[0].error.empty());
    CHECK(destinations(fake) == std::set<std::string>{"10.88.0.5:80/tcp", "10.88.0.6:80/tcp"});
}
