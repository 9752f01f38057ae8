// SPDX-License-Identifier: Apache-2.0
// How published ports become map and set elements, and back.
#include "publisher/layout.hpp"

#include <warren/nft/error.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace warren::nft;
using ruleset::Bytes;

TEST_CASE("map elements use nft's padded concatenation layout", "[layout]")
{
    const auto element = layout::port_element({Protocol::udp, 5353}, {{10, 88, 0, 5}, Protocol::udp, 53}, "task=t");
    CHECK(element.set == "ports");
    // inet_proto . inet_service: each field padded to 4 bytes, port in network order
    CHECK(element.key == Bytes{17, 0, 0, 0, 0x14, 0xe9, 0, 0});
    // ipv4_addr . inet_service
    CHECK(element.data == Bytes{10, 88, 0, 5, 0, 53, 0, 0});
    CHECK(element.comment == "task=t");

    const auto backend = layout::destination_element({{10, 88, 0, 5}, Protocol::sctp, 0x1234});
    CHECK(backend.set == "backends");
    CHECK(backend.key == Bytes{10, 88, 0, 5, 132, 0, 0, 0, 0x12, 0x34, 0, 0});
    CHECK(backend.data.empty());
}

TEST_CASE("ports bound to one host address are elements of bound_ports", "[layout][host-ip]")
{
    const layout::HostPort bound{Protocol::tcp, 8080, {10, 200, 1, 1}};
    const auto element = layout::port_element(bound, {{10, 88, 0, 5}, Protocol::tcp, 80}, "task=t");
    CHECK(element.set == "bound_ports");
    // ipv4_addr . inet_proto . inet_service, each padded to 4 bytes
    CHECK(element.key == Bytes{10, 200, 1, 1, 6, 0, 0, 0, 0x1f, 0x90, 0, 0});
    CHECK(element.data == Bytes{10, 88, 0, 5, 0, 80, 0, 0});
    const auto decoded = layout::decode_port_element(element);
    REQUIRE(decoded);
    CHECK(decoded->key == bound);
    CHECK(decoded->destination == layout::Destination{{10, 88, 0, 5}, Protocol::tcp, 80});
    // The same bytes in the other map are no port of ours.
    auto misplaced = element;
    misplaced.set = "ports";
    CHECK_FALSE(layout::decode_port_element(misplaced));
    // Nor is a bound port on 0.0.0.0, which would read back as one on all addresses.
    auto unspecified = element;
    std::fill_n(unspecified.key.begin(), 4, 0);
    CHECK_FALSE(layout::decode_port_element(unspecified));

    CHECK(layout::describe(bound) == "8080/tcp on 10.200.1.1");
    CHECK(layout::describe({Protocol::udp, 53, {}}) == "53/udp");
}

TEST_CASE("host ports overlap on the same address, or when one is on all addresses", "[layout][host-ip]")
{
    const layout::HostPort all{Protocol::tcp, 80, {}};
    const layout::HostPort one{Protocol::tcp, 80, {10, 0, 0, 1}};
    const layout::HostPort other{Protocol::tcp, 80, {10, 0, 0, 2}};
    CHECK(layout::overlap(all, all));
    CHECK(layout::overlap(all, one));
    CHECK(layout::overlap(one, all));
    CHECK(layout::overlap(one, one));
    CHECK_FALSE(layout::overlap(one, other));
    CHECK_FALSE(layout::overlap(all, layout::HostPort{Protocol::udp, 80, {}}));
    CHECK_FALSE(layout::overlap(one, layout::HostPort{Protocol::tcp, 81, {10, 0, 0, 1}}));
    // All addresses sort first, so a sorted list has every overlap next to each other.
    CHECK(all < one);
    CHECK(one < other);
}

TEST_CASE("elements decode back to what was encoded", "[layout]")
{
    const layout::HostPort key{Protocol::tcp, 65535};
    const layout::Destination destination{{192, 168, 7, 9}, Protocol::tcp, 1};
    const auto decoded = layout::decode_port_element(layout::port_element(key, destination, ""));
    REQUIRE(decoded);
    CHECK(decoded->key == key);
    CHECK(decoded->destination == destination);
    CHECK(layout::decode_destination_element(layout::destination_element(destination)) == destination);

    auto unknown_protocol = layout::port_element(key, destination, "");
    unknown_protocol.key[0] = 1;  // icmp: never ours
    CHECK_FALSE(layout::decode_port_element(unknown_protocol));
    unknown_protocol.key.resize(4);
    CHECK_FALSE(layout::decode_port_element(unknown_protocol));
}

TEST_CASE("owner comments carry task id and name", "[layout]")
{
    CHECK(layout::owner_comment("task-1", "") == "task=task-1");
    CHECK(layout::owner_comment("task-1", "web") == "task=task-1 name=web");
    const auto owner = layout::parse_owner_comment("task=task-1 name=web");
    REQUIRE(owner);
    CHECK(owner->task_id == "task-1");
    CHECK(owner->name == "web");
    CHECK(layout::parse_owner_comment("task=task-1")->name.empty());
    CHECK_FALSE(layout::parse_owner_comment(""));
    CHECK_FALSE(layout::parse_owner_comment("published by hand"));
    CHECK_FALSE(layout::parse_owner_comment("task="));
}

namespace {

// What a dump shows after `tx` created the table (elements aside).
ruleset::TableSnapshot snapshot_after(const ruleset::Transaction& tx)
{
    ruleset::TableSnapshot snapshot;
    snapshot.exists = true;
    for (const auto& op : tx.operations()) {
        if (const auto* chain = std::get_if<ruleset::Chain>(&op.object))
            snapshot.chains[chain->name] = *chain;
        if (const auto* set = std::get_if<ruleset::Set>(&op.object))
            snapshot.sets[set->name] = set->shape();
        if (const auto* rule = std::get_if<ruleset::Rule>(&op.object))
            snapshot.rule_comments[rule->chain].push_back(rule->comment);
    }
    return snapshot;
}

}  // namespace

TEST_CASE("the table is completed only where a snapshot shows gaps", "[layout]")
{
    ruleset::TableSnapshot empty;
    const auto create = layout::ensure_transaction(empty, false, false);
    REQUIRE(create);
    // table, 2 maps (no backends set: the table does not count), and per chain add, flush and rules:
    // 2 in each nat chain for DNAT, 2 per protocol in postrouting and forward
    CHECK(create->operations().size() == 1 + 2 + 4 * 2 + 2 + 2 + 6 + 6);

    auto complete = snapshot_after(*create);
    CHECK_FALSE(layout::ensure_transaction(complete, false, false));
    CHECK(layout::ensure_transaction(complete, true, false));

    auto no_forward = complete;
    no_forward.chains.erase("forward");
    no_forward.rule_comments.erase("forward");
    const auto repair = layout::ensure_transaction(no_forward, false, false);
    REQUIRE(repair);
    // table, then add/flush/6 rules for the missing chain only
    CHECK(repair->operations().size() == 1 + 8);

    // `nft flush chain ip warren forward`: the chain is there, its rules are not.
    auto flushed = complete;
    flushed.rule_comments.erase("forward");
    const auto refill = layout::ensure_transaction(flushed, false, false);
    REQUIRE(refill);
    CHECK(refill->operations().size() == 1 + 8);
    // A rule replaced by a foreign one is a gap too.
    auto edited = complete;
    edited.rule_comments["prerouting"] = {"something else"};
    REQUIRE(layout::ensure_transaction(edited, false, false));
    CHECK(layout::ensure_transaction(edited, false, false)->operations().size() == 1 + 4);
}

TEST_CASE("only a table that counts has a backends set; one that does not count is replaced or dropped", "[layout][counters]")
{
    const auto backends_of = [](const ruleset::Transaction& tx) {
        std::vector<std::pair<ruleset::Verb, ruleset::Set>> sets;
        for (const auto& op : tx.operations())
            if (const auto* set = std::get_if<ruleset::Set>(&op.object); set && set->name == layout::backends_set)
                sets.emplace_back(op.verb, *set);
        return sets;
    };
    const auto count_rules = [](const ruleset::Transaction& tx) {
        return std::count_if(tx.operations().begin(), tx.operations().end(),
                             [](const auto& op) { return std::holds_alternative<ruleset::Rule>(op.object); });
    };
    const auto plain = layout::ensure_transaction({}, false, false);
    const auto counted = layout::ensure_transaction({}, false, true);
    CHECK(backends_of(*plain).empty());
    REQUIRE(backends_of(*counted).size() == 1);
    CHECK(backends_of(*counted).front().second.counter);
    CHECK(count_rules(*counted) == 7);

    // Wanting counters in a complete table that does not count: the set is created (empty: the
    // publisher fills it) and the masquerade and forward rules are replaced by ones that look it up.
    const auto complete = snapshot_after(*plain);
    CHECK_FALSE(layout::counts(complete));
    CHECK_FALSE(layout::ensure_transaction(complete, false, false));
    const auto upgrade = layout::ensure_transaction(complete, false, true);
    REQUIRE(upgrade);
    REQUIRE(backends_of(*upgrade).size() == 1);
    CHECK(backends_of(*upgrade).front().first == ruleset::Verb::add);
    CHECK(backends_of(*upgrade).front().second.counter);
    CHECK(count_rules(*upgrade) == 1 + 2);
    CHECK(layout::counts(snapshot_after(*counted)));

    // A table an older version wrote: a backends set without counters, pinned by rules that look it
    // up. Either way the rules are flushed before the set is removed, and all come back after.
    auto older = snapshot_after(*counted);
    older.sets[layout::backends_set].counter = false;
    older.elements[layout::backends_set] = {layout::destination_element({{10, 88, 0, 5}, Protocol::tcp, 8080})};
    for (const bool counters : {false, true}) {
        INFO("counters " << counters);
        const auto migrate = layout::ensure_transaction(older, false, counters);
        REQUIRE(migrate);
        const auto& ops = migrate->operations();
        const auto removed = std::find_if(ops.begin(), ops.end(), [](const ruleset::Operation& op) {
                                 return op.verb == ruleset::Verb::remove && std::holds_alternative<ruleset::Set>(op.object);
                             }) - ops.begin();
        REQUIRE(removed < static_cast<long>(ops.size()));
        CHECK(std::count_if(ops.begin(), ops.begin() + removed,
                            [](const auto& op) { return op.verb == ruleset::Verb::flush; }) == 4);
        CHECK(std::none_of(ops.begin(), ops.begin() + removed,
                           [](const auto& op) { return std::holds_alternative<ruleset::Rule>(op.object); }));
        CHECK(backends_of(*migrate).size() == (counters ? 2u : 1u));  // removed, then added counting
        CHECK(count_rules(*migrate) == (counters ? 7 : 16));
        // No element is carried over: a new counting set is filled by the publisher.
        CHECK(std::none_of(ops.begin(), ops.end(),
                           [](const auto& op) { return std::holds_alternative<ruleset::Element>(op.object); }));
    }

    // A counting set stays as it is when the caller keeps counting (the publisher always does).
    const auto counting = snapshot_after(*counted);
    CHECK_FALSE(layout::ensure_transaction(counting, false, true));
}

TEST_CASE("a chain of another kind is reported, not overwritten", "[layout]")
{
    auto snapshot = ruleset::TableSnapshot{};
    snapshot.exists = true;
    snapshot.chains["prerouting"] = ruleset::Chain{"prerouting", std::nullopt};  // a regular chain
    try {
        layout::ensure_transaction(snapshot, false, false);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == errc::kernel_error);
        CHECK_THAT(e.what(), Catch::Contains("chain 'prerouting' of another kind"));
    }
}
