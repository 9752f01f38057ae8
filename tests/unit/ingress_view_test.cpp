// SPDX-License-Identifier: Apache-2.0
// The ingress view (publisher/ingress_view, docs/ingress.md "The ingress view") over the fake: a
// change of one service reads no element of the tables once the view is loaded, however many other
// services there are; other writers' changes are followed; the state a change plans from holds the
// service's own ports and the leftovers, nothing of other services.
#include "publisher/ingress_records.hpp"
#include "publisher/ingress_view.hpp"
#include "publisher/publisher_on.hpp"
#include "publisher/schema.hpp"
#include "ruleset/fake_backend.hpp"
#include "ruleset/forwarding_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

#include "error_of.hpp"
#include "ports.hpp"

using namespace warren::nft;
using ruleset::FakeBackend;
using ruleset::Family;
using test::error_of;

namespace {

// The reads of a publisher that return elements: how many, and how many ingress elements they held.
struct Reads {
    int calls = 0;
    std::size_t ingress_elements = 0;
    std::size_t slot_elements = 0;  // of those, read by a dump of the `ingress` map
    std::size_t keys = 0;           // asked for by key (elements_of)
    friend bool operator==(const Reads&, const Reads&) = default;
};

class Counting final : public ruleset::ForwardingBackend {
public:
    Counting(FakeBackend& fake, Reads& reads) : ForwardingBackend(fake), reads_(reads) {}
    ruleset::TableSnapshot snapshot(const ruleset::Table& table, std::span<const std::string> chains,
                                    std::span<const std::string> element_sets) override
    {
        return counted(ForwardingBackend::snapshot(table, chains, element_sets));
    }
    ruleset::TableSnapshot snapshot_following(const ruleset::Table& table, std::span<const std::string> chains,
                                              std::span<const std::string> element_sets, const Unchanged& unchanged) override
    {
        return counted(ForwardingBackend::snapshot_following(table, chains, element_sets, unchanged));
    }
    std::vector<ruleset::Element> elements_of(const ruleset::Table& table, const std::string& set,
                                              std::span<const ruleset::Bytes> keys) override
    {
        reads_.keys += keys.size();
        return ForwardingBackend::elements_of(table, set, keys);
    }

private:
    ruleset::TableSnapshot counted(ruleset::TableSnapshot snapshot)
    {
        if (snapshot.elements.empty())
            return snapshot;
        ++reads_.calls;
        for (const char* set : {layout::ingress_map, layout::ingress_backends_set})
            if (const auto found = snapshot.elements.find(set); found != snapshot.elements.end())
                reads_.ingress_elements += found->second.size();
        if (const auto found = snapshot.elements.find(layout::ingress_map); found != snapshot.elements.end())
            reads_.slot_elements += found->second.size();
        return snapshot;
    }
    Reads& reads_;
};

PortMapping ingress_port(std::uint16_t host, std::uint16_t container)
{
    auto mapping = test::port(host, container);
    mapping.publish_mode = PublishMode::ingress;
    return mapping;
}

std::vector<IngressBackend> backends(std::initializer_list<const char*> addresses)
{
    std::vector<IngressBackend> out;
    for (const auto* address : addresses)
        out.push_back(IngressBackend{address, std::nullopt, 1});
    return out;
}

// How many slots of the IPv4 port send to each backend address, read from the fake.
std::map<std::string, std::size_t> slot_counts(const FakeBackend& fake, std::uint16_t port)
{
    std::map<std::string, std::size_t> out;
    for (const auto& [key, element] : fake.state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).elements) {
        const auto slot = ingress::decode_slot(Family::ip, element);
        REQUIRE(slot);
        REQUIRE(slot->backend);
        if (slot->port.port == port)
            ++out[layout::to_string(slot->backend->address)];
    }
    return out;
}

std::string service_name(int i) { return "svc" + std::to_string(i); }

}  // namespace

TEST_CASE("with many ingress services published, a change of one service reads no element of the tables", "[ingress][follow]")
{
    FakeBackend fake;
    Reads reads;
    auto publisher = publisher_on(std::make_unique<Counting>(fake, reads));
    auto other = publisher_on(test::share(fake));
    constexpr int services = 40;
    for (int i = 0; i < services; ++i)
        other.publish_ingress(service_name(i), std::vector{ingress_port(static_cast<std::uint16_t>(10000 + i), 80)},
                              backends({"10.88.0.5", "10.88.0.6"}));

    // The first change reads the tables: the view's first read, with the claims and records of
    // every service once but no slot, and the slots of its own port by key.
    publisher.publish_ingress("web", std::vector{ingress_port(8080, 80)}, backends({"10.88.0.5", "10.88.0.6"}));
    const auto loaded = reads;
    REQUIRE(loaded.ingress_elements >= 2 * services);
    REQUIRE(loaded.slot_elements == 0);
    REQUIRE(loaded.keys == ingress::narrow_slot_count + 1);  // and the one that tells a wide port

    // Another publisher's changes after that are followed from the announcements.
    for (int i = services; i < 2 * services; ++i)
        other.publish_ingress(service_name(i), std::vector{ingress_port(static_cast<std::uint16_t>(10000 + i), 80)},
                              backends({"10.88.0.5"}));
    other.publish_ingress("late", std::vector{ingress_port(9191, 80)}, backends({"10.88.0.9"}));
    other.unpublish_ports(service_name(0));

    publisher.publish_ingress("web", std::vector{ingress_port(8080, 80)}, backends({"10.88.0.5", "10.88.0.6", "10.88.0.7"}));
    CHECK(slot_counts(fake, 8080) == std::map<std::string, std::size_t>{{"10.88.0.5", 86}, {"10.88.0.6", 85}, {"10.88.0.7", 85}});
    publisher.drain_backend("web", "10.88.0.7");
    CHECK(slot_counts(fake, 8080) == std::map<std::string, std::size_t>{{"10.88.0.5", 128}, {"10.88.0.6", 128}});
    // The port another publisher claimed after the read is taken; the one it let go is free.
    CHECK(error_of([&] {
              publisher.publish_ingress("mine", std::vector{ingress_port(9191, 80)}, backends({"10.88.0.5"}));
          }).code() == errc::port_conflict);
    publisher.publish_ingress("mine", std::vector{ingress_port(10000, 80)}, backends({"10.88.0.8"}));
    CHECK(slot_counts(fake, 10000) == std::map<std::string, std::size_t>{{"10.88.0.8", 256}});
    // A service another publisher published, unpublished by this one: every element of it goes.
    publisher.unpublish_ports(service_name(services + 1));
    CHECK(slot_counts(fake, static_cast<std::uint16_t>(10000 + services + 1)).empty());
    publisher.unpublish_ports("mine");
    publisher.unpublish_ports("web");
    CHECK(slot_counts(fake, 8080).empty());
    CHECK(slot_counts(fake, 10000).empty());
    CHECK(slot_counts(fake, 10002) == std::map<std::string, std::size_t>{{"10.88.0.5", 128}, {"10.88.0.6", 128}});

    // Nothing read again but the slots of the other ports this publisher's changes concerned, once
    // each: 9191 (refused), 10000 and the port of service_name(services + 1).
    CHECK(reads.calls == loaded.calls);
    CHECK(reads.ingress_elements == loaded.ingress_elements);
    CHECK(reads.keys == 4 * (ingress::narrow_slot_count + 1));
}

TEST_CASE("the ingress state of one service holds its own ports and the leftovers, nothing of other services",
          "[ingress][follow]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    for (int i = 0; i < 10; ++i)
        publisher.publish_ingress(service_name(i), std::vector{ingress_port(static_cast<std::uint16_t>(10000 + i), 80)},
                                  backends({"10.88.0.5"}));
    ingress::View view;
    std::array<ruleset::TableSnapshot, 2> snapshots;
    for (const auto family : layout::families)
        snapshots[layout::family_index(family)] = fake.snapshot(layout::table(family), {}, ingress::element_sets_without_slots());
    view.load(snapshots);
    // An orphan slot, announced: a port nobody claims.
    const layout::HostPort unclaimed{Protocol::tcp, 7070, layout::any_address(Family::ip)};
    auto orphan = ingress::slot_element(unclaimed, 0, {*layout::parse_address("10.88.0.5"), 80});
    ruleset::Transaction tx(layout::table(Family::ip));
    tx.add(orphan);
    fake.commit(tx, std::nullopt);
    view.apply(Family::ip, orphan, false);

    // The slots to read are those of svc3's port and of the port asked for (the orphan's are
    // announced, not read); those of the other services are never read.
    const layout::HostPort asked{Protocol::tcp, 9090, layout::any_address(Family::ip)};
    const std::array services{std::string_view("svc3")};
    const auto unread = view.unread_slots(Family::ip, services, std::span(&asked, 1));
    const layout::HostPort svc3{Protocol::tcp, 10003, layout::any_address(Family::ip)};
    CHECK(std::set(unread.begin(), unread.end()) == std::set{svc3, unclaimed, asked});
    // Read by key, the orphan's too.
    view.read_unread_slots(fake, Family::ip, services, std::span(&asked, 1));
    CHECK(view.unread_slots(Family::ip, services, std::span(&asked, 1)).empty());
    const auto state = view.state(services, std::span(&asked, 1));
    const auto& ip = state[layout::family_index(Family::ip)];
    REQUIRE(ip.ports.size() == 1);
    CHECK(ip.ports.begin()->first.port == 10003);
    CHECK(ip.ports.begin()->second.service == "svc3");
    CHECK(ip.ports.begin()->second.record_elements.size() == 1);
    CHECK(std::count_if(ip.ports.begin()->second.slot_elements.begin(), ip.ports.begin()->second.slot_elements.end(),
                        [](const auto& e) { return e.has_value(); }) == ingress::narrow_slot_count);
    REQUIRE(ip.leftovers.size() == 1);
    CHECK(ip.leftovers.begin()->first == unclaimed);

    SECTION("it is what the full read says of those ports")
    {
        const auto full = ingress::read_state(Family::ip, fake.snapshot(layout::table(Family::ip), {}, ingress::element_sets()));
        const auto& port = full.ports.at(ip.ports.begin()->first);
        CHECK(port.records == ip.ports.begin()->second.records);
        CHECK(port.slots == ip.ports.begin()->second.slots);
        CHECK(full.leftovers == ip.leftovers);
    }
    SECTION("elements applied one by one follow: a deleted claim leaves its records and slots as leftovers")
    {
        const layout::HostPort port{Protocol::tcp, 10003, layout::any_address(Family::ip)};
        view.apply(Family::ip, ingress::claim_element(port, "svc3"), true);
        const auto after = view.state(services, {})[layout::family_index(Family::ip)];
        CHECK(after.ports.empty());
        CHECK(after.leftovers.size() == 2);
        CHECK(after.leftovers.at(port).size() == ingress::narrow_slot_count + 1);
    }
    SECTION("a slot value longer than any we write is a slot without a backend, deleted by its key")
    {
        const layout::HostPort port{Protocol::tcp, 10003, layout::any_address(Family::ip)};
        auto odd = ingress::slot_element(port, 5, {*layout::parse_address("10.88.0.5"), 80});
        odd.data.resize(24, 0xff);
        view.apply(Family::ip, odd, false);
        const auto after = view.state(services, {})[layout::family_index(Family::ip)];
        const auto& held = after.ports.at(port);
        CHECK_FALSE(held.slots[5]);
        REQUIRE(held.slot_elements[5]);
        CHECK(held.slot_elements[5]->key == odd.key);
        CHECK(held.slots[6]);
    }
    SECTION("a commit that deletes a set makes the view read the tables again; one that adds the table does not")
    {
        ruleset::Commit adds;
        adds.part(layout::table(Family::ip))
            .add(layout::table(Family::ip))
            .add(layout::ingress_declaration(layout::layout_of(Family::ip)));
        view.committed(adds);
        CHECK(view.loaded());
        ruleset::Commit deletes;
        deletes.part(layout::table(Family::ip)).remove(layout::ingress_declaration(layout::layout_of(Family::ip)));
        view.committed(deletes);
        CHECK_FALSE(view.loaded());
    }
}
