// SPDX-License-Identifier: Apache-2.0
#include "publisher/repair.hpp"

#include "publisher/ingress_slots.hpp"

#include <warren/nft/error.hpp>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstdio>

namespace warren::nft::layout {

using namespace ruleset;

bool counts(const TableSnapshot& snapshot)
{
    const auto backends = snapshot.sets.find(backends_set);
    return backends != snapshot.sets.end() && backends->second.counter;
}

namespace {

// What repairs whatever a publisher repairs: its next change, which a publish of a task's ports as
// they are is (a publish that succeeds must carry traffic).
constexpr const char* repair_fix =
    "publish any task's ports again (the same ports are enough): the change repairs the table in its own transaction";

// The reasons to refuse a table. Planning stops at the first; inspecting (with `problems`) records
// every one and throws the first once the table has been gone through.
class Refusals {
public:
    explicit Refusals(std::vector<TableProblem>* problems) : problems_(problems) {}

    void refuse(const Layout& layout, const std::string& what, const std::string& why)
    {
        const auto table = display_name(layout.table);
        add(Error(errc::kernel_error,
                  what + " " + why + "; remove the table with `nft delete table " + table + "` and publish again"),
            TableProblemKind::other_layout, what, what + " " + why,
            "nft delete table " + table + " (which deletes every port published in it), then publish every task's ports again");
    }
    void add(Error error, TableProblemKind kind, std::string object, std::string description, std::string fix)
    {
        if (!problems_)
            throw std::move(error);
        problems_->push_back({kind, Severity::failure, std::move(object), std::move(description), std::move(fix)});
        if (!first_)
            first_.emplace(std::move(error));
    }
    void throw_first()
    {
        if (first_)
            throw Error(std::move(*first_));
    }

private:
    std::vector<TableProblem>* problems_;
    std::optional<Error> first_;
};

// Flags that make a set behave otherwise than ours, whatever its type: each refused with its reason.
struct RefusedFlag {
    std::uint32_t flag;
    const char* name;
    const char* consequence;
};
constexpr RefusedFlag refused_set_flags[] = {
    {NFT_SET_TIMEOUT, "timeout", "its elements would expire"},
    {NFT_SET_INTERVAL, "interval", "its elements are ranges of keys, not the single ports warren-nft writes"},
    {NFT_SET_EVAL, "dynamic", "rules may add elements to it that no task published"},
    {NFT_SET_CONSTANT, "constant", "the kernel refuses to add or delete its elements"},
};
// Flags that change nothing we rely on: expressions (our counter) and a concatenated key's
// description (nft adds it to intervals, refused above).
constexpr std::uint32_t harmless_set_flags = NFT_SET_EXPR | NFT_SET_CONCAT;

std::string hex(std::uint32_t value)
{
    char text[11];
    std::snprintf(text, sizeof text, "%#x", value);
    return text;
}

// "its key type differs", "its key type and value type differ": what of a set's type is not ours.
std::optional<std::string> type_difference(const SetShape& shape, const SetShape& wanted, bool ignore_counter)
{
    std::vector<std::string> differences;
    if (shape.key_type != wanted.key_type || shape.key_length != wanted.key_length)
        differences.emplace_back("key type");
    if (shape.data_type != wanted.data_type || shape.data_length != wanted.data_length)
        differences.emplace_back("value type");
    if (!ignore_counter && shape.counter != wanted.counter)
        differences.emplace_back("counter");
    // nft cannot list a set without the typeof its key needs (it aborts), so ours with one must have
    // it; a typeof on a set of ours declared without one only changes how nft prints it.
    if (wanted.nft_typeof && shape.nft_typeof != wanted.nft_typeof)
        differences.emplace_back("typeof");
    if (differences.empty())
        return std::nullopt;
    std::string text = "its " + differences.front();
    for (std::size_t i = 1; i < differences.size(); ++i)
        text += (i + 1 == differences.size() ? " and " : ", ") + differences[i];
    return text + (differences.size() > 1 ? " differ" : " differs");
}

// Refuses a set that is not the one `declaration` would create: of another type, or with flags, a
// timeout or a size limit that would make published ports expire, match ranges or stop fitting.
// None of that can be changed on an existing set, and deleting it would delete its ports.
void check_shape(Refusals& refusals, const Layout& layout, const TableSnapshot& snapshot, const Set& declaration,
                 bool ignore_counter)
{
    const auto found = snapshot.sets.find(declaration.name);
    if (found == snapshot.sets.end())
        return;
    const SetShape& shape = found->second;
    const std::string name = std::string(shape.is_map() ? "map " : "set ") + display_name(layout.table) + " " + declaration.name;
    if (const auto difference = type_difference(shape, declaration.shape(), ignore_counter))
        refusals.refuse(
            layout, name,
            "is of another layout (" + *difference + " from warren-nft's): it was made by another program or version");
    // A default timeout implies the flag; the kernel reports both, but one is enough to refuse.
    // Flags our declaration has are ours (the policy sets are dynamic or of ranges).
    const std::uint32_t flags = (shape.flags | (shape.timeout ? NFT_SET_TIMEOUT : 0)) & ~declaration.flags;
    if (const std::uint32_t lacking = declaration.flags & ~shape.flags & ~harmless_set_flags)
        refusals.refuse(layout, name,
                        "lacks flags " + hex(lacking) + ", which warren-nft's has: it was made by another program or version");
    // Each flag once: those named above are not told again as unknown.
    std::uint32_t named = 0;
    for (const auto& refused : refused_set_flags) {
        named |= refused.flag;
        if (flags & refused.flag)
            refusals.refuse(layout, name, std::string("has flags ") + refused.name + ": " + refused.consequence);
    }
    if (const std::uint32_t other = flags & ~harmless_set_flags & ~named)
        refusals.refuse(layout, name,
                        "has flags " + hex(other) + ", which warren-nft's has not: it was made by another program or version");
    const bool updated = declaration.name == policed_set || declaration.name == bound_policed_set;
    if (shape.size && !(updated && shape.size == policed_set_size) && (declaration.size == 0 || shape.size < declaration.size))
        refusals.refuse(layout, name,
                        "has size " + std::to_string(shape.size) + ": the kernel takes no more than " +
                            std::to_string(shape.size) +
                            " elements and refuses more with ENFILE (\"Too many open files "
                            "in system\"), so publishing would fail once it is full");
}

// Sets that an earlier layout marked the ports with a policy in, looked up by the jump to the police
// chain; the policed sets mark them now. A table that holds them is converted (ensure_transaction).
// Only their names matter: a set is deleted by name.
constexpr const char* retired_policy_sets[] = {"restricted", "bound_restricted"};

const char* hook_name(std::uint32_t hooknum)
{
    switch (hooknum) {
        case NF_INET_PRE_ROUTING: return "prerouting";
        case NF_INET_LOCAL_IN: return "input";
        case NF_INET_FORWARD: return "forward";
        case NF_INET_LOCAL_OUT: return "output";
        case NF_INET_POST_ROUTING: return "postrouting";
        default: return "unknown";
    }
}

// Refuses a chain whose hook, type or priority is not ours: the kernel fixes them when a chain is
// created. Its policy is not checked here: a NEWCHAIN sets it again (repair_chain does).
void check_chain(Refusals& refusals, const Layout& layout, const Chain& found, const Chain& wanted)
{
    std::string difference;
    if (!wanted.hook) {
        if (!found.hook)
            return;
        refusals.refuse(layout, "chain " + display_name(layout.table) + " " + wanted.name,
                        "is a base chain (type " + found.hook->type + " hook " + hook_name(found.hook->hooknum) +
                            "), where warren-nft's is a regular chain: it was made by another program or version");
        return;
    }
    const auto& ours = *wanted.hook;
    if (!found.hook)
        difference = "a regular chain, where warren-nft's has type " + ours.type + " hook " + hook_name(ours.hooknum);
    else if (found.hook->type != ours.type)
        difference = "type " + found.hook->type + ", where warren-nft's has type " + ours.type;
    else if (found.hook->hooknum != ours.hooknum)
        difference =
            std::string("hook ") + hook_name(found.hook->hooknum) + ", where warren-nft's has hook " + hook_name(ours.hooknum);
    else if (found.hook->priority != ours.priority)
        difference = "priority " + std::to_string(found.hook->priority) + ", where warren-nft's has priority " +
                     std::to_string(ours.priority);
    else
        return;
    refusals.refuse(layout, "chain " + display_name(layout.table) + " " + wanted.name,
                    "is of another kind (" + difference + "): it was made by another program or version");
}

// The NEWTABLE that wakes a dormant table: one that asks for no flags.
Table awake_table(const Layout& layout)
{
    auto awake = layout.table;
    awake.flags = 0;
    return awake;
}

// A table owned by another process (NFT_TABLE_F_OWNER) cannot be changed by us at all: the kernel
// answers EPERM to whatever we send, which would read as missing privileges. A dormant table is
// not refused: the transaction wakes it.
void check_table(Refusals& refusals, const Layout& layout, const TableSnapshot& snapshot)
{
    const auto name = display_name(layout.table);
    if ((snapshot.table_flags & NFT_TABLE_F_OWNER || snapshot.owner) && !snapshot.owned_by_us) {
        const auto port = snapshot.owner ? std::to_string(*snapshot.owner) : std::string("unknown");
        const auto what =
            "table " + name + " is owned by another process (netlink port id " + port + "): only that process may change it";
        refusals.add(Error(errc::kernel_error,
                           what + "; the kernel deletes the table when that process closes "
                                  "its netlink socket, so stop it (`ss -f netlink -p` names the process with that port id) "
                                  "or have it delete the table, then publish again"),
                     TableProblemKind::owned_by_another_process, "table " + name, what,
                     "stop that process or have it delete the table (the kernel deletes it when the process closes its "
                     "netlink socket; `ss -f netlink -p` names the process with port id " +
                         port + "), then publish again");
    }
    if (const std::uint32_t other = snapshot.table_flags & ~(NFT_TABLE_F_DORMANT | NFT_TABLE_F_OWNER))
        refusals.refuse(layout, "table " + name, "has flags " + hex(other) + ", which warren-nft does not know");
}

bool looks_up(const Rule& rule, const std::string& set)
{
    return std::any_of(rule.expressions.begin(), rule.expressions.end(), [&](const Expression& expression) {
        const auto* lookup = std::get_if<expr::Lookup>(&expression);
        return lookup && lookup->set == set;
    });
}

// The DNAT rule of wide ingress ports (ingress::wide_slot_count slots).
bool wide_ingress_rule(const Rule& rule)
{
    return std::any_of(rule.expressions.begin(), rule.expressions.end(), [](const Expression& expression) {
        const auto* numgen = std::get_if<expr::Numgen>(&expression);
        return numgen && numgen->modulus == ingress::wide_slot_count;
    });
}

// Whether a chain holds the fixed rules but some that `left_out` picks (at least one): those of a
// table an earlier version wrote.
template <typename Pick>
bool rules_without(const FixedChain& fixed, const std::vector<std::string>& comments, Pick left_out)
{
    std::vector<std::string> before;
    for (const auto& rule : fixed.rules)
        if (!left_out(rule))
            before.push_back(rule.comment);
    return before.size() < fixed.rules.size() && comments == before;
}

// Whether a chain holds the fixed rules of a table written before ingress mode: the same rules
// without those that look up the ingress map.
bool rules_before_ingress(const FixedChain& fixed, const std::vector<std::string>& comments)
{
    return rules_without(fixed, comments, [](const Rule& rule) { return looks_up(rule, ingress_map); });
}

// Whether a chain holds the fixed rules of a table written before wide ingress ports: the same
// rules without their DNAT rule. Such a table has no wide port, so it misses nothing.
bool rules_before_wide_ingress(const FixedChain& fixed, const std::vector<std::string>& comments)
{
    return rules_without(fixed, comments, wide_ingress_rule);
}

// Appends to `out` what makes the chain complete: the chain, with policy accept, and its rules,
// those also with `rewrite_rules`. Returns whether the snapshot shows it incomplete. With
// `predates_ingress`, rules that lack only the ingress rules are no problem: the table is older
// (ensure_transaction says so once), and they are rewritten all the same.
bool repair_chain(Refusals& refusals, const Layout& layout, Transaction& out, const FixedChain& fixed,
                  const TableSnapshot& snapshot, bool rewrite_rules, bool predates_ingress, std::vector<TableProblem>* problems)
{
    const auto chain = snapshot.chains.find(fixed.chain.name);
    const bool exists = chain != snapshot.chains.end();
    if (exists)
        check_chain(refusals, layout, chain->second, fixed.chain);
    // Policy drop in one of our chains drops every packet of its hook that no rule accepts, the
    // host's own traffic included. The chain is ours, so its NEWCHAIN sets it back to accept.
    const bool wrong_policy = exists && chain->second.hook && !chain->second.hook->policy_accept;
    // A flushed chain (`nft flush table ip warren`) still exists but no longer does its job.
    std::vector<std::string> expected;
    for (const auto& rule : fixed.rules)
        expected.push_back(rule.comment);
    const auto found = snapshot.rule_comments.find(fixed.chain.name);
    const bool complete = exists && found != snapshot.rule_comments.end() && found->second == expected;
    if (problems) {
        const auto object = "chain " + display_name(layout.table) + " " + fixed.chain.name;
        if (!exists)
            problems->push_back({TableProblemKind::missing_chain, Severity::failure, object,
                                 object + " is missing, so published ports do not work", repair_fix});
        else if (!complete &&
                 !(found != snapshot.rule_comments.end() && ((predates_ingress && rules_before_ingress(fixed, found->second)) ||
                                                             rules_before_wide_ingress(fixed, found->second))))
            problems->push_back({TableProblemKind::chain_rules, Severity::failure, object,
                                 object + " lacks its fixed rules or holds others (flushed, or edited by hand), so " +
                                     "published ports may not work",
                                 repair_fix});
        if (wrong_policy)
            problems->push_back({TableProblemKind::chain_policy_drop, Severity::failure, object,
                                 object + " has policy drop: it drops every packet of its hook that no rule accepts, the " +
                                     "host's own traffic included",
                                 "nft chain " + display_name(layout.table) + " " + fixed.chain.name +
                                     " '{ policy accept; }', or publish any task's ports again (the same ports are enough)"});
    }
    if (!complete || rewrite_rules || wrong_policy)
        out.add(fixed.chain);
    if (!complete || rewrite_rules) {
        out.flush(fixed.chain);
        for (const auto& rule : fixed.rules)
            out.add(rule);
    }
    return !complete || wrong_policy;
}

}  // namespace

std::optional<Transaction> ensure_transaction(const Layout& layout, const TableSnapshot& snapshot, bool rewrite_rules,
                                              const RuleOptions& options, std::vector<TableProblem>* problems)
{
    const bool counting = options.counting;
    Refusals refusals(problems);
    check_table(refusals, layout, snapshot);
    Transaction tx(layout.table);
    const bool dormant = snapshot.table_flags & NFT_TABLE_F_DORMANT;
    bool missing = !snapshot.exists || dormant;
    const auto table_name = display_name(layout.table);
    if (problems && snapshot.exists && dormant)
        problems->push_back(
            {TableProblemKind::dormant, Severity::failure, "table " + table_name,
             "table " + table_name + " is dormant (flags dormant): its chains hook nothing, so no " + "published port works",
             "nft add table " + table_name + " (which wakes it; so does the next warren-nft publish)"});
    tx.add(layout.table);
    // A table written before ingress mode has neither of its sets: it works as it did, and the next
    // change adds them and the rules that look the map up (one note, below, not failures).
    const bool predates_ingress =
        snapshot.exists && !snapshot.sets.contains(ingress_map) && !snapshot.sets.contains(ingress_backends_set);
    const auto ingress = ingress_declaration(layout);
    // An ingress map of our types without our typeof (written by hand or by another program) cannot
    // be fixed in place: the kernel keeps a set's user data when the set is added again. Without it
    // nft cannot list the table. The map holds nothing the publisher cannot write again, so it is
    // deleted and created again, after the rules that look it up and before they are written anew,
    // in one transaction.
    auto ingress_untyped = ingress;
    ingress_untyped.nft_typeof.reset();
    const auto ingress_found = snapshot.sets.find(ingress_map);
    const bool ingress_typeof_lost = ingress_found != snapshot.sets.end() &&
                                     ingress_found->second.nft_typeof != ingress.nft_typeof &&
                                     !type_difference(ingress_found->second, ingress_untyped.shape(), false);
    auto declarations = policy_declarations(layout);
    declarations.insert(declarations.begin(), {ports_declaration(layout), bound_ports_declaration(layout), ingress,
                                               ingress_backends_declaration(layout)});
    for (const auto& declaration : declarations) {
        check_shape(refusals, layout, snapshot,
                    ingress_typeof_lost && declaration.name == ingress_map ? ingress_untyped : declaration, false);
        if (!snapshot.sets.contains(declaration.name)) {
            missing = true;
            tx.add(declaration);
            const bool ingress_set = declaration.name == ingress_map || declaration.name == ingress_backends_set;
            if (problems && snapshot.exists && !(predates_ingress && ingress_set)) {
                const auto object = std::string(declaration.is_map() ? "map " : "set ") + table_name + " " + declaration.name;
                problems->push_back({TableProblemKind::missing_set, Severity::failure, object,
                                     object + " is missing, so the ports it would hold are not published", repair_fix});
            }
        }
    }
    // Counting or not, a backends set is ours; its kind decides whether it stays.
    check_shape(refusals, layout, snapshot, backends_declaration(layout, counting), true);
    const auto chains = fixed_chains(layout, options);
    // Sets to delete, and the rules that look them up keep them from being deleted: the fixed chains
    // are flushed first, and their rules come back below.
    std::vector<Set> deleted;
    const bool backends_replaced = snapshot.sets.contains(backends_set) && !(counting && counts(snapshot));
    if (backends_replaced)
        // Replaced by a counting one, or dropped: a table without counters has no use for it (older
        // versions wrote one that does not count), and a set's counters are fixed when it is created.
        deleted.push_back(backends_declaration(layout, counts(snapshot)));
    // Their elements go with them: every port they marked has its policed element, which marks it now.
    bool earlier_policy_layout = false;
    for (const char* name : retired_policy_sets)
        if (snapshot.sets.contains(name)) {
            deleted.push_back(Set{name, {}, {}});
            earlier_policy_layout = true;
        }
    if (problems && earlier_policy_layout)
        problems->push_back({TableProblemKind::earlier_layout, Severity::note, "table " + table_name,
                             "table " + table_name +
                                 " has the access-policy layout of an earlier version (sets restricted and "
                                 "bound_restricted), which polices as it should: the next change of published ports "
                                 "converts it, rules and sets, in one transaction",
                             "nothing to do; the next warren-nft publish converts it"});
    if (ingress_typeof_lost) {
        deleted.push_back(Set{ingress_map, {}, {}});
        if (problems)
            problems->push_back({TableProblemKind::ingress_typeof_lost, Severity::warning,
                                 "map " + table_name + " " + ingress_map,
                                 "map " + table_name + " " + ingress_map +
                                     " lacks warren-nft's typeof (nft's user data): without one `nft list` cannot list the "
                                     "table (nft aborts); the next change of published ports deletes the map and creates "
                                     "it again, with the rules that look it up, in one transaction",
                                 repair_fix});
    }
    if (!deleted.empty()) {
        for (const auto& fixed : chains)
            if (snapshot.chains.contains(fixed.chain.name))
                tx.flush(fixed.chain);
        for (auto& set : deleted)
            tx.remove(std::move(set));
        missing = rewrite_rules = true;
    }
    if (ingress_typeof_lost)
        tx.add(ingress);
    if (problems && predates_ingress)
        problems->push_back({TableProblemKind::earlier_layout, Severity::note, "table " + table_name,
                             "table " + table_name + " was written before ingress mode (no map " + ingress_map + ", set " +
                                 ingress_backends_set +
                                 " or rules that look the map up): its published ports work, and the next change of "
                                 "published ports adds them in one transaction",
                             "nothing to do; the next warren-nft publish adds them"});
    if (problems && backends_replaced)
        problems->push_back({TableProblemKind::backends_set_changes, Severity::note, "set " + table_name + " " + backends_set,
                             "set " + table_name + " " + backends_set +
                                 (counting ? " does not count: the next change of published ports replaces it by one that does"
                                           : " is of no use to a table that does not count: the next change of published "
                                             "ports removes it"),
                             "nothing to do; the next warren-nft publish changes it"});
    if (counting && !counts(snapshot)) {
        // Created empty: the change that this repair goes with adds an element for every destination
        // (TaskIndex sees them all missing from a set that does not count yet).
        tx.add(backends_declaration(layout, true));
        missing = true;
        if (problems && snapshot.exists && !snapshot.sets.contains(backends_set))
            problems->push_back({TableProblemKind::backends_set_changes, Severity::note, "set " + table_name + " " + backends_set,
                                 "table " + table_name + " does not count packets per destination yet: the next change of " +
                                     "published ports creates its backends set",
                                 "nothing to do; the next warren-nft publish creates it"});
    }
    // A dormant table's chains hook nothing until the table is woken. The kernel takes the wake only
    // after the base chains the transaction creates (a new base chain after a change of the table's
    // flags is EINVAL) and before NEWCHAIN on chains that exist (a change of the flags after a chain
    // update is EINVAL too): chains that exist are repaired after it.
    Transaction existing(layout.table);
    const bool predates_wide_ingress = std::any_of(chains.begin(), chains.end(), [&](const FixedChain& fixed) {
        const auto found = snapshot.rule_comments.find(fixed.chain.name);
        return found != snapshot.rule_comments.end() && rules_before_wide_ingress(fixed, found->second);
    });
    if (problems && predates_wide_ingress)
        problems->push_back({TableProblemKind::earlier_layout, Severity::note, "table " + table_name,
                             "table " + table_name + " was written before ingress ports of more than " +
                                 std::to_string(ingress::narrow_slot_count) +
                                 " backends (no DNAT rule of their slots): its published ports work, and the next "
                                 "change of published ports adds the rule",
                             "nothing to do; the next warren-nft publish adds it"});
    for (const auto& fixed : chains)
        missing = repair_chain(refusals, layout, snapshot.chains.contains(fixed.chain.name) ? existing : tx, fixed, snapshot,
                               rewrite_rules, predates_ingress, snapshot.exists ? problems : nullptr) ||
                  missing;
    // The earlier layout's rules are not this one's, by design: its conversion is the note above.
    if (problems && earlier_policy_layout)
        std::erase_if(*problems, [](const TableProblem& problem) { return problem.kind == TableProblemKind::chain_rules; });
    refusals.throw_first();
    if (!missing && !rewrite_rules)
        return std::nullopt;
    if (dormant)
        tx.add(awake_table(layout));
    return tx.append(existing);
}

}  // namespace warren::nft::layout
