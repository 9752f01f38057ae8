// SPDX-License-Identifier: Apache-2.0
// HostPortPublisher::inspect() over the fake backend: one table damaged in each way a publisher
// repairs or refuses, each reported as its kind of problem with a one-line fix, and nothing changed
// by the reading.
#include "publisher/layout.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "addresses.hpp"
#include "ports.hpp"

#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace warren::nft;
using ruleset::FakeBackend;

namespace {

const std::vector<PortMapping> web{test::port(8080, 80)};

struct PublishedTable {
    explicit PublishedTable(PublisherOptions options = {})
    {
        publisher_on(test::share(fake), options).publish_ports("task-a", "10.88.0.5", web);
    }
    FakeBackend::TableState& table() { return fake.mutable_state().at({ruleset::Family::ip, "warren"}); }
    // Inspects with a new publisher (as `warren-nft doctor` does) and checks that nothing changed.
    FamilyInspection inspect(PublisherOptions options = {})
    {
        fake.bump_generation();
        const auto state = fake.state();
        const auto attempts = fake.commit_attempts();
        auto inspection = publisher_on(test::share(fake), options).inspect();
        CHECK(fake.state() == state);
        CHECK(fake.commit_attempts() == attempts);
        CHECK_FALSE(inspection.families[1].exists);
        return inspection.families[0];
    }
    FakeBackend fake;
};

std::vector<TableProblemKind> kinds(const FamilyInspection& inspection)
{
    std::vector<TableProblemKind> out;
    for (const auto& problem : inspection.problems)
        out.push_back(problem.kind);
    return out;
}

// Every problem says what and how to fix it, on one line each.
void check_told(const FamilyInspection& inspection)
{
    for (const auto& problem : inspection.problems) {
        CHECK_FALSE(problem.object.empty());
        CHECK_FALSE(problem.description.empty());
        CHECK_FALSE(problem.fix.empty());
        for (const auto* text : {&problem.object, &problem.description, &problem.fix})
            CHECK(std::all_of(text->begin(), text->end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
    }
}

}  // namespace

TEST_CASE("inspecting hosts without tables reports them missing and creates nothing", "[inspect]")
{
    FakeBackend fake;
    const auto inspection = publisher_on(test::share(fake)).inspect();
    for (const auto& family : inspection.families) {
        CHECK_FALSE(family.exists);
        CHECK(family.problems.empty());
        CHECK(family.ports.empty());
        CHECK(family.refusal.empty());
    }
    CHECK(inspection.families[0].table == "ip warren");
    CHECK(inspection.families[1].table == "ip6 warren");
    CHECK(inspection.kernel_features.map_lookups);
    CHECK(fake.state().empty());
    CHECK(fake.committed().empty());
}

TEST_CASE("a complete table has no problems, and its tasks' ports are reported", "[inspect]")
{
    PublishedTable kernel;
    const auto table = kernel.inspect();
    CHECK(table.exists);
    CHECK_FALSE(table.dormant);
    CHECK_FALSE(table.counting);
    CHECK(table.problems.empty());
    CHECK(table.repair_operations == 0);
    REQUIRE(table.ports.size() == 1);
    CHECK(table.ports[0].task_id == "task-a");
    CHECK(table.ports[0].mapping.host_port == 8080);
}

TEST_CASE("a dormant table is reported as such, with the publish that wakes it", "[inspect]")
{
    PublishedTable kernel;
    kernel.table().flags = NFT_TABLE_F_DORMANT;
    const auto table = kernel.inspect();
    CHECK(table.dormant);
    CHECK(kinds(table) == std::vector{TableProblemKind::dormant});
    CHECK(table.problems[0].severity == Severity::failure);
    CHECK(table.problems[0].fix == "nft add table ip warren (which wakes it; so does the next warren-nft publish)");
    CHECK(table.repair_operations > 0);
    check_told(table);
}

TEST_CASE("a missing chain, a flushed chain and a chain with policy drop are each reported", "[inspect]")
{
    PublishedTable kernel;
    kernel.table().chains.erase("output");
    kernel.table().chains.at("forward").rules.clear();
    kernel.table().chains.at("prerouting").declaration.hook->policy_accept = false;
    const auto table = kernel.inspect();
    const auto found = kinds(table);
    CHECK(std::count(found.begin(), found.end(), TableProblemKind::missing_chain) == 1);
    CHECK(std::count(found.begin(), found.end(), TableProblemKind::chain_rules) == 1);
    CHECK(std::count(found.begin(), found.end(), TableProblemKind::chain_policy_drop) == 1);
    for (const auto& problem : table.problems) {
        if (problem.kind == TableProblemKind::missing_chain)
            CHECK(problem.object == "chain ip warren output");
        if (problem.kind == TableProblemKind::chain_rules)
            CHECK(problem.object == "chain ip warren forward");
        if (problem.kind == TableProblemKind::chain_policy_drop)
            CHECK(problem.object == "chain ip warren prerouting");
    }
    check_told(table);
}

TEST_CASE("a missing map is reported", "[inspect]")
{
    PublishedTable kernel;
    kernel.table().sets.erase("bound_ports");
    const auto table = kernel.inspect();
    CHECK(kinds(table) == std::vector{TableProblemKind::missing_set});
    CHECK(table.problems[0].object == "map ip warren bound_ports");
    check_told(table);
}

TEST_CASE("a table owned by another process is reported with the publisher's refusal", "[inspect]")
{
    PublishedTable kernel;
    kernel.table().flags = NFT_TABLE_F_OWNER;
    kernel.table().owner = FakeBackend::port_id + 1;
    const auto table = kernel.inspect();
    CHECK_THAT(table.refusal, Catch::StartsWith("table ip warren is owned by another process (netlink port id 1001)"));
    CHECK(kinds(table) == std::vector{TableProblemKind::owned_by_another_process});
    CHECK_THAT(table.problems[0].fix, Catch::Contains("ss -f netlink -p"));
    CHECK(table.ports.size() == 1);  // still readable
    check_told(table);
}

TEST_CASE("a map of another layout is reported with the publisher's refusal and its fix", "[inspect]")
{
    PublishedTable kernel;
    kernel.table().sets.at("ports").declaration.flags = NFT_SET_TIMEOUT;
    kernel.table().sets.at("ports").declaration.timeout = 2000;
    kernel.table().sets.at("bound_ports").declaration.size = 2;
    const auto table = kernel.inspect();
    // Every reason, though the publisher's error names the first.
    CHECK(table.refusal ==
          "map ip warren ports has flags timeout: its elements would expire; remove the table with `nft delete table ip "
          "warren` and publish again: kernel error");
    REQUIRE(kinds(table) == std::vector{TableProblemKind::other_layout, TableProblemKind::other_layout});
    CHECK_THAT(table.problems[1].description, Catch::StartsWith("map ip warren bound_ports has size 2"));
    CHECK(table.problems[0].description == "map ip warren ports has flags timeout: its elements would expire");
    CHECK(table.problems[0].object == "map ip warren ports");
    CHECK(table.problems[0].fix ==
          "nft delete table ip warren (which deletes every port published in it), then publish every task's ports again");
}

TEST_CASE("an ownerless element is reported with the command that deletes it", "[inspect]")
{
    PublishedTable kernel;
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    tx.add(layout::port_element({Protocol::tcp, 9100}, {test::address("10.99.0.9"), Protocol::tcp, 80}, "added\nby hand"));
    kernel.fake.commit(tx, std::nullopt);
    const auto table = kernel.inspect();
    REQUIRE(kinds(table) == std::vector{TableProblemKind::ownerless_element});
    CHECK(table.problems[0].severity == Severity::warning);
    CHECK(table.problems[0].object == "element ip warren ports tcp . 9100");
    CHECK_THAT(table.problems[0].description, Catch::Contains("added\\x0aby hand"));
    CHECK(table.problems[0].fix == "if no program of yours added it: nft delete element ip warren ports { tcp . 9100 }");
    CHECK(table.ports.size() == 2);
    check_told(table);
}

TEST_CASE("a missing and a stale backends element are reported in a table that counts", "[inspect]")
{
    PublishedTable kernel(PublisherOptions{.counters = true});
    auto& backends = kernel.table().sets.at("backends").elements;
    REQUIRE(backends.size() == 1);
    backends.clear();
    SECTION("missing")
    {
        const auto table = kernel.inspect();
        CHECK(table.counting);
        REQUIRE(kinds(table) == std::vector{TableProblemKind::missing_backends_element});
        CHECK(table.problems[0].severity == Severity::failure);
        CHECK_THAT(table.problems[0].description, Catch::Contains("lacks 10.88.0.5:80/tcp"));
        check_told(table);
    }
    SECTION("stale")
    {
        ruleset::Transaction tx(layout::table(ruleset::Family::ip));
        tx.add(layout::destination_element({test::address("10.88.0.5"), Protocol::tcp, 80}));
        tx.add(layout::destination_element({test::address("10.88.0.7"), Protocol::udp, 53}));
        kernel.fake.commit(tx, std::nullopt);
        const auto table = kernel.inspect();
        REQUIRE(kinds(table) == std::vector{TableProblemKind::stale_backends_element});
        CHECK_THAT(table.problems[0].description, Catch::Contains("holds 10.88.0.7:53/udp"));
    }
}

TEST_CASE("rules written for other options are a note, not damage", "[inspect]")
{
    PublishedTable kernel(PublisherOptions{.masquerading = Masquerading::when_needed});
    const auto table = kernel.inspect();
    REQUIRE(kinds(table) == std::vector{TableProblemKind::rules_of_other_options});
    CHECK(table.problems[0].severity == Severity::note);
    CHECK_THAT(table.problems[0].description, Catch::Contains("masquerading when needed"));
    CHECK(kernel.inspect(PublisherOptions{.masquerading = Masquerading::when_needed}).problems.empty());
}
