// SPDX-License-Identifier: Apache-2.0
// The ingress elements of tables ip warren and ip6 warren (claims, records, slots) by port, kept
// with the publisher's view (docs/ingress.md, "The ingress view"): the claims and records read from
// the kernel once, each port's slots the first time a change concerns the port (by their keys: a
// dump of every slot costs the square of their number), then kept current from the publisher's own
// commits and from the announcements of others' changes. A change of one service reads the state of
// its own ports and of the ports with leftovers only, whatever the number of other services.
#pragma once

#include "publisher/ingress_plan.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace warren::nft::ingress {

class View {
public:
    // Whether it holds the tables' elements; false until load() and after invalidate().
    bool loaded() const noexcept { return loaded_; }
    // Forgets everything: the next change reads the tables again (announcements lost, a table or
    // set changed as a whole, a commit's outcome unknown).
    void invalidate() noexcept;
    // Both tables as read, each snapshot holding the elements of element_sets_without_slots(), by
    // family index. No port's slots are known yet (unread_slots()).
    void load(const std::array<ruleset::TableSnapshot, 2>& snapshots);
    // The ports of `family` among those state() would read whose slots the view has not read since
    // it was loaded: the caller reads them (by key) and hands them to slots_read(); from then on the
    // announcements keep them. None when the family's `ingress` map is not warren-nft's
    // (read_state() ignores its slots).
    std::vector<layout::HostPort> unread_slots(layout::Family family, std::span<const std::string_view> services,
                                               std::span<const layout::HostPort> ports) const;
    // The slot elements found now for `ports` of `family` by the keys of slots `first` to `end` - 1:
    // they replace what the view held of those slots. `ports` is sorted.
    void slots_read(layout::Family family, std::span<const layout::HostPort> ports, std::uint32_t first, std::uint32_t end,
                    std::span<const ruleset::Element> slots);
    // Reads the slots of unread_slots() with `backend`, by key, and hands them to slots_read(). A
    // port's slots 0 to narrow_slot_count are read, and the rest of a wide port's: one whose slot
    // narrow_slot_count was found, or that looks_wide(). So are the rest of each port of `to_widen`
    // (ports a change makes wide) not read yet: a slot there that the view does not know of would
    // make the change's create of that slot fail.
    void read_unread_slots(ruleset::Backend& backend, layout::Family family, std::span<const std::string_view> services,
                           std::span<const layout::HostPort> ports, std::span<const layout::HostPort> to_widen = {});
    // One element of the family's table added or deleted (announced, or committed by us). Applying
    // one twice changes nothing, so announcements of changes the read already holds do no harm.
    void apply(layout::Family family, const ruleset::Element& element, bool removed);
    // Our commit was applied: its elements follow, and the tables and sets it adds (a repair); a
    // table or set it deletes makes the view read the tables again.
    void committed(const ruleset::Commit& commit);

    // The state read_state() reads from the tables, restricted to the ports the `services` claim,
    // `ports`, and every port with leftovers (what plan_service() deletes along with any change).
    // Their slots must have been read (unread_slots()).
    TablesState state(std::span<const std::string_view> services, std::span<const layout::HostPort> ports) const;

private:
    // A slot's value as read, without the rest of its element: a port holds thousands of them, so
    // the view keeps only the bytes read_state() decodes and makes the element again from the port
    // and slot number (slot_element()) when a change needs it. A value longer than any we write
    // is kept as none (a slot without a backend, which a change replaces).
    static constexpr std::size_t max_slot_value = 20;  // an IPv6 address and a port, padded
    struct SlotValue {
        std::array<std::uint8_t, max_slot_value> bytes{};
        std::uint8_t size = 0;
        bool present = false;
    };
    struct PortElements {
        std::optional<ruleset::Element> claim;  // a claim as read_state() takes one
        std::map<BackendKey, ruleset::Element> records;
        // By slot number: narrow_slot_count entries once one was held, wide_slot_count once one
        // numbered from narrow_slot_count up was.
        std::vector<SlotValue> slots;
        std::size_t slots_held = 0;
        std::map<std::uint32_t, SlotValue> beyond;  // slots numbered wide_slot_count or more
    };
    struct FamilyElements {
        bool exists = false;
        std::map<std::string, ruleset::SetShape> sets;
        std::map<layout::HostPort, PortElements> ports;
        std::map<std::string, std::set<layout::HostPort>, std::less<>> claimed;  // by service
        std::set<layout::HostPort> with_leftovers;
        // The ports whose slots were read since the view was loaded, held or not: those numbered
        // up to narrow_slot_count, and (wide_known) those after. A port's slots announced before
        // they were read may be only some of them: they are kept, and replaced by the read.
        std::set<layout::HostPort> slots_known;
        std::set<layout::HostPort> wide_known;
    };

    static void remove_claim(FamilyElements& family, const layout::HostPort& port);
    // Files the port among those with leftovers or not, and forgets it once it holds nothing.
    static void settle(FamilyElements& family, const layout::HostPort& port);
    static void hold_slot(PortElements& held, std::uint32_t slot, const ruleset::Element* element);
    // Whether the family's `ingress` map is warren-nft's (read_state() reads its slots).
    bool shape_is_ours(layout::Family family) const;
    // Whether the port's records have more active backends than a narrow port has slots, or a slot
    // numbered from narrow_slot_count up was announced.
    bool looks_wide(layout::Family family, const layout::HostPort& port) const;
    // The ports state() reads: those the `services` claim, `ports` of the family, and those with leftovers.
    std::set<layout::HostPort> chosen(layout::Family family, std::span<const std::string_view> services,
                                      std::span<const layout::HostPort> ports) const;
    static ruleset::TableSnapshot snapshot_of(const FamilyElements& family, const std::set<layout::HostPort>& ports);

    std::array<FamilyElements, 2> families_;  // by layout::family_index
    bool loaded_ = false;
};

}  // namespace warren::nft::ingress
