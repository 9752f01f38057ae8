// SPDX-License-Identifier: Apache-2.0
// How published ports become map and set elements, and back.
#include "publisher/layout.hpp"

#include <warren/nft/error.hpp>

#include <catch2/catch.hpp>

#include "addresses.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <functional>

using namespace warren::nft;
using ruleset::Bytes;

TEST_CASE("map elements use nft's padded concatenation layout", "[layout]")
{
    const auto element = layout::port_element({Protocol::udp, 5353}, {test::v4(10, 88, 0, 5), Protocol::udp, 53}, "task=t");
    CHECK(element.set == "ports");
    // inet_proto . inet_service: each field padded to 4 bytes, port in network order
    CHECK(element.key == Bytes{17, 0, 0, 0, 0x14, 0xe9, 0, 0});
    // ipv4_addr . inet_service
    CHECK(element.data == Bytes{10, 88, 0, 5, 0, 53, 0, 0});
    CHECK(element.comment == "task=t");

    const auto backend = layout::destination_element({test::v4(10, 88, 0, 5), Protocol::sctp, 0x1234});
    CHECK(backend.set == "backends");
    CHECK(backend.key == Bytes{10, 88, 0, 5, 132, 0, 0, 0, 0x12, 0x34, 0, 0});
    CHECK(backend.data.empty());
}

TEST_CASE("ports bound to one host address are elements of bound_ports", "[layout][host-ip]")
{
    const layout::HostPort bound{Protocol::tcp, 8080, test::v4(10, 200, 1, 1)};
    const auto element = layout::port_element(bound, {test::v4(10, 88, 0, 5), Protocol::tcp, 80}, "task=t");
    CHECK(element.set == "bound_ports");
    // ipv4_addr . inet_proto . inet_service, each padded to 4 bytes
    CHECK(element.key == Bytes{10, 200, 1, 1, 6, 0, 0, 0, 0x1f, 0x90, 0, 0});
    CHECK(element.data == Bytes{10, 88, 0, 5, 0, 80, 0, 0});
    const auto decoded = layout::decode_port_element(ruleset::Family::ip, element);
    REQUIRE(decoded);
    CHECK(decoded->key == bound);
    CHECK(decoded->destination == layout::Destination{test::v4(10, 88, 0, 5), Protocol::tcp, 80});
    // The same bytes in the other map are no port of ours.
    auto misplaced = element;
    misplaced.set = "ports";
    CHECK_FALSE(layout::decode_port_element(ruleset::Family::ip, misplaced));
    // Nor is a bound port on 0.0.0.0, which would read back as one on all addresses.
    auto unspecified = element;
    std::fill_n(unspecified.key.begin(), 4, 0);
    CHECK_FALSE(layout::decode_port_element(ruleset::Family::ip, unspecified));

    CHECK(layout::describe(bound) == "8080/tcp on 10.200.1.1");
    CHECK(layout::describe({Protocol::udp, 53, {}}) == "53/udp");
}

TEST_CASE("host ports overlap on the same address, or when one is on all addresses", "[layout][host-ip]")
{
    const layout::HostPort all{Protocol::tcp, 80, {}};
    const layout::HostPort one{Protocol::tcp, 80, test::v4(10, 0, 0, 1)};
    const layout::HostPort other{Protocol::tcp, 80, test::v4(10, 0, 0, 2)};
    CHECK(layout::overlap(all, all));
    CHECK(layout::overlap(all, one));
    CHECK(layout::overlap(one, all));
    CHECK(layout::overlap(one, one));
    CHECK_FALSE(layout::overlap(one, other));
    CHECK_FALSE(layout::overlap(all, layout::HostPort{Protocol::udp, 80, {}}));
    CHECK_FALSE(layout::overlap(one, layout::HostPort{Protocol::tcp, 81, test::v4(10, 0, 0, 1)}));
    // All addresses sort first, so a sorted list has every overlap next to each other.
    CHECK(all < one);
    CHECK(one < other);
}

TEST_CASE("elements decode back to what was encoded", "[layout]")
{
    const layout::HostPort key{Protocol::tcp, 65535};
    const layout::Destination destination{test::v4(192, 168, 7, 9), Protocol::tcp, 1};
    const auto decoded = layout::decode_port_element(ruleset::Family::ip, layout::port_element(key, destination, ""));
    REQUIRE(decoded);
    CHECK(decoded->key == key);
    CHECK(decoded->destination == destination);
    CHECK(layout::decode_destination_element(ruleset::Family::ip, layout::destination_element(destination)) == destination);

    auto unknown_protocol = layout::port_element(key, destination, "");
    unknown_protocol.key[0] = 1;  // icmp: never ours
    CHECK_FALSE(layout::decode_port_element(ruleset::Family::ip, unknown_protocol));
    unknown_protocol.key.resize(4);
    CHECK_FALSE(layout::decode_port_element(ruleset::Family::ip, unknown_protocol));
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
    const auto create =
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), empty, false, layout::RuleOptions{false});
    REQUIRE(create);
    // table, 3 maps (ports, bound_ports, ingress), the ingress_backends set and 4 policy sets (no
    // backends set: the table does not count), and per chain add, flush and rules: 11 in each police
    // chain (a return, a prefix length each, and drop), 2 jumps and 4 DNAT in each nat chain, 2 per
    // protocol in postrouting and forward, 1 in guard
    CHECK(create->operations().size() == 1 + 3 + 1 + 4 + 7 * 2 + 11 + 11 + 6 + 6 + 6 + 6 + 1);

    auto complete = snapshot_after(*create);
    CHECK_FALSE(layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), complete, false, layout::RuleOptions{false}));
    CHECK(layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), complete, true, layout::RuleOptions{false}));

    auto no_forward = complete;
    no_forward.chains.erase("forward");
    no_forward.rule_comments.erase("forward");
    const auto repair =
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), no_forward, false, layout::RuleOptions{false});
    REQUIRE(repair);
    // table, then add/flush/6 rules for the missing chain only
    CHECK(repair->operations().size() == 1 + 8);

    // `nft flush chain ip warren forward`: the chain is there, its rules are not.
    auto flushed = complete;
    flushed.rule_comments.erase("forward");
    const auto refill =
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), flushed, false, layout::RuleOptions{false});
    REQUIRE(refill);
    CHECK(refill->operations().size() == 1 + 8);
    // A rule replaced by a foreign one is a gap too.
    auto edited = complete;
    edited.rule_comments["prerouting"] = {"something else"};
    REQUIRE(layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), edited, false, layout::RuleOptions{false}));
    CHECK(layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), edited, false, layout::RuleOptions{false})
              ->operations()
              .size() == 1 + 2 + 6);
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
    const auto plain = layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false, layout::RuleOptions{false});
    const auto counted = layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false, layout::RuleOptions{true});
    CHECK(backends_of(*plain).empty());
    REQUIRE(backends_of(*counted).size() == 1);
    CHECK(backends_of(*counted).front().second.counter);
    CHECK(count_rules(*counted) == 12 + 26);  // and the policy rules: 2 police chains of 11, 4 jumps

    // Wanting counters in a complete table that does not count: the set is created (empty: the
    // publisher fills it) and the masquerade and forward rules are replaced by ones that look it up.
    const auto complete = snapshot_after(*plain);
    CHECK_FALSE(layout::counts(complete));
    CHECK_FALSE(layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), complete, false, layout::RuleOptions{false}));
    const auto upgrade =
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), complete, false, layout::RuleOptions{true});
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
    older.elements[layout::backends_set] = {layout::destination_element({test::v4(10, 88, 0, 5), Protocol::tcp, 8080})};
    for (const bool counters : {false, true}) {
        INFO("counters " << counters);
        const auto migrate =
            layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), older, false, layout::RuleOptions{counters});
        REQUIRE(migrate);
        const auto& ops = migrate->operations();
        const auto removed =
            std::find_if(ops.begin(), ops.end(),
                         [](const ruleset::Operation& op) {
                             return op.verb == ruleset::Verb::remove && std::holds_alternative<ruleset::Set>(op.object);
                         }) -
            ops.begin();
        REQUIRE(removed < static_cast<long>(ops.size()));
        CHECK(std::count_if(ops.begin(), ops.begin() + removed, [](const auto& op) { return op.verb == ruleset::Verb::flush; }) ==
              7);
        CHECK(std::none_of(ops.begin(), ops.begin() + removed,
                           [](const auto& op) { return std::holds_alternative<ruleset::Rule>(op.object); }));
        CHECK(backends_of(*migrate).size() == (counters ? 2u : 1u));  // removed, then added counting
        CHECK(count_rules(*migrate) == 12 + (counters ? 26 : 35));
        // No element is carried over: a new counting set is filled by the publisher.
        CHECK(std::none_of(ops.begin(), ops.end(),
                           [](const auto& op) { return std::holds_alternative<ruleset::Element>(op.object); }));
    }

    // A counting set stays as it is when the caller keeps counting (the publisher always does).
    const auto counting = snapshot_after(*counted);
    CHECK_FALSE(layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), counting, false, layout::RuleOptions{true}));
}

namespace {

// What ensure_transaction refuses `snapshot` with ("" when it does not).
std::string refusal(const ruleset::TableSnapshot& snapshot)
{
    try {
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), snapshot, false, layout::RuleOptions{false});
    } catch (const Error& e) {
        CHECK(e.code() == errc::kernel_error);
        CHECK(e.kernel_errno() == 0);  // refused before anything was sent
        return e.what();
    }
    return {};
}

// The complete table a first publish creates, as a snapshot shows it.
ruleset::TableSnapshot complete_table()
{
    return snapshot_after(
        *layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false, layout::RuleOptions{false}));
}

const std::string remove_table = "; remove the table with `nft delete table ip warren` and publish again: kernel error";

}  // namespace

TEST_CASE("a chain of another kind is reported, not overwritten", "[layout][adopt]")
{
    struct Case {
        std::optional<ruleset::BaseHook> hook;
        std::string difference;
    };
    const std::vector<Case> cases{
        {std::nullopt, "a regular chain, where warren-nft's has type nat hook prerouting"},
        {ruleset::BaseHook{"filter", NF_INET_PRE_ROUTING, -100, true}, "type filter, where warren-nft's has type nat"},
        {ruleset::BaseHook{"nat", NF_INET_LOCAL_IN, -100, true}, "hook input, where warren-nft's has hook prerouting"},
        {ruleset::BaseHook{"nat", NF_INET_PRE_ROUTING, -150, true}, "priority -150, where warren-nft's has priority -100"},
    };
    for (const auto& c : cases) {
        auto snapshot = complete_table();
        snapshot.chains["prerouting"].hook = c.hook;
        CHECK(refusal(snapshot) == "chain ip warren prerouting is of another kind (" + c.difference +
                                       "): it was made by another program or version" + remove_table);
    }
}

TEST_CASE("a chain of ours with policy drop is set back to accept, its rules untouched", "[layout][adopt]")
{
    auto snapshot = complete_table();
    snapshot.chains["forward"].hook->policy_accept = false;
    const auto repair =
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), snapshot, false, layout::RuleOptions{false});
    REQUIRE(repair);
    const auto& ops = repair->operations();
    REQUIRE(ops.size() == 2);  // the table, then NEWCHAIN with policy accept; no flush, no rules
    const auto* chain = std::get_if<ruleset::Chain>(&ops[1].object);
    REQUIRE(chain);
    CHECK(ops[1].verb == ruleset::Verb::add);
    CHECK(chain->name == "forward");
    CHECK(chain->hook->policy_accept);
}

TEST_CASE("a dormant table is woken by the transaction that adopts it, after its base chains", "[layout][adopt]")
{
    // The flags a transaction's NEWTABLE messages ask for, in order (nullopt: leave them as they are).
    const auto table_flags = [](const ruleset::Transaction& tx) {
        std::vector<std::optional<std::uint32_t>> out;
        for (const auto& op : tx.operations())
            if (const auto* table = std::get_if<ruleset::Table>(&op.object); table && op.verb == ruleset::Verb::add)
                out.push_back(table->flags);
        return out;
    };
    using Flags = std::vector<std::optional<std::uint32_t>>;

    auto snapshot = complete_table();
    snapshot.table_flags = NFT_TABLE_F_DORMANT;
    const auto wake =
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), snapshot, false, layout::RuleOptions{false});
    REQUIRE(wake);
    // The chains are all there and only need hooking: the table, then the table without flags.
    CHECK(wake->operations().size() == 2);
    CHECK(table_flags(*wake) == Flags{std::nullopt, 0u});

    // A dormant table without chains: the kernel refuses a new base chain once the table's flags
    // changed in the same transaction, so it is woken after every chain is created.
    ruleset::TableSnapshot empty;
    empty.exists = true;
    empty.table_flags = NFT_TABLE_F_DORMANT;
    const auto build =
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), empty, false, layout::RuleOptions{false});
    REQUIRE(build);
    const auto& ops = build->operations();
    CHECK(table_flags(*build) == Flags{std::nullopt, 0u});
    CHECK(std::get<ruleset::Table>(ops.back().object).flags == 0u);
    CHECK(std::count_if(ops.begin(), ops.end(),
                        [](const auto& op) { return std::holds_alternative<ruleset::Chain>(op.object); }) == 14);

    // A chain to create and one to update: the kernel refuses a change of the table's flags after a
    // chain update in the same transaction, so the wake goes between them.
    auto mixed = snapshot;
    mixed.chains.erase("forward");
    mixed.rule_comments.erase("forward");
    mixed.chains["prerouting"].hook->policy_accept = false;
    const auto order =
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), mixed, false, layout::RuleOptions{false});
    REQUIRE(order);
    std::vector<std::string> sequence;  // the chain operations and the wake, in order
    for (const auto& op : order->operations()) {
        if (const auto* chain = std::get_if<ruleset::Chain>(&op.object); chain && op.verb == ruleset::Verb::add)
            sequence.push_back(chain->name);
        if (const auto* table = std::get_if<ruleset::Table>(&op.object); table && table->flags)
            sequence.push_back("wake");
    }
    CHECK(sequence == std::vector<std::string>{"forward", "wake", "prerouting"});

    // Awake, the same table needs nothing; one that never existed is created without flags.
    snapshot.table_flags = 0;
    CHECK_FALSE(layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), snapshot, false, layout::RuleOptions{false}));
    CHECK(table_flags(*layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false,
                                                  layout::RuleOptions{false})) == Flags{std::nullopt});
}

TEST_CASE("a table owned by another process is refused with its owner's port id", "[layout][adopt]")
{
    auto snapshot = complete_table();
    snapshot.table_flags = NFT_TABLE_F_OWNER;
    snapshot.owner = 4242;
    CHECK(refusal(snapshot) ==
          "table ip warren is owned by another process (netlink port id 4242): only that process may change it; the "
          "kernel deletes the table when that process closes its netlink socket, so stop it (`ss -f netlink -p` names "
          "the process with that port id) or have it delete the table, then publish again: kernel error");
    // Dormant too: still the owner's to wake.
    snapshot.table_flags |= NFT_TABLE_F_DORMANT;
    CHECK_THAT(refusal(snapshot), Catch::StartsWith("table ip warren is owned by another process (netlink port id 4242)"));
    // Owned by the publisher's own socket (warren-nft never asks for that): nothing stands in the way.
    snapshot.table_flags = NFT_TABLE_F_OWNER;
    snapshot.owned_by_us = true;
    CHECK(refusal(snapshot).empty());
    CHECK_FALSE(layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), snapshot, false, layout::RuleOptions{false}));

    snapshot = complete_table();
    snapshot.table_flags = 0x80;
    CHECK(refusal(snapshot) == "table ip warren has flags 0x80, which warren-nft does not know" + remove_table);
}

TEST_CASE("a set that would expire, match ranges or fill up is refused, naming the difference", "[layout][adopt]")
{
    struct Case {
        std::string set;
        std::function<void(ruleset::SetShape&)> change;
        std::string message;
    };
    const std::vector<Case> cases{
        {"ports",
         [](auto& s) {
             s.flags = NFT_SET_TIMEOUT;
             s.timeout = 2000;
         },
         "map ip warren ports has flags timeout: its elements would expire"},
        {"ports", [](auto& s) { s.flags = NFT_SET_TIMEOUT; },  // no default timeout, but elements may have one
         "map ip warren ports has flags timeout: its elements would expire"},
        {"bound_ports", [](auto& s) { s.flags = NFT_SET_INTERVAL | NFT_SET_CONCAT; },
         "map ip warren bound_ports has flags interval: its elements are ranges of keys, not the single ports "
         "warren-nft writes"},
        {"ports", [](auto& s) { s.flags = NFT_SET_EVAL; },
         "map ip warren ports has flags dynamic: rules may add elements to it that no task published"},
        {"ports", [](auto& s) { s.flags = NFT_SET_CONSTANT; },
         "map ip warren ports has flags constant: the kernel refuses to add or delete its elements"},
        {"ports", [](auto& s) { s.size = 2; },
         "map ip warren ports has size 2: the kernel takes no more than 2 elements and refuses more with ENFILE "
         "(\"Too many open files in system\"), so publishing would fail once it is full"},
        {"ports", [](auto& s) { s.flags = NFT_SET_ANONYMOUS; },
         "map ip warren ports has flags 0x1, which warren-nft's has not: it was made by another program or version"},
        {"ports", [](auto& s) { s.key_length = 4; },
         "map ip warren ports is of another layout (its key type differs from warren-nft's): it was made by another "
         "program or version"},
        {"ports",
         [](auto& s) {
             s.data_type = 0;
             s.data_length = 0;
             s.counter = true;
         },
         "set ip warren ports is of another layout (its value type and counter differ from warren-nft's): it was made "
         "by another program or version"},
    };
    for (const auto& c : cases) {
        auto snapshot = complete_table();
        c.change(snapshot.sets.at(c.set));
        CHECK(refusal(snapshot) == c.message + remove_table);
    }

    // A counting backends set with a timeout is refused too, whether or not the table is to count.
    auto counted =
        snapshot_after(*layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false, layout::RuleOptions{true}));
    counted.sets.at("backends").flags = NFT_SET_TIMEOUT;
    CHECK_THROWS_WITH(
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), counted, false, layout::RuleOptions{true}),
        "set ip warren backends has flags timeout: its elements would expire" + remove_table);

    // Flags that change nothing we rely on: expressions, a concatenation's description.
    auto harmless = complete_table();
    harmless.sets.at("ports").flags = NFT_SET_EXPR | NFT_SET_CONCAT;
    CHECK(refusal(harmless).empty());
    // A typeof where warren-nft declares none (nft's `typeof` for the same types): nft lists it.
    harmless.sets.at("ports").nft_typeof = ruleset::SetTypeof{{ruleset::typeof_expr::Meta{NFT_META_L4PROTO}, ruleset::th_dport},
                                                              {ruleset::ip_daddr, ruleset::th_dport}};
    CHECK(refusal(harmless).empty());
}
