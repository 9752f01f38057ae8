// SPDX-License-Identifier: Apache-2.0
// The ingress API (docs/ingress.md) over the in-memory fake: the claims, records and slots a
// publish, a replace, a drain and an unpublish write; conflicts with host-mode ports; adoption by a
// fresh publisher; hostile elements read back; bad requests that change nothing.
#include "publisher/ingress_records.hpp"
#include "publisher/publisher_on.hpp"
#include "publisher/schema.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "error_of.hpp"
#include "ports.hpp"

using namespace warren::nft;
using ruleset::FakeBackend;
using ruleset::Family;
using test::error_of;

namespace {

PortMapping ingress_port(std::uint16_t host, std::uint16_t container, Protocol protocol = Protocol::tcp)
{
    auto mapping = test::port(host, container, protocol);
    mapping.publish_mode = PublishMode::ingress;
    return mapping;
}

const std::vector<PortMapping> web{ingress_port(8080, 80)};

std::vector<IngressBackend> backends(std::initializer_list<std::pair<const char*, std::uint32_t>> weighted)
{
    std::vector<IngressBackend> out;
    for (const auto& [address, weight] : weighted)
        out.push_back(IngressBackend{address, std::nullopt, weight});
    return out;
}

const std::map<ruleset::Bytes, ruleset::Element>& elements(const FakeBackend& fake, Family family, const char* set)
{
    return fake.state().at({family, layout::table_name}).sets.at(set).elements;
}

// How many slots of the port send to each backend address, read from the fake's ingress map.
std::map<std::string, std::size_t> slot_counts(const FakeBackend& fake, Family family = Family::ip, std::uint16_t port = 8080)
{
    std::map<std::string, std::size_t> out;
    for (const auto& [key, element] : elements(fake, family, layout::ingress_map)) {
        const auto slot = ingress::decode_slot(family, element);
        REQUIRE(slot);
        REQUIRE(slot->backend);
        if (slot->port.port == port)
            ++out[layout::to_string(slot->backend->address)];
    }
    return out;
}

std::vector<std::string> record_comments(const FakeBackend& fake, Family family = Family::ip)
{
    std::vector<std::string> out;
    for (const auto& [key, element] : elements(fake, family, layout::ingress_backends_set))
        out.push_back(element.comment);
    return out;
}

// The ingress map operations of the last commit, by verb.
std::map<ruleset::Verb, std::size_t> slot_operations(const FakeBackend& fake)
{
    std::map<ruleset::Verb, std::size_t> out;
    for (const auto& operation : fake.committed().back().operations())
        if (const auto* element = std::get_if<ruleset::Element>(&operation.object);
            element && element->set == layout::ingress_map)
            ++out[operation.verb];
    return out;
}

}  // namespace

TEST_CASE("an ingress publish writes the claim, one record per backend and 256 slots by weight", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 1}}));
    CHECK(fake.committed().size() == 1);
    CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 86}, {"10.88.0.6", 85}, {"10.88.0.7", 85}});
    CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::narrow_slot_count);
    CHECK(record_comments(fake) == std::vector<std::string>(3, "task=web weight=1"));
    const auto& ports = elements(fake, Family::ip, layout::ports_map);
    REQUIRE(ports.size() == 1);
    CHECK(ports.begin()->second.comment == "task=web ingress");
    const auto claim = layout::decode_port_element(Family::ip, ports.begin()->second);
    REQUIRE(claim);
    CHECK(ingress::claim_value(*claim));
    // No IPv6 backend, no IPv6 table.
    CHECK_FALSE(fake.state().contains({Family::ip6, layout::table_name}));

    SECTION("1:1:2")
    {
        publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 2}}));
        CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 64}, {"10.88.0.6", 64}, {"10.88.0.7", 128}});
        CHECK(record_comments(fake) == std::vector<std::string>{"task=web weight=1", "task=web weight=1", "task=web weight=2"});
    }
    SECTION("publishing the same again sends nothing")
    {
        publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 1}}));
        CHECK(fake.committed().size() == 1);
    }
    SECTION("unpublish removes claim, records and slots in one transaction")
    {
        publisher.unpublish_ports("web");
        CHECK(fake.committed().size() == 2);
        CHECK(elements(fake, Family::ip, layout::ports_map).empty());
        CHECK(elements(fake, Family::ip, layout::ingress_map).empty());
        CHECK(elements(fake, Family::ip, layout::ingress_backends_set).empty());
        CHECK(publisher.ingress_services().empty());
    }
}

TEST_CASE("replacing the backend set moves only the freed slots", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 1}}));
    std::map<std::uint32_t, std::string> before;
    for (const auto& [key, element] : elements(fake, Family::ip, layout::ingress_map)) {
        const auto slot = ingress::decode_slot(Family::ip, element);
        before[slot->slot] = layout::to_string(slot->backend->address);
    }
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 128}, {"10.88.0.6", 128}});
    // Only 10.88.0.7's 85 slots changed: each deleted and created again with its new backend.
    CHECK(slot_operations(fake) ==
          std::map<ruleset::Verb, std::size_t>{{ruleset::Verb::create, 85}, {ruleset::Verb::remove, 85}});
    for (const auto& [key, element] : elements(fake, Family::ip, layout::ingress_map)) {
        const auto slot = ingress::decode_slot(Family::ip, element);
        if (before[slot->slot] != "10.88.0.7")
            CHECK(layout::to_string(slot->backend->address) == before[slot->slot]);
    }
    CHECK(record_comments(fake) == std::vector<std::string>(2, "task=web weight=1"));
}

TEST_CASE("draining a backend moves its slots and keeps its record as draining", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 1}}));
    publisher.drain_backend("web", "10.88.0.7", std::nullopt, std::chrono::sys_seconds(std::chrono::seconds(1796400000)));
    CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 128}, {"10.88.0.6", 128}});
    CHECK(slot_operations(fake) ==
          std::map<ruleset::Verb, std::size_t>{{ruleset::Verb::create, 85}, {ruleset::Verb::remove, 85}});
    CHECK(record_comments(fake) ==
          std::vector<std::string>{"task=web weight=1", "task=web weight=1", "task=web weight=1 draining until=1796400000"});
    const auto services = publisher.ingress_services();
    REQUIRE(services.size() == 1);
    REQUIRE(services[0].ports.size() == 1);
    const auto& drained = services[0].ports[0].backends.at(2);
    CHECK(drained.address == "10.88.0.7");
    CHECK(drained.state == BackendState::draining);
    CHECK(drained.deadline == std::chrono::sys_seconds(std::chrono::seconds(1796400000)));

    SECTION("draining the last active backend is refused and changes nothing")
    {
        publisher.drain_backend("web", "10.88.0.6", 80);
        const auto state = fake.state();
        const auto e = error_of([&] { publisher.drain_backend("web", "10.88.0.5"); });
        CHECK(e.code() == errc::invalid_argument);
        CHECK_THAT(e.what(), Catch::Contains("last active backend"));
        CHECK(fake.state() == state);
    }
    SECTION("unknown services and backends are refused")
    {
        const auto state = fake.state();
        CHECK(error_of([&] { publisher.drain_backend("db", "10.88.0.5"); }).code() == errc::invalid_argument);
        CHECK(error_of([&] { publisher.drain_backend("web", "10.88.0.9"); }).code() == errc::invalid_argument);
        CHECK(error_of([&] { publisher.drain_backend("web", "10.88.0.5", 81); }).code() == errc::invalid_argument);
        CHECK(fake.state() == state);
    }
    SECTION("publishing again makes it active again")
    {
        publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 1}}));
        CHECK(record_comments(fake) == std::vector<std::string>(3, "task=web weight=1"));
        CHECK(slot_counts(fake).at("10.88.0.7") == 85);
    }
}

TEST_CASE("a host port is either host-mode or ingress, in one publisher and across publishers", "[ingress][api]")
{
    FakeBackend fake;
    auto first = publisher_on(test::share(fake));
    auto second = publisher_on(test::share(fake));
    first.publish_ports("task-a", "10.88.0.2", std::vector{test::port(8080, 80)});
    first.publish_ingress("web", std::vector{ingress_port(9090, 80)}, backends({{"10.88.0.5", 1}}));
    const auto state = fake.state();
    const auto attempts = fake.commit_attempts();
    for (auto* publisher : {&first, &second}) {
        const auto ingress_over_host = error_of([&] { publisher->publish_ingress("web", web, backends({{"10.88.0.5", 1}})); });
        CHECK(ingress_over_host.code() == errc::port_conflict);
        CHECK_THAT(ingress_over_host.what(), Catch::Contains("task-a"));
        const auto host_over_ingress =
            error_of([&] { publisher->publish_ports("task-b", "10.88.0.3", std::vector{test::port(9090, 80)}); });
        CHECK(host_over_ingress.code() == errc::port_conflict);
        const auto other_service = error_of([&] {
            publisher->publish_ingress("db", std::vector{ingress_port(9090, 80)}, backends({{"10.88.0.6", 1}}));
        });
        CHECK(other_service.code() == errc::port_conflict);
        CHECK_THAT(other_service.what(), Catch::Contains("\"web\""));
    }
    // Every conflict was found in the publishers' views, the first one's kept current by its own
    // ingress commit: nothing was sent for the kernel to refuse.
    CHECK(fake.commit_attempts() == attempts);
    CHECK(fake.state() == state);
}

TEST_CASE("a fresh publisher adopts ingress services with their backends, weights and draining state", "[ingress][api]")
{
    FakeBackend fake;
    {
        auto first = publisher_on(test::share(fake));
        std::vector<IngressBackend> set{{"10.88.0.5", std::nullopt, 1}, {"10.88.0.6", 8080, 3}, {"fd00::5", std::nullopt, 2}};
        first.publish_ingress("web", web, set);
        first.drain_backend("web", "10.88.0.5");
    }
    auto second = publisher_on(test::share(fake));
    const IngressService expected{
        "web",
        {IngressPort{Protocol::tcp,
                     8080,
                     AddressFamily::ipv4,
                     {IngressBackend{"10.88.0.5", 80, 1, BackendState::draining}, IngressBackend{"10.88.0.6", 8080, 3}}},
         IngressPort{Protocol::tcp, 8080, AddressFamily::ipv6, {IngressBackend{"fd00::5", 80, 2}}}}};
    CHECK(second.ingress_services() == std::vector{expected});
    CHECK(slot_counts(fake, Family::ip) == std::map<std::string, std::size_t>{{"10.88.0.6", 256}});
    CHECK(slot_counts(fake, Family::ip6) == std::map<std::string, std::size_t>{{"fd00::5", 256}});
    // The adopted slots are where minimal movement starts: 10.88.0.7 takes only its share.
    second.publish_ingress(
        "web", web,
        std::vector<IngressBackend>{{"10.88.0.6", 8080, 3}, {"10.88.0.7", std::nullopt, 1}, {"fd00::5", std::nullopt, 2}});
    CHECK(slot_counts(fake, Family::ip) == std::map<std::string, std::size_t>{{"10.88.0.6", 192}, {"10.88.0.7", 64}});
    CHECK(slot_operations(fake) ==
          std::map<ruleset::Verb, std::size_t>{{ruleset::Verb::create, 64}, {ruleset::Verb::remove, 64}});
    second.unpublish_ports("web");
    CHECK(second.ingress_services().empty());
    CHECK(elements(fake, Family::ip6, layout::ingress_map).empty());
}

TEST_CASE("hostile ingress elements read back are not adopted, and damaged slots are reassigned", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    auto& table = fake.mutable_state().at({Family::ip, layout::table_name});
    auto& records = table.sets.at(layout::ingress_backends_set).elements;
    auto& slots = table.sets.at(layout::ingress_map).elements;
    const layout::HostPort port{Protocol::tcp, 8080, layout::any_address(Family::ip)};
    const auto address = [](const char* text) { return *layout::parse_address(text); };
    // Records whose comments are not what we write: foreign, never adopted.
    for (const char* comment : {"task=web weight=0", "task=web weight=01", "task=web weight=1 extra", "task=web weight=257",
                                "task=web weight=1 until=5", "task=w\neb weight=1", "task=web weight=1 draining until=-1"}) {
        const auto backend = "10.88.0." + std::to_string(20 + records.size());
        auto record = ingress::record_element(port, "web", {{address(backend.c_str()), 80}, 1, false, {}});
        record.comment = comment;
        records.insert_or_assign(record.key, record);
    }
    // A slot sent to an address that is no active record's, one with a value we never write, one past the last slot.
    auto hijacked = ingress::slot_element(port, 3, {address("10.88.0.66"), 80});
    slots.insert_or_assign(hijacked.key, hijacked);
    auto garbage = ingress::slot_element(port, 4, {address("10.88.0.5"), 80});
    garbage.data.back() = 7;
    slots.insert_or_assign(garbage.key, garbage);
    auto beyond = ingress::slot_element(port, 300, {address("10.88.0.5"), 80});
    slots.insert_or_assign(beyond.key, beyond);
    // Records and slots of a port nobody claims: orphans.
    const layout::HostPort unclaimed{Protocol::tcp, 7070, layout::any_address(Family::ip)};
    auto orphan = ingress::slot_element(unclaimed, 0, {address("10.88.0.5"), 80});
    slots.insert_or_assign(orphan.key, orphan);
    // A claim comment on a value that is not a claim's: another owner's port.
    auto fake_claim = layout::port_element({Protocol::tcp, 6060, layout::any_address(Family::ip)},
                                           {address("10.88.0.8"), Protocol::tcp, 80}, "task=evil ingress");
    table.sets.at(layout::ports_map).elements.insert_or_assign(fake_claim.key, fake_claim);
    fake.bump_generation();

    auto fresh = publisher_on(test::share(fake));
    const auto services = fresh.ingress_services();
    REQUIRE(services.size() == 1);
    CHECK(services[0].service == "web");
    REQUIRE(services[0].ports.size() == 1);
    CHECK(services[0].ports[0].backends.size() == 2);
    CHECK(error_of([&] {
              fresh.publish_ingress("evil", std::vector{ingress_port(6060, 80)}, backends({{"10.88.0.5", 1}}));
          }).code() == errc::port_conflict);

    // The next change of the port reads its slots by key and reassigns the damaged ones (3 and 4);
    // the foreign records stay. Slot 300 and the orphan of 7070 were there before the publisher read
    // the tables, and slots are read by the keys of the ports a change concerns (numbers 0-255): they
    // are not seen (docs/ingress.md, "The ingress view", limits).
    fresh.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    // (A commit replaces the fake's state: `slots` is read again.)
    const auto& now = fake.state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).elements;
    std::map<std::string, std::size_t> in_slot_range;
    for (std::uint32_t slot = 0; slot < ingress::narrow_slot_count; ++slot)
        if (const auto found = now.find(ingress::slot_element(port, slot, {}).key); found != now.end())
            ++in_slot_range[layout::to_string(ingress::decode_slot(Family::ip, found->second)->backend->address)];
    CHECK(in_slot_range == std::map<std::string, std::size_t>{{"10.88.0.5", 128}, {"10.88.0.6", 128}});
    CHECK(now.contains(beyond.key));
    CHECK(now.contains(orphan.key));
    CHECK(elements(fake, Family::ip, layout::ingress_backends_set).size() == 9);
    // A change that claims 7070 reads its slots first: the orphan is replaced, not a conflict.
    fresh.publish_ingress("web", std::vector{ingress_port(8080, 80), ingress_port(7070, 80)}, backends({{"10.88.0.6", 1}}));
    CHECK(slot_counts(fake, Family::ip, 7070) == std::map<std::string, std::size_t>{{"10.88.0.6", 256}});
    fresh.publish_ingress("web", web, backends({{"10.88.0.6", 1}}));
    CHECK(slot_counts(fake, Family::ip, 7070).empty());
}

TEST_CASE("orphan slots announced while a publisher follows the tables are deleted by its next ingress change", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    // Another program adds a slot to a port nobody claims, and one past the last slot of 8080.
    const layout::HostPort port{Protocol::tcp, 8080, layout::any_address(Family::ip)};
    const layout::HostPort unclaimed{Protocol::tcp, 7070, layout::any_address(Family::ip)};
    const auto address = *layout::parse_address("10.88.0.66");
    ruleset::Transaction tx(layout::table(Family::ip));
    tx.add(ingress::slot_element(unclaimed, 0, {address, 80}));
    tx.add(ingress::slot_element(port, 300, {address, 80}));
    fake.commit(tx, std::nullopt);
    REQUIRE(elements(fake, Family::ip, layout::ingress_map).size() == ingress::narrow_slot_count + 2);
    // Every change of a family's ingress elements deletes that table's leftovers, so that no slot of
    // an unclaimed port DNATs on.
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.7", 1}}));
    CHECK(slot_counts(fake, Family::ip, 7070).empty());
    CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::narrow_slot_count);
}

TEST_CASE("bad ingress requests are refused before anything is sent", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}}));
    const auto state = fake.state();
    const auto commits = fake.committed().size();
    auto host_mode = web;
    host_mode[0].publish_mode = PublishMode::host;
    auto bound = web;
    bound[0].host_ip = "10.0.0.1";
    auto automatic = web;
    automatic[0].host_port = 0;
    std::vector<IngressBackend> too_many;
    for (std::uint32_t i = 0; i <= ingress::max_active_backends; ++i)
        too_many.push_back(IngressBackend{"10.88.1." + std::to_string(i % 250 + 1), static_cast<std::uint16_t>(80 + i / 250)});
    std::vector<IngressBackend> draining{{"10.88.0.5"}};
    draining[0].state = BackendState::draining;
    const std::vector<std::function<void()>> bad{
        [&] {
            publisher.publish_ingress("bad id!", web, backends({{"10.88.0.5", 1}}));
        },
        [&] {
            publisher.publish_ingress("web", {}, backends({{"10.88.0.5", 1}}));
        },
        [&] { publisher.publish_ingress("web", web, {}); },
        [&] {
            publisher.publish_ingress("web", host_mode, backends({{"10.88.0.5", 1}}));
        },
        [&] {
            publisher.publish_ingress("web", bound, backends({{"10.88.0.5", 1}}));
        },
        [&] {
            publisher.publish_ingress("web", automatic, backends({{"10.88.0.5", 1}}));
        },
        [&] {
            publisher.publish_ingress("web", web, backends({{"10.88.0.5", 0}}));
        },
        [&] {
            publisher.publish_ingress("web", web, backends({{"10.88.0.5", 257}}));
        },
        [&] {
            publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.5", 2}}));
        },
        [&] {
            publisher.publish_ingress("web", web, std::vector<IngressBackend>{{"10.88.0.5", 80}, {"10.88.0.5"}});
        },
        [&] {
            publisher.publish_ingress("web", web, backends({{"127.0.0.1", 1}}));
        },
        [&] {
            publisher.publish_ingress("web", web, backends({{"0.0.0.0", 1}}));
        },
        [&] {
            publisher.publish_ingress("web", web, std::vector<IngressBackend>{{"10.88.0.5", 0}});
        },
        [&] { publisher.publish_ingress("web", web, too_many); },
        [&] { publisher.publish_ingress("web", web, draining); },
        [&] {
            publisher.publish_ingress("task-a", web, backends({{"10.88.0.5", 1}}));
        },
        [&] { publisher.drain_backend("web", "not an address"); },
    };
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{test::port(7070, 80)});
    const auto with_task = fake.state();
    for (std::size_t i = 0; i < bad.size(); ++i) {
        INFO("request " << i);
        CHECK(error_of(bad[i]).code() == errc::invalid_argument);
        CHECK(fake.state() == with_task);
    }
    CHECK(fake.committed().size() == commits + 1);
    CHECK(state != with_task);
}

TEST_CASE("an ingress map that lost its typeof is made again with every slot by the next ingress change", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).declaration.nft_typeof.reset();
    fake.bump_generation();
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 2}}));
    CHECK(fake.state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).declaration.nft_typeof.has_value());
    CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 64}, {"10.88.0.6", 64}, {"10.88.0.7", 128}});
    // The map was made again in the same transaction: every slot written, none deleted.
    CHECK(slot_operations(fake) == std::map<ruleset::Verb, std::size_t>{{ruleset::Verb::create, ingress::narrow_slot_count}});
}

TEST_CASE("a host-mode change that makes the ingress map again writes every service's slots again", "[ingress][api]")
{
    FakeBackend fake;
    publisher_on(test::share(fake)).publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    publisher_on(test::share(fake)).publish_ingress("api", std::vector{ingress_port(9090, 90)}, backends({{"10.88.0.7", 1}}));
    fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).declaration.nft_typeof.reset();
    fake.bump_generation();

    // Neither publisher keeps the services: they are the tables'.
    auto publisher = publisher_on(test::share(fake));
    const auto commits = fake.committed().size();
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{test::port(7070, 80)});
    CHECK(fake.state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).declaration.nft_typeof.has_value());
    // The change with its repair, then the slots in a transaction of their own.
    CHECK(fake.committed().size() == commits + 2);
    CHECK(slot_operations(fake) == std::map<ruleset::Verb, std::size_t>{{ruleset::Verb::create, 2 * ingress::narrow_slot_count}});
    CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 128}, {"10.88.0.6", 128}});
    CHECK(slot_counts(fake, Family::ip, 9090) == std::map<std::string, std::size_t>{{"10.88.0.7", 256}});
    CHECK(publisher.inspect().families.front().problems.empty());
}

TEST_CASE("a port whose records were deleted by hand does not keep the other services' slots from being written again",
          "[ingress][api]")
{
    FakeBackend fake;
    publisher_on(test::share(fake)).publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    publisher_on(test::share(fake)).publish_ingress("api", std::vector{ingress_port(9090, 90)}, backends({{"10.88.0.7", 1}}));
    auto& table = fake.mutable_state().at({Family::ip, layout::table_name});
    table.sets.at(layout::ingress_map).declaration.nft_typeof.reset();
    auto& records = table.sets.at(layout::ingress_backends_set).elements;
    std::erase_if(records, [](const auto& entry) { return entry.second.comment.starts_with("task=api "); });
    fake.bump_generation();

    publisher_on(test::share(fake)).publish_ports("task-a", "10.88.0.2", std::vector{test::port(7070, 80)});
    CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 128}, {"10.88.0.6", 128}});
    CHECK(slot_counts(fake, Family::ip, 9090).empty());
}

TEST_CASE("an id is a task's or an ingress service's: host-mode calls refuse an ingress service", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}}));
    const auto state = fake.state();
    const auto attempts = fake.commit_attempts();
    const std::vector<std::function<void()>> refused{
        [&] { publisher.publish_ports("web", "10.88.0.2", std::vector{test::port(7070, 80)}); },
        [&] {
            publisher.add_ports("web", ContainerAddresses{"10.88.0.2", ""}, std::vector{test::port(7070, 80)});
        },
        [&] {
            publisher.reconcile(std::vector{TaskPorts{"web", "10.88.0.2", {test::port(7070, 80)}}});
        },
    };
    for (std::size_t i = 0; i < refused.size(); ++i) {
        INFO("request " << i);
        const auto e = error_of(refused[i]);
        CHECK(e.code() == errc::invalid_argument);
        CHECK_THAT(e.what(), Catch::Contains("\"web\" is an ingress service"));
    }
    CHECK(fake.commit_attempts() == attempts);
    CHECK(fake.state() == state);
    // A reconcile that leaves the service out does not touch it: it is no task.
    publisher.reconcile(std::vector{TaskPorts{"task-a", "10.88.0.2", {test::port(7070, 80)}}});
    CHECK(publisher.ingress_services().size() == 1);
}

TEST_CASE("unpublish_ports of an ingress service is one transaction, with the id's host-mode ports if a table has both",
          "[ingress][api]")
{
    FakeBackend fake;
    {
        auto first = publisher_on(test::share(fake));
        first.publish_ingress("web", std::vector{ingress_port(8080, 80)},
                              backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"fd00::5", 1}}));
    }
    SECTION("an ingress service alone")
    {
        auto publisher = publisher_on(test::share(fake));
        const auto commits = fake.committed().size();
        publisher.unpublish_ports("web");
        CHECK(fake.committed().size() == commits + 1);
    }
    SECTION("an ingress service and host-mode ports of the same id, written by another program")
    {
        // Two publishers racing could leave both; the id's unpublish removes both together.
        auto& ports = fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ports_map).elements;
        const auto host_mode =
            layout::port_element({Protocol::tcp, 7070, layout::any_address(Family::ip)},
                                 {*layout::parse_address("10.88.0.2"), Protocol::tcp, 80}, layout::owner_comment("web", ""));
        ports.insert_or_assign(host_mode.key, host_mode);
        fake.bump_generation();
        auto publisher = publisher_on(test::share(fake));
        CHECK(publisher.published_ports("web").size() == 1);
        const auto commits = fake.committed().size();
        publisher.unpublish_ports("web");
        CHECK(fake.committed().size() == commits + 1);
        CHECK(publisher.published_ports("web").empty());
    }
    for (const auto family : {Family::ip, Family::ip6}) {
        CHECK(elements(fake, family, layout::ports_map).empty());
        CHECK(elements(fake, family, layout::ingress_map).empty());
        CHECK(elements(fake, family, layout::ingress_backends_set).empty());
    }
}

TEST_CASE("the view shows ingress claims as the service's ports", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", std::vector{ingress_port(9090, 80)}, backends({{"10.88.0.5", 1}, {"fd00::5", 1}}));
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{test::port(7070, 80)});

    SECTION("a host-mode conflict names the service")
    {
        for (auto* host_ip : {"", "10.0.0.1", "::"}) {
            INFO(host_ip);
            auto port = test::port(9090, 80);
            port.host_ip = host_ip;
            const auto e = error_of([&] {
                publisher.publish_ports("task-b", ContainerAddresses{"10.88.0.3", "fd00::3"}, std::vector{port});
            });
            CHECK(e.code() == errc::port_conflict);
            CHECK_THAT(e.what(), Catch::Contains("is already published by ingress service \"web\";"));
        }
    }
    SECTION("all_published_ports(), inspect() and published_ports() list the claims as the service's")
    {
        PortMapping claim;
        claim.host_port = 9090;
        claim.publish_mode = PublishMode::ingress;
        auto task_port = test::port(7070, 80);
        const std::vector<PublishedPort> expected{
            {"task-a", "10.88.0.2", task_port}, {"web", "0.0.0.0", claim}, {"web", "::", claim}};
        auto fresh = publisher_on(test::share(fake));
        for (auto* reader : {&publisher, &fresh}) {
            CHECK(reader->all_published_ports() == expected);
            CHECK(reader->published_ports("web") == std::vector{claim});
            const auto inspection = reader->inspect();
            for (const auto& family : inspection.families) {
                for (const auto& problem : family.problems)
                    CHECK(problem.kind != TableProblemKind::ownerless_element);
                REQUIRE_FALSE(family.ports.empty());
                CHECK(family.ports.back().task_id == "web");
                CHECK(family.ports.back().mapping.publish_mode == PublishMode::ingress);
            }
        }
    }
    SECTION("a claim's comment on another value is still another program's element")
    {
        auto& ports = fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ports_map).elements;
        const auto lookalike =
            layout::port_element({Protocol::tcp, 6060, layout::any_address(Family::ip)},
                                 {*layout::parse_address("10.88.0.8"), Protocol::tcp, 80}, "task=evil ingress");
        ports.insert_or_assign(lookalike.key, lookalike);
        fake.bump_generation();
        const auto all = publisher.all_published_ports();
        const auto found =
            std::find_if(all.begin(), all.end(), [](const PublishedPort& p) { return p.mapping.host_port == 6060; });
        REQUIRE(found != all.end());
        CHECK(found->task_id.empty());
        CHECK(found->mapping.publish_mode == PublishMode::host);
        CHECK(publisher.published_ports("evil").empty());
        // Not a service: a host-mode publish of that id is no ingress refusal.
        publisher.publish_ports("evil", "10.88.0.9", std::vector{test::port(5050, 80)});
    }
}

TEST_CASE("an ingress change of a family deletes that table's orphan slots and records", "[ingress][api]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"fd00::5", 1}}));
    // Someone deletes the IPv4 claim: its slots would DNAT on, its records name no claim.
    auto& ports = fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ports_map).elements;
    ports.clear();
    fake.bump_generation();
    CHECK(publisher.ingress_services().at(0).ports.size() == 1);  // the IPv6 port alone

    publisher.publish_ingress("db", std::vector{ingress_port(9090, 80)}, backends({{"10.88.0.7", 1}}));
    CHECK(slot_counts(fake, Family::ip, 8080).empty());
    CHECK(slot_counts(fake, Family::ip, 9090) == std::map<std::string, std::size_t>{{"10.88.0.7", 256}});
    CHECK(record_comments(fake) == std::vector<std::string>{"task=db weight=1"});
    // The IPv6 table was not changed: its service's elements are whole.
    CHECK(slot_counts(fake, Family::ip6) == std::map<std::string, std::size_t>{{"fd00::5", 256}});
}

namespace {

// A self-healing publisher over the fake, and the repairs it reports.
struct Healing {
    FakeBackend fake;
    std::mutex mutex;
    std::condition_variable reported;
    std::vector<RepairReport> reports;

    HostPortPublisher publisher()
    {
        return publisher_on(test::share(fake), PublisherOptions{.self_heal = true, .on_repair = [this](const RepairReport& r) {
                                                                    std::lock_guard lock(mutex);
                                                                    reports.push_back(r);
                                                                    reported.notify_all();
                                                                }});
    }
    RepairReport next(std::size_t count)
    {
        std::unique_lock lock(mutex);
        REQUIRE(reported.wait_for(lock, std::chrono::seconds(5), [&] { return reports.size() >= count; }));
        return reports[count - 1];
    }
};

// Deletes 10 slots of port 8080 and sends slot 20 elsewhere, unannounced (as after lost
// announcements).
void damage_slots(FakeBackend& fake)
{
    auto& slots = fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).elements;
    const layout::HostPort port{Protocol::tcp, 8080, layout::any_address(Family::ip)};
    for (std::uint32_t slot = 0; slot < 10; ++slot)
        slots.erase(ingress::slot_element(port, slot, {}).key);
    auto hijacked = ingress::slot_element(port, 20, {*layout::parse_address("10.88.0.66"), 80});
    slots.insert_or_assign(hijacked.key, hijacked);
    fake.bump_generation();
}

// An orphan slot of 7070 added by another program's commit (announced).
void add_orphan_slot(FakeBackend& fake)
{
    ruleset::Transaction tx(layout::table(Family::ip));
    tx.add(ingress::slot_element({Protocol::tcp, 7070, layout::any_address(Family::ip)}, 0,
                                 {*layout::parse_address("10.88.0.66"), 80}));
    fake.commit(tx, std::nullopt);
}

}  // namespace

TEST_CASE("a self-healing publisher restores damaged ingress slots, records and claims", "[ingress][api][heal]")
{
    Healing healing;
    auto& fake = healing.fake;
    const std::map<std::string, std::size_t> even{{"10.88.0.5", 128}, {"10.88.0.6", 128}};
    SECTION("slots deleted and changed, an orphan slot added")
    {
        auto publisher = healing.publisher();
        publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
        damage_slots(fake);
        const auto report = healing.next(1);
        CHECK(report.error.empty());
        CHECK(report.ports_restored == 1);
        CHECK(slot_counts(fake) == even);
        add_orphan_slot(fake);
        const auto orphan = healing.next(2);
        CHECK(orphan.error.empty());
        CHECK(orphan.ports_restored == 1);  // the orphan's 7070
        CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::narrow_slot_count);
    }
    SECTION("a claim and a record deleted")
    {
        auto publisher = healing.publisher();
        publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
        auto& table = fake.mutable_state().at({Family::ip, layout::table_name});
        table.sets.at(layout::ports_map).elements.clear();
        auto& records = table.sets.at(layout::ingress_backends_set).elements;
        records.erase(records.begin());
        fake.bump_generation();
        const auto report = healing.next(1);
        CHECK(report.error.empty());
        CHECK(elements(fake, Family::ip, layout::ports_map).size() == 1);
        CHECK(record_comments(fake) == std::vector<std::string>(2, "task=web weight=1"));
        CHECK(slot_counts(fake) == even);
    }
    SECTION("damage done before it started, to a service another publisher published")
    {
        publisher_on(test::share(fake)).publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
        damage_slots(fake);
        add_orphan_slot(fake);
        auto publisher = healing.publisher();
        const auto report = healing.next(1);
        CHECK(report.damage == "found incomplete at start");
        CHECK(slot_counts(fake) == even);
        // The orphan was there before the publisher read the tables: slots are read by the keys of
        // the ports it keeps, so it is not seen (docs/ingress.md, "The ingress view", limits).
        CHECK(slot_counts(fake, Family::ip, 7070).size() == 1);
    }
    SECTION("a port another owner took meanwhile stays theirs")
    {
        auto publisher = healing.publisher();
        publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
        // Another program deletes the service's claim and publishes the port in host mode.
        auto& ports = fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ports_map).elements;
        ports.clear();
        const auto host_mode =
            layout::port_element({Protocol::tcp, 8080, layout::any_address(Family::ip)},
                                 {*layout::parse_address("10.88.0.2"), Protocol::tcp, 80}, layout::owner_comment("other", ""));
        ports.insert_or_assign(host_mode.key, host_mode);
        fake.bump_generation();
        const auto report = healing.next(1);
        CHECK(report.error.empty());
        REQUIRE(report.skipped.size() == 1);
        CHECK_THAT(report.skipped[0], Catch::Contains("8080/tcp") && Catch::Contains("task \"other\""));
        // Its slots and records, orphans now, are gone: the port is the host-mode task's.
        CHECK(elements(fake, Family::ip, layout::ingress_map).empty());
        CHECK(elements(fake, Family::ip, layout::ingress_backends_set).empty());
        CHECK(publisher.published_ports("other").size() == 1);
    }
}

TEST_CASE("a backend that leaves a UDP ingress port has that port's flows it answered deleted, and no others",
          "[ingress][conntrack]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const std::vector ports{ingress_port(5353, 53, Protocol::udp), ingress_port(8080, 80)};
    publisher.publish_ingress("dns", ports, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 1}}));
    publisher.wait_for_conntrack_cleanup();
    // The UDP port is new: the flows to it that never saw a reply go (sent before it was published),
    // but for those already NATed to one of the service's backends.
    const auto answered_by = [](const char* address, std::uint16_t port) {
        return ruleset::FlowEndpoint{layout::parse_address(address)->bytes, port};
    };
    REQUIRE(fake.forgotten_flows().size() == 1);
    CHECK(fake.forgotten_flows()[0] ==
          ruleset::FlowMatch{Family::ip,
                             IPPROTO_UDP,
                             5353,
                             std::nullopt,
                             true,
                             std::nullopt,
                             {answered_by("10.88.0.5", 53), answered_by("10.88.0.6", 53), answered_by("10.88.0.7", 53)}});

    // A drained backend keeps its flows; a reweighted one too.
    publisher.drain_backend("dns", "10.88.0.7");
    publisher.publish_ingress("dns", ports, backends({{"10.88.0.5", 2}, {"10.88.0.6", 1}, {"10.88.0.7", 1}}));
    publisher.wait_for_conntrack_cleanup();
    CHECK(fake.forgotten_flows().size() == 1);

    // 10.88.0.6 leaves: its UDP flows to 5353 go; TCP is left to end.
    publisher.publish_ingress("dns", ports, backends({{"10.88.0.5", 2}, {"10.88.0.7", 1}}));
    publisher.wait_for_conntrack_cleanup();
    REQUIRE(fake.forgotten_flows().size() == 2);
    CHECK(fake.forgotten_flows()[1] ==
          ruleset::FlowMatch{Family::ip, IPPROTO_UDP, 5353, std::nullopt, false, answered_by("10.88.0.6", 53)});

    // The unpublish: every backend's.
    publisher.unpublish_ports("dns");
    publisher.wait_for_conntrack_cleanup();
    REQUIRE(fake.forgotten_flows().size() == 4);
    CHECK(fake.forgotten_flows()[2] ==
          ruleset::FlowMatch{Family::ip, IPPROTO_UDP, 5353, std::nullopt, false, answered_by("10.88.0.5", 53)});
    CHECK(fake.forgotten_flows()[3] ==
          ruleset::FlowMatch{Family::ip, IPPROTO_UDP, 5353, std::nullopt, false, answered_by("10.88.0.7", 53)});

    FakeBackend other;
    auto without_cleanup = publisher_on(test::share(other), PublisherOptions{.conntrack_cleanup = false});
    without_cleanup.publish_ingress("dns", ports, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    without_cleanup.publish_ingress("dns", ports, backends({{"10.88.0.5", 1}}));
    without_cleanup.unpublish_ports("dns");
    without_cleanup.wait_for_conntrack_cleanup();
    CHECK(other.forgotten_flows().empty());
}

namespace {

ruleset::FlowMatch flows_of(std::uint16_t host_port, std::uint8_t protocol, const char* backend, std::uint16_t backend_port)
{
    return ruleset::FlowMatch{Family::ip,   protocol, host_port,
                              std::nullopt, false,    ruleset::FlowEndpoint{layout::parse_address(backend)->bytes, backend_port}};
}

// The flows forgotten since `from` (an index into the fake's list), after the cleanups due now.
std::vector<ruleset::FlowMatch> forgotten_since(HostPortPublisher& publisher, const FakeBackend& fake, std::size_t from)
{
    publisher.wait_for_conntrack_cleanup();
    const auto& all = fake.forgotten_flows();
    return {all.begin() + static_cast<std::ptrdiff_t>(std::min(from, all.size())), all.end()};
}

std::chrono::sys_seconds seconds_from_now(int seconds)
{
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) + std::chrono::seconds(seconds);
}

const std::vector<PortMapping> dns{ingress_port(5353, 53, Protocol::udp), ingress_port(8080, 80)};

}  // namespace

TEST_CASE("at a drained backend's deadline its flows through every port go, of every protocol", "[ingress][conntrack][deadline]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("dns", dns, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 1}}));
    const auto before = forgotten_since(publisher, fake, 0).size();

    // Without a deadline: nothing goes.
    publisher.drain_backend("dns", "10.88.0.6");
    CHECK(forgotten_since(publisher, fake, before).empty());

    // A deadline that has passed: at once.
    const auto passed = seconds_from_now(-1);
    publisher.drain_backend("dns", "10.88.0.7", std::nullopt, passed);
    const auto gone = forgotten_since(publisher, fake, before);
    REQUIRE(gone.size() == 2);
    CHECK(std::count(gone.begin(), gone.end(), flows_of(5353, IPPROTO_UDP, "10.88.0.7", 53)) == 1);
    CHECK(std::count(gone.begin(), gone.end(), flows_of(8080, IPPROTO_TCP, "10.88.0.7", 80)) == 1);
    // Recorded as asked.
    const auto services = publisher.ingress_services();
    REQUIRE(services.size() == 1);
    CHECK(services[0].ports[0].backends[2].deadline == passed);
}

TEST_CASE("a deadline comes due later; publishing the backend as active again cancels it, removing it keeps it",
          "[ingress][conntrack][deadline]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("dns", dns, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}, {"10.88.0.7", 1}}));
    const auto before = forgotten_since(publisher, fake, 0).size();

    const auto deadline = seconds_from_now(2);
    publisher.drain_backend("dns", "10.88.0.6", std::nullopt, deadline);
    publisher.drain_backend("dns", "10.88.0.7", std::nullopt, deadline);
    CHECK(forgotten_since(publisher, fake, before).empty());
    // 10.88.0.6 is active again; 10.88.0.7 leaves the service (its UDP flows go at once).
    publisher.publish_ingress("dns", dns, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    auto gone = forgotten_since(publisher, fake, before);
    REQUIRE(gone.size() == 1);
    CHECK(gone[0] == flows_of(5353, IPPROTO_UDP, "10.88.0.7", 53));

    std::this_thread::sleep_until(deadline + std::chrono::milliseconds(100));
    gone = forgotten_since(publisher, fake, before + 1);
    REQUIRE(gone.size() == 2);
    CHECK(std::count(gone.begin(), gone.end(), flows_of(5353, IPPROTO_UDP, "10.88.0.7", 53)) == 1);
    CHECK(std::count(gone.begin(), gone.end(), flows_of(8080, IPPROTO_TCP, "10.88.0.7", 80)) == 1);
}

TEST_CASE("at a deadline the tables are checked: a backend another publisher made active again keeps its flows",
          "[ingress][conntrack][deadline]")
{
    FakeBackend fake;
    auto draining = publisher_on(test::share(fake));
    draining.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    const auto before = forgotten_since(draining, fake, 0).size();
    const auto deadline = seconds_from_now(2);
    draining.drain_backend("web", "10.88.0.6", std::nullopt, deadline);

    // Another publisher (made after the drain, so it takes the deadline over too) makes it active
    // again; the first one learns of it only from the tables.
    auto other = publisher_on(test::share(fake));
    other.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    std::this_thread::sleep_until(deadline + std::chrono::milliseconds(100));
    other.wait_for_conntrack_cleanup();
    CHECK(forgotten_since(draining, fake, before).empty());

    // Drained again by the first; the other moves the deadline later before it comes: the first
    // one's check finds the later deadline and waits for that.
    const auto first = seconds_from_now(1);
    draining.drain_backend("web", "10.88.0.6", std::nullopt, first);
    const auto moved = first + std::chrono::seconds(2);
    other.drain_backend("web", "10.88.0.6", std::nullopt, moved);
    // Both publishers' cleanups due by then are done before the fake's list is read.
    std::this_thread::sleep_until(first + std::chrono::milliseconds(100));
    other.wait_for_conntrack_cleanup();
    CHECK(forgotten_since(draining, fake, before).empty());
    std::this_thread::sleep_until(moved + std::chrono::milliseconds(100));
    other.wait_for_conntrack_cleanup();
    const auto gone = forgotten_since(draining, fake, before);
    REQUIRE(!gone.empty());
    CHECK(std::all_of(gone.begin(), gone.end(),
                      [](const ruleset::FlowMatch& flow) { return flow == flows_of(8080, IPPROTO_TCP, "10.88.0.6", 80); }));
}

TEST_CASE("a publisher made after a deadline passed acts on it; one without conntrack cleanup only records it",
          "[ingress][conntrack][deadline]")
{
    FakeBackend fake;
    {
        auto recording = publisher_on(test::share(fake), PublisherOptions{.conntrack_cleanup = false});
        recording.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
        recording.drain_backend("web", "10.88.0.6", std::nullopt, seconds_from_now(-5));
        recording.wait_for_conntrack_cleanup();
        CHECK(fake.forgotten_flows().empty());
    }
    auto adopting = publisher_on(test::share(fake));
    const auto gone = forgotten_since(adopting, fake, 0);
    REQUIRE(gone.size() == 1);
    CHECK(gone[0] == flows_of(8080, IPPROTO_TCP, "10.88.0.6", 80));
}

TEST_CASE("a running publisher acts on a deadline another process set: at its next call, or at once when it heals",
          "[ingress][conntrack][deadline]")
{
    for (const bool self_heal : {false, true}) {
        INFO("self_heal " << self_heal);
        FakeBackend fake;
        // Made before the drain, so it cannot have read the deadline at start.
        auto watching = publisher_on(test::share(fake), PublisherOptions{.self_heal = self_heal});
        auto setting = publisher_on(test::share(fake), PublisherOptions{.conntrack_cleanup = false});
        setting.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
        const auto before = forgotten_since(watching, fake, 0).size();
        const auto deadline = seconds_from_now(1);
        setting.drain_backend("web", "10.88.0.6", std::nullopt, deadline);
        if (!self_heal)
            watching.publish_ports("task-b", "10.88.0.9", std::vector{test::port(7070, 80)});  // any call that follows the tables
        std::this_thread::sleep_until(deadline + std::chrono::milliseconds(300));
        const auto gone = forgotten_since(watching, fake, before);
        REQUIRE(gone.size() == 1);
        CHECK(gone[0] == flows_of(8080, IPPROTO_TCP, "10.88.0.6", 80));
    }
}

namespace {

// `count` backends of weight 1: 10.88.1.1, 10.88.1.2, ..., 250 to a /24.
std::vector<IngressBackend> numbered(std::size_t count)
{
    std::vector<IngressBackend> out;
    for (std::size_t i = 0; i < count; ++i)
        out.push_back(IngressBackend{"10.88." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250)});
    return out;
}

std::size_t slots_in_all(const std::map<std::string, std::size_t>& counts)
{
    std::size_t sum = 0;
    for (const auto& [address, count] : counts)
        sum += count;
    return sum;
}

}  // namespace

TEST_CASE("a port of more than 256 backends has 4,096 slots; it is narrow again at 256; fresh publishers adopt and change it",
          "[ingress][api][wide]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    auto many = numbered(300);
    publisher.publish_ingress("web", web, many);
    auto counts = slot_counts(fake);
    CHECK(counts.size() == 300);
    CHECK(slots_in_all(counts) == ingress::wide_slot_count);
    CHECK(std::all_of(counts.begin(), counts.end(), [](const auto& entry) { return entry.second == 13 || entry.second == 14; }));
    CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::wide_slot_count);

    // One backend more: only the slots it takes from the others move.
    many.push_back(IngressBackend{"10.88.9.1"});
    publisher.publish_ingress("web", web, many);
    auto moved = slot_operations(fake);
    CHECK(moved[ruleset::Verb::remove] == moved[ruleset::Verb::create]);
    CHECK(moved[ruleset::Verb::create] == slot_counts(fake).at("10.88.9.1"));

    // Drained down to 256 active backends: 256 slots, one each, in the drain that crosses.
    for (std::size_t i = 0; i + ingress::narrow_slot_count < many.size(); ++i) {
        CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::wide_slot_count);
        publisher.drain_backend("web", many[i].address);
    }
    counts = slot_counts(fake);
    CHECK(counts.size() == ingress::narrow_slot_count);
    CHECK(std::all_of(counts.begin(), counts.end(), [](const auto& entry) { return entry.second == 1; }));
    CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::narrow_slot_count);

    // A fresh publisher adopts the port with its draining backends, and makes it wide again.
    auto fresh = publisher_on(test::share(fake));
    const auto services = fresh.ingress_services();
    REQUIRE(services.size() == 1);
    REQUIRE(services[0].ports.size() == 1);
    const auto& adopted = services[0].ports[0].backends;
    CHECK(adopted.size() == many.size());
    CHECK(std::count_if(adopted.begin(), adopted.end(), [](const IngressBackend& b) {
              return b.state == BackendState::draining;
          }) == static_cast<long>(many.size() - ingress::narrow_slot_count));
    fresh.publish_ingress("web", web, many);
    CHECK(slot_counts(fake).size() == many.size());
    CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::wide_slot_count);

    // Another fresh publisher reads the wide port's slots by key and narrows it in one commit: no
    // slot is left from 256 up.
    auto third = publisher_on(test::share(fake));
    const auto commits = fake.committed().size();
    third.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    CHECK(fake.committed().size() == commits + 1);
    CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 128}, {"10.88.0.6", 128}});
    CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::narrow_slot_count);
    third.unpublish_ports("web");
    CHECK(elements(fake, Family::ip, layout::ingress_map).empty());
}

TEST_CASE("a wide port's slots are found by a fresh publisher whatever its records say", "[ingress][api][wide]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, numbered(300));
    // Someone deletes records by hand: the port's records now say 2 backends, its slots 300.
    auto& records = fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_backends_set).elements;
    while (records.size() > 2)
        records.erase(records.begin());
    fake.bump_generation();

    // The slot numbered 256 tells the fresh publisher the port is wide: its change deletes the
    // slots from 256 up instead of leaving them to DNAT to backends it no longer has.
    auto fresh = publisher_on(test::share(fake));
    fresh.publish_ingress("web", web, backends({{"10.88.0.5", 1}}));
    CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 256}});
    CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::narrow_slot_count);
}

TEST_CASE("a self-healing publisher restores a wide port's slots from 256 up, each one or all", "[ingress][api][heal][wide]")
{
    Healing healing;
    auto& fake = healing.fake;
    auto publisher = healing.publisher();
    const auto many = numbered(300);
    publisher.publish_ingress("web", web, many);
    const auto published = elements(fake, Family::ip, layout::ingress_map);
    const layout::HostPort port{Protocol::tcp, 8080, layout::any_address(Family::ip)};

    // Two slots of the wide range deleted by another program (announced).
    ruleset::Transaction tx(layout::table(Family::ip));
    for (const std::uint32_t slot : {300u, 4095u})
        tx.remove(published.at(ingress::slot_element(port, slot, {}).key));
    fake.commit(tx, std::nullopt);
    auto report = healing.next(1);
    CHECK(report.error.empty());
    CHECK(report.ports_restored == 1);
    CHECK(elements(fake, Family::ip, layout::ingress_map) == published);

    // Every slot from 256 up deleted unannounced: what is left reads as a narrow port, and the
    // repair makes it wide again with the slots it had.
    auto& slots = fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).elements;
    for (std::uint32_t slot = ingress::narrow_slot_count; slot < ingress::wide_slot_count; ++slot)
        slots.erase(ingress::slot_element(port, slot, {}).key);
    fake.bump_generation();
    report = healing.next(2);
    CHECK(report.error.empty());
    CHECK(elements(fake, Family::ip, layout::ingress_map) == published);
}

TEST_CASE("after a host-mode change made the ingress map again, a self-healing publisher writes its services' slots again",
          "[ingress][api][heal]")
{
    Healing healing;
    auto& fake = healing.fake;
    auto publisher = healing.publisher();
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}, {"10.88.0.6", 1}}));
    publisher.publish_ingress("api", std::vector{ingress_port(9090, 90)}, backends({{"10.88.0.7", 1}}));
    fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).declaration.nft_typeof.reset();
    fake.bump_generation();
    // The host-mode change carries the repair that deletes the map and makes it again, empty.
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{test::port(7070, 80)});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline &&
           elements(fake, Family::ip, layout::ingress_map).size() < 2 * ingress::narrow_slot_count)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(fake.state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).declaration.nft_typeof.has_value());
    CHECK(slot_counts(fake) == std::map<std::string, std::size_t>{{"10.88.0.5", 128}, {"10.88.0.6", 128}});
    CHECK(slot_counts(fake, Family::ip, 9090) == std::map<std::string, std::size_t>{{"10.88.0.7", 256}});
}

TEST_CASE("a slot from 257 up that a narrow port's read did not see is read before the port becomes wide", "[ingress][api][wide]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ingress("web", web, backends({{"10.88.0.5", 1}}));
    // Another program adds slot 1000 unannounced (as after lost announcements, or before any
    // publisher read): the port reads as narrow, its slot 256 being absent.
    const layout::HostPort port{Protocol::tcp, 8080, layout::any_address(Family::ip)};
    auto stray = ingress::slot_element(port, 1000, {*layout::parse_address("10.88.0.66"), 80});
    fake.mutable_state()
        .at({Family::ip, layout::table_name})
        .sets.at(layout::ingress_map)
        .elements.insert_or_assign(stray.key, stray);
    fake.bump_generation();
    auto fresh = publisher_on(test::share(fake));
    // Refused (the last active backend), after reading the port: narrow, slot 256 being absent.
    CHECK(error_of([&] { fresh.drain_backend("web", "10.88.0.5"); }).code() == errc::invalid_argument);
    fresh.publish_ingress("web", web, numbered(300));
    CHECK(slot_counts(fake).count("10.88.0.66") == 0);
    CHECK(slot_counts(fake).size() == 300);
    CHECK(elements(fake, Family::ip, layout::ingress_map).size() == ingress::wide_slot_count);
}
