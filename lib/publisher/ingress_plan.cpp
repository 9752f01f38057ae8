// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_plan.hpp"

#include <algorithm>
#include <map>

namespace warren::nft::ingress {

using layout::HostPort;
using ruleset::Element;
using ruleset::Transaction;

namespace {

const PortState* claimed(const TablesState& state, const HostPort& port)
{
    const auto& ports = state[layout::family_index(port.family())].ports;
    const auto found = ports.find(port);
    return found == ports.end() ? nullptr : &found->second;
}

void remove_leftovers(const TablesState& state, const HostPort& port, Transaction& tx)
{
    const auto& leftovers = state[layout::family_index(port.family())].leftovers;
    if (const auto found = leftovers.find(port); found != leftovers.end())
        for (const auto& element : found->second)
            tx.remove(element);
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
    if (held)
        for (std::size_t i = 0; i < held->records.size(); ++i) {
            const auto& record = held->records[i];
            const auto found = asked.find(record.key);
            if (found != asked.end() && *found->second == record) {
                asked.erase(found);  // kept as it is
                continue;
            }
            // held->record_elements is in read order, records sorted: find the element by key.
            const auto element = std::find_if(held->record_elements.begin(), held->record_elements.end(), [&](const Element& e) {
                return e.key == record_element(wanted.port, service, record).key;
            });
            if (element != held->record_elements.end())
                tx.remove(*element);
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
    for (std::uint32_t slot = 0; slot < slot_count; ++slot) {
        const std::optional<Element>* present = held ? &held->slot_elements[slot] : nullptr;
        const auto wanted_element = slot_element(wanted.port, slot, *target[slot]);
        if (present && *present && (*present)->data == wanted_element.data)
            continue;
        if (present && *present)
            tx.remove(**present);
        tx.create(wanted_element);
    }
}

}  // namespace

ruleset::Commit plan_service(const TablesState& state, std::string_view service, const std::vector<WantedPort>& wanted)
{
    ruleset::Commit commit;
    for (const auto family : layout::families)
        for (const auto& [port, held] : state[layout::family_index(family)].ports) {
            const bool kept = std::any_of(wanted.begin(), wanted.end(), [&](const WantedPort& w) { return w.port == port; });
            if (held.service == service && !kept) {
                auto& tx = commit.part(layout::table(family));
                remove_port(held, port, service, tx);
                remove_leftovers(state, port, tx);
            }
        }
    for (const auto& port : wanted) {
        const auto* held = claimed(state, port.port);
        Transaction tx(layout::table(port.port.family()));
        if (!held)
            tx.create(claim_element(port.port, service));  // the kernel's EEXIST settles a race for the port
        replace_records(held, port, service, tx);
        move_slots(held, port, tx);
        if (tx.empty())
            continue;
        // Leftovers first: an orphan slot has the key of a slot the port is about to create.
        auto& part = commit.part(tx.table());
        remove_leftovers(state, port.port, part);
        part.append(tx);
    }
    return commit;
}

}  // namespace warren::nft::ingress
