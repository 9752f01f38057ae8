// SPDX-License-Identifier: Apache-2.0
// The commit that turns an ingress service's ports into what is asked (docs/ingress.md): claims,
// records and slots, moving only the slots that must move.
#pragma once

#include "publisher/ingress_state.hpp"
#include "publisher/schema.hpp"
#include "ruleset/transaction.hpp"

#include <array>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace warren::nft::ingress {

// What the service wants of one port of one family: its records, draining ones included, at least
// one active.
struct WantedPort {
    layout::HostPort port;  // on every address of its family
    std::vector<Record> records;
};

using TablesState = std::array<FamilyState, 2>;  // by layout::family_index

// Whether the port has an active record: one that plan_service() can give its slots to.
bool has_active_backend(const WantedPort& port);
// The ports of `wanted` with more active records than a narrow port has slots: wide ports.
std::vector<layout::HostPort> wide_ports(std::span<const WantedPort> wanted);

// The service's claimed ports that `wanted` lacks go (claim, records, slots); each port of `wanted`
// gets its claim if it has none, exactly its records, and its slots by assign_slots() from the
// kernel's, every slot element that changes deleted and created again. Every leftover (records and
// slots of no claim, slots past the last) of each family's table it changes is deleted in the same
// transaction, so that no slot of an unclaimed port DNATs on. Empty when nothing changes.
ruleset::Commit plan_service(const TablesState& state, std::string_view service, const std::vector<WantedPort>& wanted);

// What a self-healing publisher puts back: every service of `kept` as plan_service() makes it what
// it wants (claims, records, slots), and every leftover of both tables deleted. Empty when the
// tables hold exactly that.
ruleset::Commit plan_restore(const TablesState& state, const std::map<std::string, std::vector<WantedPort>, std::less<>>& kept);

}  // namespace warren::nft::ingress
