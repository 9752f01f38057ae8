// SPDX-License-Identifier: Apache-2.0
#include "publisher/inspection.hpp"

#include "printable.hpp"
#include "publisher/repair.hpp"
#include "publisher/task_index.hpp"

#include <warren/nft/error.hpp>

#include <linux/netfilter/nf_tables.h>

#include <algorithm>

namespace warren::nft::layout {

namespace {

bool has(const std::vector<TableProblem>& problems, TableProblemKind kind)
{
    return std::any_of(problems.begin(), problems.end(), [&](const TableProblem& p) { return p.kind == kind; });
}

// Rules that are complete for other options than the publisher's are not damage: whichever
// publisher wrote them last chose them. Returns the options they are complete for, if any.
std::optional<RuleOptions> options_of_rules(const Layout& layout, const ruleset::TableSnapshot& snapshot,
                                            const RuleOptions& rules)
{
    for (const auto masquerading : {Masquerading::always, Masquerading::when_needed})
        for (const bool wildcard : {false, true}) {
            const RuleOptions other{rules.counting, masquerading, wildcard};
            if (other == rules)
                continue;
            std::vector<TableProblem> problems;
            try {
                ensure_transaction(layout, snapshot, false, other, &problems);
            } catch (const Error&) {
                return std::nullopt;
            }
            if (!has(problems, TableProblemKind::chain_rules))
                return other;
        }
    return std::nullopt;
}

std::string describe(const RuleOptions& options)
{
    return std::string("masquerading ") + (options.masquerading == Masquerading::always ? "always" : "when needed") +
           ", wildcard on localhost " + (options.wildcard_on_localhost ? "on" : "off");
}

// "tcp . 8080", "10.0.0.1 . tcp . 8080": the key of a ports map element as nft writes it.
std::string element_key(const PublishedPort& port)
{
    const auto key = std::string(to_string(port.mapping.protocol)) + " . " + std::to_string(port.mapping.host_port);
    return port.mapping.host_ip.empty() ? key : port.mapping.host_ip + " . " + key;
}

std::string describe(const Destination& destination)
{
    return display(destination.address) + ":" + std::to_string(destination.port) + "/" +
           std::string(to_string(destination.protocol));
}

}  // namespace

FamilyInspection inspect_table(Family family, const ruleset::TableSnapshot& snapshot, const RuleOptions& rules)
{
    const auto& layout = layout_of(family);
    const auto table_name = ruleset::display_name(layout.table);
    FamilyInspection out;
    out.table = table_name;
    out.exists = snapshot.exists;
    out.dormant = snapshot.exists && (snapshot.table_flags & NFT_TABLE_F_DORMANT);
    out.counting = counts(snapshot);
    if (!snapshot.exists)
        return out;
    try {
        const auto repair = ensure_transaction(layout, snapshot, false, rules, &out.problems);
        out.repair_operations = repair ? repair->operations().size() : 0;
    } catch (const Error& refusal) {
        out.refusal = printable(refusal.what());
        // Each reason is among the problems already, with its fix: the planner records them.
    }
    if (out.refusal.empty() && has(out.problems, TableProblemKind::chain_rules))
        if (const auto other = options_of_rules(layout, snapshot, rules)) {
            std::erase_if(out.problems, [](const TableProblem& p) { return p.kind == TableProblemKind::chain_rules; });
            out.problems.push_back({TableProblemKind::rules_of_other_options, Severity::note, "table " + table_name,
                                    "the fixed rules of table " + table_name + " are those of other options (" +
                                        describe(*other) + "): the next change of published ports rewrites them with " +
                                        describe(rules),
                                    "nothing to do, or publish with the options every publisher of this host uses"});
        }

    // The ports and destinations, read as a publisher's TaskIndex reads them.
    const auto index = TaskIndex::from_snapshot(family, snapshot, rules.counting);
    out.ports = index.all();
    for (const auto& port : out.ports) {
        if (!port.task_id.empty())
            continue;
        const auto map = port.mapping.host_ip.empty() ? ports_map : bound_ports_map;
        const auto element = std::string(table_name) + " " + map + " { " + element_key(port) + " }";
        out.problems.push_back(
            {TableProblemKind::ownerless_element, Severity::warning,
             "element " + table_name + " " + map + " " + element_key(port),
             "host port " + element_key(port) + " of table " + table_name + " leads to " + port.container_ip + ":" +
                 std::to_string(port.mapping.container_port) + " but names no task (comment \"" + port.mapping.name +
                 "\"): added by hand or by another program, it holds its host port and no publisher removes it",
             "if no program of yours added it: nft delete element " + element});
    }
    if (rules.counting && out.counting)
        for (const auto& destination : index.mismatched()) {
            const auto object = "set " + table_name + " " + backends_set;
            if (index.destination_uses(destination) > 0 && !index.destination_present(destination))
                out.problems.push_back({TableProblemKind::missing_backends_element, Severity::failure, object,
                                        object + " lacks " + describe(destination) +
                                            ", where published ports lead: their connections are not masqueraded or "
                                            "forwarded by the rules that look it up",
                                        "publish any task's ports again (the same ports are enough): the change adds it"});
            else
                out.problems.push_back({TableProblemKind::stale_backends_element, Severity::warning, object,
                                        object + " holds " + describe(destination) + ", where no published port leads",
                                        "publish any task's ports again (the same ports are enough): the change removes it"});
        }
    return out;
}

}  // namespace warren::nft::layout
