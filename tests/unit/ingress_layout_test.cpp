// SPDX-License-Identifier: Apache-2.0
// The objects of ingress mode in the table (docs/ingress.md) over the in-memory fake: a new table
// has them, a table written before them gets them with its next change, and an ingress map that
// lost its typeof is made again.
#include "publisher/ingress_slots.hpp"
#include "publisher/publisher_on.hpp"
#include "publisher/schema.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include <memory>

#include "earlier_layouts.hpp"
#include "error_of.hpp"
#include "ports.hpp"

using namespace warren::nft;
using ruleset::FakeBackend;
using ruleset::Family;
using test::port;

namespace {

const ContainerAddresses dual{"10.88.0.2", "fd00::2"};

const FakeBackend::TableState& table_of(const FakeBackend& fake, Family family)
{
    return fake.state().at({family, layout::table_name});
}

std::vector<std::string> comments(const FakeBackend& fake, Family family, const std::string& chain)
{
    std::vector<std::string> out;
    for (const auto& rule : table_of(fake, family).chains.at(chain).rules)
        out.push_back(rule.comment);
    return out;
}

// The table has the ingress objects as the layout declares them, and each nat chain that DNATs the
// ingress rules (wide ports', then narrow ones') between the bound_ports rule and the ports rule.
void check_ingress_layout(const FakeBackend& fake, Family family)
{
    INFO(ruleset::display_name(layout::table(family)));
    const auto& layout = layout::layout_of(family);
    const auto& table = table_of(fake, family);
    REQUIRE(table.sets.contains(layout::ingress_map));
    REQUIRE(table.sets.contains(layout::ingress_backends_set));
    CHECK(table.sets.at(layout::ingress_map).declaration.shape() == layout::ingress_declaration(layout).shape());
    CHECK(table.sets.at(layout::ingress_map).declaration.nft_typeof.has_value());
    CHECK(table.sets.at(layout::ingress_backends_set).declaration.shape() ==
          layout::ingress_backends_declaration(layout).shape());
    for (const char* chain : {"prerouting", "output"}) {
        INFO(chain);
        const auto& rules = table.chains.at(chain).rules;
        std::vector<std::string> maps;
        for (const auto& rule : rules)
            for (const char* map : {layout::bound_ports_map, layout::ingress_map, layout::ports_map})
                if (test::looks_up(rule, map))
                    maps.push_back(map);
        REQUIRE(maps ==
                std::vector<std::string>{layout::bound_ports_map, layout::ingress_map, layout::ingress_map, layout::ports_map});
        const auto wide_rule =
            std::find_if(rules.begin(), rules.end(), [](const auto& rule) { return test::looks_up(rule, layout::ingress_map); });
        const auto& ports = (wide_rule + 2)->expressions;
        // Wide ports' slots first, then narrow ones': the same conditions and key as the ports rule
        // they precede, then the slot.
        for (const auto& [ingress_rule, slots] :
             {std::pair{wide_rule, ingress::wide_slot_count}, std::pair{wide_rule + 1, ingress::narrow_slot_count}}) {
            const auto& ingress = ingress_rule->expressions;
            const auto numgen = std::find_if(ingress.begin(), ingress.end(), [](const auto& expression) {
                return std::holds_alternative<ruleset::expr::Numgen>(expression);
            });
            REQUIRE(numgen != ingress.end());
            CHECK(std::get<ruleset::expr::Numgen>(*numgen).modulus == slots);
            REQUIRE(ports.size() + 1 == ingress.size());
            CHECK(std::equal(ingress.begin(), numgen, ports.begin()));
            CHECK(std::equal(numgen + 1, ingress.end(), ports.begin() + (numgen - ingress.begin()),
                             [](const auto& a, const auto& b) { return a.index() == b.index(); }));
        }
    }
}

// The next change (publishing another task) puts the ingress layout right in its own commit, and
// the task published before keeps its ports.
void check_next_change_repairs(FakeBackend& fake, HostPortPublisher& publisher)
{
    const auto commits = fake.commit_attempts();
    publisher.publish_ports("db", "10.88.0.3", std::vector{port(5432, 5432)});
    CHECK(fake.commit_attempts() == commits + 1);
    for (const auto family : layout::families)
        check_ingress_layout(fake, family);
    CHECK(publisher.published_ports("web") == std::vector{port(8080, 80)});
    for (const auto& table : publisher.inspect().families) {
        INFO(table.table);
        CHECK(table.problems.empty());
    }
}

}  // namespace

TEST_CASE("a new table holds the ingress map with its typeof, the ingress_backends set and their DNAT rules", "[ingress][layout]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("web", dual, std::vector{port(8080, 80)});
    for (const auto family : layout::families)
        check_ingress_layout(fake, family);
    // Both families' ingress rules spare loopback in output as their ports rules do (IPv6 always).
    CHECK(comments(fake, Family::ip6, "output")[3] ==
          "warren-nft: DNAT wide ingress ports of local non-loopback addresses to the backend of a random slot");
    CHECK(comments(fake, Family::ip6, "output")[4] ==
          "warren-nft: DNAT ingress ports of local non-loopback addresses to the backend of a random slot");
    CHECK(comments(fake, Family::ip, "prerouting")[3] ==
          "warren-nft: DNAT wide ingress ports of local addresses to the backend of a random slot");
    CHECK(comments(fake, Family::ip, "prerouting")[4] ==
          "warren-nft: DNAT ingress ports of local addresses to the backend of a random slot");
    for (const auto& table : publisher.inspect().families) {
        INFO(table.table);
        CHECK(table.problems.empty());
        CHECK(table.repair_operations == 0);
    }
}

namespace {

// A table of task "web" that `make_earlier` turns, in each family, into one an earlier version wrote:
// one note to inspect(), naming `why`; the next change brings it up to date, in its own commit.
// Returns the fake, for more.
std::unique_ptr<FakeBackend> check_earlier_layout(void (*make_earlier)(FakeBackend&, Family), const char* why)
{
    auto fake = std::make_unique<FakeBackend>();
    publisher_on(test::share(*fake)).publish_ports("web", dual, std::vector{port(8080, 80)});
    for (const auto family : layout::families)
        make_earlier(*fake, family);
    fake->bump_generation();

    auto publisher = publisher_on(test::share(*fake));
    for (const auto& table : publisher.inspect().families) {
        INFO(table.table);
        CHECK(table.refusal.empty());
        REQUIRE(table.problems.size() == 1);
        CHECK(table.problems.front().kind == TableProblemKind::earlier_layout);
        CHECK(table.problems.front().severity == Severity::note);
        CHECK_THAT(table.problems.front().description, Catch::Contains(why));
        CHECK(table.repair_operations > 0);
        CHECK(table.ports.size() == 1);
    }
    check_next_change_repairs(*fake, publisher);
    return fake;
}

}  // namespace

TEST_CASE("a table written before ingress mode is one note to inspect() and gets the objects with its next change",
          "[ingress][layout][adoption]")
{
    check_earlier_layout(test::remove_ingress_layout, "before ingress mode");
}

TEST_CASE("a table written before wide ingress ports is one note to inspect() and gets their rules with its next change",
          "[ingress][layout][adoption][wide]")
{
    const auto fake_owner = check_earlier_layout(test::remove_wide_ingress_rules, "more than 256 backends");
    auto& fake = *fake_owner;

    // Without any other ingress rule the chains are broken, not earlier.
    for (auto& [name, chain] : fake.mutable_state().at({Family::ip, layout::table_name}).chains)
        std::erase_if(chain.rules, [](const ruleset::Rule& rule) { return test::looks_up(rule, layout::ingress_map); });
    fake.bump_generation();
    const auto broken = publisher_on(test::share(fake)).inspect().families.front().problems;
    CHECK(
        std::any_of(broken.begin(), broken.end(), [](const TableProblem& p) { return p.kind == TableProblemKind::chain_rules; }));
}

TEST_CASE("a table missing only one ingress object is damaged, not earlier", "[ingress][layout]")
{
    FakeBackend fake;
    publisher_on(test::share(fake)).publish_ports("web", dual, std::vector{port(8080, 80)});
    auto& table = fake.mutable_state().at({Family::ip, layout::table_name});
    table.sets.erase(layout::ingress_backends_set);
    fake.bump_generation();
    const auto inspection = publisher_on(test::share(fake)).inspect();
    const auto& problems = inspection.families.front().problems;
    REQUIRE(problems.size() == 1);
    CHECK(problems.front().kind == TableProblemKind::missing_set);
    CHECK(problems.front().object == "set ip warren ingress_backends");
}

TEST_CASE("an ingress map without its typeof is deleted and created again with the rules that look it up", "[ingress][layout]")
{
    FakeBackend fake;
    publisher_on(test::share(fake)).publish_ports("web", dual, std::vector{port(8080, 80)});
    for (const auto family : layout::families)
        fake.mutable_state().at({family, layout::table_name}).sets.at(layout::ingress_map).declaration.nft_typeof.reset();
    fake.bump_generation();

    auto publisher = publisher_on(test::share(fake));
    for (const auto& table : publisher.inspect().families) {
        INFO(table.table);
        CHECK(table.refusal.empty());
        REQUIRE(table.problems.size() == 1);
        CHECK(table.problems.front().kind == TableProblemKind::ingress_typeof_lost);
        CHECK(table.problems.front().severity == Severity::warning);
        CHECK(table.problems.front().object == "map " + table.table + " ingress");
    }

    // Adding the map again would keep the user data it has (the fake, like the kernel, keeps it):
    // the repair deletes it first, which it can only do after the rules that look it up are gone.
    check_next_change_repairs(fake, publisher);
}

TEST_CASE("an ingress map of another type is refused, not replaced", "[ingress][layout]")
{
    FakeBackend fake;
    publisher_on(test::share(fake)).publish_ports("web", dual, std::vector{port(8080, 80)});
    auto& map = fake.mutable_state().at({Family::ip, layout::table_name}).sets.at(layout::ingress_map).declaration;
    map.key.pop_back();  // proto . port, without the slot
    map.nft_typeof.reset();
    fake.bump_generation();

    auto publisher = publisher_on(test::share(fake));
    const auto commits = fake.commit_attempts();
    const auto error = test::error_of([&] { publisher.publish_ports("db", "10.88.0.3", std::vector{port(5432, 5432)}); });
    CHECK(error.code() == errc::kernel_error);
    CHECK_THAT(error.what(), Catch::Contains("map ip warren ingress is of another layout (its key type and typeof differ"));
    CHECK(fake.commit_attempts() == commits);
}
