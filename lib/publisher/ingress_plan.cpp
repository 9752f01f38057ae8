// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_plan.hpp"

#include <algorithm>
#include <map>

namespace warren::nft::ingress {

using layout::HostPort;
using ruleset::Element;
using ruleset::Transaction;

namespace {

std::size_t active_backends(const WantedPort& port)
{
    return static_cast<std::size_t>(
        std::count_if(port.records.begin(), port.records.end(), [](const Record& r) { return !r.draining; }));
}

}  // namespace

bool has_active_backend(const WantedPort& port) { return active_backends(port) > 0; }

std::vector<layout::HostPort> wide_ports(std::span<const WantedPort> wanted)
{
    std::vector<layout::HostPort> out;
    for (const auto& port : wanted)
        if (slot_count_for(active_backends(port)) == wide_slot_count)
            out.push_back(port.port);
    return out;
}

namespace {

const PortState* claimed(const TablesState& state, const HostPort& port)
{
    const auto& ports = state[layout::family_index(port.family())].ports;
    const auto found = ports.find(port);
    return found == ports.end() ? nullptr : &found->second;
}

void remove_port(const PortState& held, const HostPort& port, std::string_view service, Transaction& tx)
{
    for (const auto& element : held.slot_elements)
        if (element)
            tx.remove(*element);
    for (const auto& element : held.record_elements)
        tx.remove(element);
    tx.remove(claim_element(port, service));
}

void replace_records(const PortState* held, const WantedPort& wanted, std::string_view service, Transaction& tx)
{
    std::map<BackendKey, const Record*> asked;
    for (const auto& record : wanted.records)
        asked.emplace(record.key, &record);
    if (held) {
        // held->record_elements is in read order, records sorted: their elements by key.
        std::map<ruleset::Bytes, const Element*> elements;
        for (const auto& element : held->record_elements)
            elements.emplace(element.key, &element);
        for (const auto& record : held->records) {
            const auto found = asked.find(record.key);
            if (found != asked.end() && *found->second == record) {
                asked.erase(found);  // kept as it is
                continue;
            }
            const auto element = elements.find(record_element(wanted.port, service, record).key);
            if (element != elements.end())
                tx.remove(*element->second);
        }
    }
    for (const auto& [key, record] : asked)
        tx.create(record_element(wanted.port, service, *record));
}

void move_slots(const PortState* held, const WantedPort& wanted, Transaction& tx)
{
    std::vector<WeightedBackend> active;
    for (const auto& record : wanted.records)
        if (!record.draining)
            active.push_back(WeightedBackend{record.key, record.weight});
    const auto target = assign_slots(held ? held->slots : Slots{}, active);
    // A wide port that becomes narrow loses its slots from narrow_slot_count up.
    if (held)
        for (auto slot = target.size(); slot < held->slot_elements.size(); ++slot)
            if (const auto& element = held->slot_elements[slot])
                tx.remove(*element);
    for (std::uint32_t slot = 0; slot < target.size(); ++slot) {
        const std::optional<Element>* present = held && slot < held->slot_elements.size() ? &held->slot_elements[slot] : nullptr;
        const auto wanted_element = slot_element(wanted.port, slot, *target[slot]);
        if (present && *present && (*present)->data == wanted_element.data)
            continue;
        if (present && *present)
            tx.remove(**present);
        tx.create(wanted_element);
    }
}

}  // namespace

namespace {

// The service's changes without any leftovers: its claimed ports that `wanted` lacks go, each port
// of `wanted` gets what it asks.
void plan_changes(const TablesState& state, std::string_view service, const std::vector<WantedPort>& wanted,
                  ruleset::Commit& commit)
{
    for (const auto family : layout::families)
        for (const auto& [port, held] : state[layout::family_index(family)].ports) {
            const bool kept =
                std::any_of(wanted.begin(), wanted.end(), [&, &port = port](const WantedPort& w) { return w.port == port; });
            if (held.service == service && !kept)
                remove_port(held, port, service, commit.part(layout::table(family)));
        }
    for (const auto& port : wanted) {
        const auto* held = claimed(state, port.port);
        Transaction tx(layout::table(port.port.family()));
        if (!held)
            tx.create(claim_element(port.port, service));  // the kernel's EEXIST settles a race for the port
        replace_records(held, port, service, tx);
        move_slots(held, port, tx);
        if (!tx.empty())
            commit.part(tx.table()).append(tx);
    }
}

// `changes` preceded, in each family's part, by the deletion of every leftover of that family's
// table: first, since an orphan slot may have the key of a slot a change creates. With
// `every_family`, also the leftovers of a family `changes` does not touch.
ruleset::Commit with_leftovers(const TablesState& state, const ruleset::Commit& changes, bool every_family)
{
    ruleset::Commit commit;
    for (const auto family : layout::families) {
        const auto* part = changes.find(layout::table(family));
        const bool touched = part && !part->empty();
        if (!touched && !every_family)
            continue;
        Transaction tx(layout::table(family));
        for (const auto& [port, elements] : state[layout::family_index(family)].leftovers)
            for (const auto& element : elements)
                tx.remove(element);
        if (touched)
            tx.append(*part);
        if (!tx.empty())
            commit.part(tx.table()).append(tx);
    }
    return commit;
}

}  // namespace

ruleset::Commit plan_service(const TablesState& state, std::string_view service, const std::vector<WantedPort>& wanted)
{
    ruleset::Commit changes;
    plan_changes(state, service, wanted, changes);
    return with_leftovers(state, changes, false);
}

ruleset::Commit plan_restore(const TablesState& state, const std::map<std::string, std::vector<WantedPort>, std::less<>>& kept)
{
    ruleset::Commit changes;
    for (const auto& [service, wanted] : kept)
        plan_changes(state, service, wanted, changes);
    return with_leftovers(state, changes, true);
}

}  // namespace warren::nft::ingress
