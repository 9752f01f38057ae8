// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_state.hpp"

#include "publisher/schema.hpp"

#include <algorithm>

namespace warren::nft::ingress {

using layout::Family;
using ruleset::Element;

namespace {

const std::vector<Element>& elements_of(const ruleset::TableSnapshot& snapshot, const char* set)
{
    static const std::vector<Element> none;
    const auto found = snapshot.elements.find(set);
    return found == snapshot.elements.end() ? none : found->second;
}

void read_claims(Family family, const ruleset::TableSnapshot& snapshot, FamilyState& state)
{
    for (const auto& element : elements_of(snapshot, layout::ports_map)) {
        const auto decoded = layout::decode_port_element(family, element);
        auto service = parse_claim_comment(element.comment);
        // A claim's comment on any other value is not ours: the port is taken, by someone else.
        if (!decoded || !service || !claim_value(*decoded))
            continue;
        auto& port = state.ports[decoded->key];
        port.service = std::move(*service);
        port.slots.assign(narrow_slot_count, std::nullopt);
        port.slot_elements.assign(narrow_slot_count, std::nullopt);
    }
}

void read_records(Family family, const ruleset::TableSnapshot& snapshot, FamilyState& state)
{
    for (const auto& element : elements_of(snapshot, layout::ingress_backends_set)) {
        const auto key = decode_record_key(family, element);
        const auto comment = parse_record_comment(element.comment);
        if (!key || !comment)
            continue;  // not ours: left alone
        const auto claim = state.ports.find(key->port);
        if (claim == state.ports.end()) {
            state.leftovers[key->port].push_back(element);
            continue;
        }
        if (claim->second.service != comment->service)
            continue;  // another service's words on our port: not ours to keep or delete
        claim->second.records.push_back(Record{key->backend, comment->weight, comment->draining, comment->until});
        claim->second.record_elements.push_back(element);
    }
    for (auto& [port, claim] : state.ports)
        std::sort(claim.records.begin(), claim.records.end(), [](const Record& a, const Record& b) { return a.key < b.key; });
}

void read_slots(Family family, const ruleset::TableSnapshot& snapshot, FamilyState& state)
{
    // The active backends of each port, sorted: a wide port has thousands of slots and of records.
    std::map<layout::HostPort, std::vector<BackendKey>> active_backends;
    for (const auto& [port, claim] : state.ports)
        for (const auto& record : claim.records)
            if (!record.draining)
                active_backends[port].push_back(record.key);
    for (const auto& element : elements_of(snapshot, layout::ingress_map)) {
        const auto slot = decode_slot(family, element);
        if (!slot)
            continue;  // a key we never write
        const auto claim = state.ports.find(slot->port);
        if (claim == state.ports.end() || slot->slot >= wide_slot_count) {
            state.leftovers[slot->port].push_back(element);
            continue;
        }
        auto& port = claim->second;
        if (slot->slot >= port.slots.size()) {
            port.slots.resize(wide_slot_count);
            port.slot_elements.resize(wide_slot_count);
        }
        port.slot_elements[slot->slot] = element;
        const auto& active_keys = active_backends[slot->port];
        const bool active = slot->backend && std::binary_search(active_keys.begin(), active_keys.end(), *slot->backend);
        if (active)
            port.slots[slot->slot] = slot->backend;
    }
}

}  // namespace

const std::vector<std::string>& element_sets()
{
    static const std::vector<std::string> names{layout::ports_map, layout::ingress_map, layout::ingress_backends_set};
    return names;
}

const std::vector<std::string>& element_sets_without_slots()
{
    static const std::vector<std::string> names{layout::ports_map, layout::ingress_backends_set};
    return names;
}

FamilyState read_state(Family family, const ruleset::TableSnapshot& snapshot)
{
    FamilyState state;
    if (!snapshot.exists)
        return state;
    read_claims(family, snapshot, state);
    read_records(family, snapshot, state);
    // A map that lost its typeof is deleted and made again by the repair the change carries: its
    // slots go with it, and the change writes every slot anew.
    const auto map = snapshot.sets.find(layout::ingress_map);
    if (map != snapshot.sets.end() && map->second == layout::ingress_declaration(layout::layout_of(family)).shape())
        read_slots(family, snapshot, state);
    return state;
}

}  // namespace warren::nft::ingress
