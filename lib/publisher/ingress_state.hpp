// SPDX-License-Identifier: Apache-2.0
// The ingress ports a family's table holds, read back from a snapshot as untrusted input
// (docs/ingress.md, "Reading state back"): claims, their records and slots, and the elements of
// ours that a change of their port deletes.
#pragma once

#include "publisher/ingress_records.hpp"
#include "ruleset/backend.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace warren::nft::ingress {

// One claimed ingress port of one family.
struct PortState {
    std::string service;
    std::vector<Record> records;  // the claim's own, ordered by backend key
    // The backend of each slot that holds an active record's backend, nullopt for a slot missing or
    // damaged: wide_slot_count entries when the table holds any slot numbered from
    // narrow_slot_count up (a wide port), narrow_slot_count otherwise.
    Slots slots;
    // The slot elements the table holds by slot number (as many entries as `slots`), nullopt where
    // none: what a change of a slot deletes first.
    std::vector<std::optional<ruleset::Element>> slot_elements;
    std::vector<ruleset::Element> record_elements;  // the claim's own records, as read
};

struct FamilyState {
    std::map<layout::HostPort, PortState> ports;  // by port on every address of the family
    // Records and slots of ours that belong to no claim of the port, or are damaged beyond a slot's
    // value (a slot number of wide_slot_count or more): deleted by the next change of their port.
    std::map<layout::HostPort, std::vector<ruleset::Element>> leftovers;
};

// The sets a snapshot must hold the elements of.
const std::vector<std::string>& element_sets();
// Those but the slots: enough for the services, their ports and backends (read_state() then has
// no slots). A dump of the slot map costs the square of its size (the kernel walks a set from its
// start again for every message of a dump): minutes at 10,000 services.
const std::vector<std::string>& element_sets_without_slots();

FamilyState read_state(layout::Family family, const ruleset::TableSnapshot& snapshot);

}  // namespace warren::nft::ingress
