// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_view.hpp"

#include "publisher/schema.hpp"

#include <algorithm>

namespace warren::nft::ingress {

using layout::Family;
using layout::HostPort;
using ruleset::Element;

void View::invalidate() noexcept
{
    families_ = {};
    loaded_ = false;
}

void View::load(const std::array<ruleset::TableSnapshot, 2>& snapshots)
{
    invalidate();
    for (const auto family : layout::families) {
        const auto& snapshot = snapshots[layout::family_index(family)];
        auto& elements = families_[layout::family_index(family)];
        elements.exists = snapshot.exists;
        elements.sets = snapshot.sets;
        for (const auto& set : element_sets())
            if (const auto found = snapshot.elements.find(set); found != snapshot.elements.end())
                for (auto element : found->second) {
                    element.set = set;  // the set it was read from, whatever it says
                    apply(family, element, false);
                }
    }
    loaded_ = true;
}

std::set<HostPort> View::chosen(Family family, std::span<const std::string_view> services, std::span<const HostPort> ports) const
{
    const auto& elements = families_[layout::family_index(family)];
    std::set<HostPort> out(elements.with_leftovers.begin(), elements.with_leftovers.end());
    for (const auto service : services)
        if (const auto claimed = elements.claimed.find(service); claimed != elements.claimed.end())
            out.insert(claimed->second.begin(), claimed->second.end());
    for (const auto& port : ports)
        if (port.family() == family)
            out.insert(port);
    return out;
}

std::vector<HostPort> View::unread_slots(Family family, std::span<const std::string_view> services,
                                         std::span<const HostPort> ports) const
{
    if (!shape_is_ours(family))
        return {};
    const auto& elements = families_[layout::family_index(family)];
    std::vector<HostPort> out;
    for (const auto& port : chosen(family, services, ports))
        if (!elements.slots_known.contains(port))
            out.push_back(port);
    return out;
}

void View::slots_read(Family family, std::span<const HostPort> ports, std::uint32_t first, std::uint32_t end,
                      std::span<const Element> slots)
{
    auto& elements = families_[layout::family_index(family)];
    for (const auto& port : ports) {
        (first == 0 ? elements.slots_known : elements.wide_known).insert(port);
        // Slots outside the range read (numbered wide_slot_count or more, or a port read as a
        // narrow one's from narrow_slot_count + 1 up) are not read by key: those announced stay.
        if (const auto found = elements.ports.find(port); found != elements.ports.end())
            for (auto slot = first; slot < std::min<std::size_t>(end, found->second.slots.size()); ++slot)
                hold_slot(found->second, slot, nullptr);
    }
    for (auto element : slots) {
        element.set = layout::ingress_map;  // the set it was read from, whatever it says
        const auto slot = decode_slot(family, element);
        if (slot && slot->slot >= first && slot->slot < end && std::binary_search(ports.begin(), ports.end(), slot->port))
            apply(family, element, false);
    }
    for (const auto& port : ports)
        settle(elements, port);
}

void View::read_unread_slots(ruleset::Backend& backend, Family family, std::span<const std::string_view> services,
                             std::span<const HostPort> ports, std::span<const HostPort> to_widen)
{
    const auto unread = unread_slots(family, services, ports);
    auto& elements = families_[layout::family_index(family)];
    std::set<HostPort> wide;
    for (const auto& port : to_widen)
        if (port.family() == family && !elements.wide_known.contains(port) && shape_is_ours(family))
            wide.insert(port);
    if (unread.empty() && wide.empty())
        return;
    const auto keys_of = [](std::span<const HostPort> of, std::uint32_t first, std::uint32_t end) {
        std::vector<ruleset::Bytes> keys;
        keys.reserve(of.size() * (end - first));
        for (const auto& port : of)
            for (auto slot = first; slot < end; ++slot)
                keys.push_back(slot_element(port, slot, BackendKey{}).key);
        return keys;
    };
    const auto& table = layout::table(family);
    if (!unread.empty()) {
        // Slot narrow_slot_count is a wide port's only: one more key per port tells them apart.
        const auto found = backend.elements_of(table, layout::ingress_map, keys_of(unread, 0, narrow_slot_count + 1));
        for (const auto& element : found)
            if (const auto slot = decode_slot(family, element); slot && slot->slot == narrow_slot_count)
                wide.insert(slot->port);
        for (const auto& port : unread)
            if (looks_wide(family, port))
                wide.insert(port);
        slots_read(family, unread, 0, narrow_slot_count + 1, found);
    }
    const std::vector<HostPort> widened(wide.begin(), wide.end());
    if (!widened.empty())
        slots_read(family, widened, narrow_slot_count + 1, wide_slot_count,
                   backend.elements_of(table, layout::ingress_map, keys_of(widened, narrow_slot_count + 1, wide_slot_count)));
}

bool View::looks_wide(Family family, const HostPort& port) const
{
    const auto& elements = families_[layout::family_index(family)];
    const auto held = elements.ports.find(port);
    if (held == elements.ports.end())
        return false;
    if (held->second.slots.size() > narrow_slot_count)
        return true;
    std::size_t active = 0;
    for (const auto& [key, element] : held->second.records) {
        const auto comment = parse_record_comment(element.comment);
        active += comment && !comment->draining ? 1 : 0;
    }
    return slot_count_for(active) == wide_slot_count;
}

bool View::shape_is_ours(Family family) const
{
    const auto& elements = families_[layout::family_index(family)];
    const auto map = elements.sets.find(layout::ingress_map);
    return map != elements.sets.end() && map->second == layout::ingress_declaration(layout::layout_of(family)).shape();
}

void View::remove_claim(FamilyElements& family, const HostPort& port)
{
    const auto found = family.ports.find(port);
    if (found == family.ports.end() || !found->second.claim)
        return;
    if (const auto service = parse_claim_comment(found->second.claim->comment)) {
        const auto claimed = family.claimed.find(*service);
        if (claimed != family.claimed.end()) {
            claimed->second.erase(port);
            if (claimed->second.empty())
                family.claimed.erase(claimed);
        }
    }
    found->second.claim.reset();
}

void View::settle(FamilyElements& family, const HostPort& port)
{
    const auto found = family.ports.find(port);
    if (found == family.ports.end())
        return;
    const auto& held = found->second;
    const bool elements = !held.records.empty() || held.slots_held > 0 || !held.beyond.empty();
    if (!held.claim && !elements) {
        family.with_leftovers.erase(port);
        family.ports.erase(found);
        return;
    }
    // A superset of read_state()'s leftovers: it decides which of the port's elements they are.
    if ((!held.claim && elements) || !held.beyond.empty())
        family.with_leftovers.insert(port);
    else
        family.with_leftovers.erase(port);
}

void View::apply(Family family, const Element& element, bool removed)
{
    auto& elements = families_[layout::family_index(family)];
    if (element.set == layout::ports_map) {
        const auto port = layout::decode_host_port_key(family, element.key, false);
        if (!port)
            return;
        // Added again only after its deletion, in the same transaction or an earlier one.
        remove_claim(elements, *port);
        if (!removed) {
            const auto decoded = layout::decode_port_element(family, element);
            auto service = parse_claim_comment(element.comment);
            if (decoded && decoded->key == *port && service && claim_value(*decoded)) {
                elements.ports[*port].claim = element;
                elements.claimed[std::move(*service)].insert(*port);
            }
        }
        settle(elements, *port);
    } else if (element.set == layout::ingress_backends_set) {
        const auto key = decode_record_key(family, element);
        if (!key)
            return;
        if (removed) {
            if (const auto found = elements.ports.find(key->port); found != elements.ports.end())
                found->second.records.erase(key->backend);
        } else {
            elements.ports[key->port].records.insert_or_assign(key->backend, element);
        }
        settle(elements, key->port);
    } else if (element.set == layout::ingress_map) {
        const auto slot = decode_slot(family, element);
        if (!slot)
            return;
        if (removed) {
            if (const auto found = elements.ports.find(slot->port); found != elements.ports.end())
                hold_slot(found->second, slot->slot, nullptr);
        } else {
            hold_slot(elements.ports[slot->port], slot->slot, &element);
        }
        settle(elements, slot->port);
    }
}

void View::hold_slot(PortElements& held, std::uint32_t slot, const Element* element)
{
    SlotValue value;
    if (element) {
        value.present = true;
        if (element->data.size() <= max_slot_value) {
            std::copy(element->data.begin(), element->data.end(), value.bytes.begin());
            value.size = static_cast<std::uint8_t>(element->data.size());
        }
    }
    if (slot >= wide_slot_count) {
        if (element)
            held.beyond.insert_or_assign(slot, value);
        else
            held.beyond.erase(slot);
        return;
    }
    if (slot >= held.slots.size()) {
        if (!element)
            return;
        held.slots.resize(slot < narrow_slot_count ? narrow_slot_count : wide_slot_count);
    }
    if (held.slots[slot].present != value.present)
        held.slots_held = value.present ? held.slots_held + 1 : held.slots_held - 1;
    held.slots[slot] = value;
    if (held.slots_held == 0)
        held.slots = {};
}

void View::committed(const ruleset::Commit& commit)
{
    if (!loaded_)
        return;
    for (const auto& part : commit.parts()) {
        const auto family = part.table().family;
        if (part.table().name != layout::table_name)
            continue;
        for (const auto& operation : part.operations()) {
            if (const auto* element = std::get_if<Element>(&operation.object)) {
                apply(family, *element, operation.verb == ruleset::Verb::remove);
            } else if (std::holds_alternative<ruleset::Table>(operation.object) ||
                       std::holds_alternative<ruleset::Set>(operation.object)) {
                if (operation.verb == ruleset::Verb::remove) {
                    // Its elements went with it, unannounced: read the tables again.
                    invalidate();
                    return;
                }
                // Added: a table or set that exists keeps its elements and declaration; a new one
                // holds none.
                auto& elements = families_[layout::family_index(family)];
                elements.exists = true;
                if (const auto* set = std::get_if<ruleset::Set>(&operation.object))
                    elements.sets.try_emplace(set->name, set->shape());
            }
        }
    }
}

ruleset::TableSnapshot View::snapshot_of(const FamilyElements& family, const std::set<HostPort>& ports)
{
    ruleset::TableSnapshot snapshot;
    snapshot.exists = family.exists;
    snapshot.sets = family.sets;
    auto& claims = snapshot.elements[layout::ports_map];
    auto& records = snapshot.elements[layout::ingress_backends_set];
    auto& slots = snapshot.elements[layout::ingress_map];
    for (const auto& port : ports) {
        const auto found = family.ports.find(port);
        if (found == family.ports.end())
            continue;
        const auto& held = found->second;
        if (held.claim)
            claims.push_back(*held.claim);
        for (const auto& [key, element] : held.records)
            records.push_back(element);
        const auto add_slot = [&](std::uint32_t slot, const SlotValue& value) {
            auto element = slot_element(port, slot, BackendKey{});
            element.data.assign(value.bytes.begin(), value.bytes.begin() + value.size);
            slots.push_back(std::move(element));
        };
        for (std::uint32_t slot = 0; slot < held.slots.size(); ++slot)
            if (held.slots[slot].present)
                add_slot(slot, held.slots[slot]);
        for (const auto& [slot, value] : held.beyond)
            add_slot(slot, value);
    }
    return snapshot;
}

TablesState View::state(std::span<const std::string_view> services, std::span<const HostPort> ports) const
{
    TablesState out;
    for (const auto family : layout::families) {
        const auto& elements = families_[layout::family_index(family)];
        out[layout::family_index(family)] = read_state(family, snapshot_of(elements, chosen(family, services, ports)));
    }
    return out;
}

}  // namespace warren::nft::ingress
