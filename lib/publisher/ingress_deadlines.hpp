// SPDX-License-Identifier: Apache-2.0
// Drain deadlines (docs/ingress.md, "Draining"): when the deadline of a drained backend passes, the
// connections it still has through the port are deleted from connection tracking, whatever their
// protocol. The publisher asks its flow cleaner for that at the deadline, and at that time checks
// again with the tables, since another process (or the publisher itself) may have changed the
// backend meanwhile.
#pragma once

#include "publisher/flow_cleaner.hpp"
#include "publisher/ingress_plan.hpp"
#include "publisher/task_index.hpp"

#include <chrono>
#include <optional>
#include <span>
#include <vector>

namespace warren::nft::ingress {

// The connections of `backend` through the ingress port `port` (on every address of its family).
ruleset::FlowMatch backend_flows(const layout::HostPort& port, const BackendKey& backend);

// One backend's connections through one port, and when they are to be deleted; nullopt: never (an
// active backend, or a draining one without a deadline).
struct Deadline {
    ruleset::FlowMatch flows;
    std::optional<std::chrono::sys_seconds> at;
};

// For every record of `ports` (a service's ports as a committed change leaves them).
std::vector<Deadline> deadlines(std::span<const WantedPort> ports);
// For every record of a draining backend with a deadline that the family's table holds (its
// ingress_backends elements in `snapshot`), whichever claim they belong to: what a publisher that
// starts takes over.
std::vector<Deadline> recorded_deadlines(layout::Family family, const ruleset::TableSnapshot& snapshot);
// The same for one ingress_backends element (read or announced); nullopt for one that is not a
// record of ours or has no deadline.
std::optional<Deadline> recorded_deadline(layout::Family family, const ruleset::Element& element);

// The ingress ports `flows` (backend_flows() of each) go through.
std::vector<layout::HostPort> ports_of(std::span<const ruleset::FlowMatch> flows);

// What becomes of deletions that came due, from the state of their ports (ports_of()) now:
// - with the backend's record on the port: deleted once it is draining and its deadline has passed
//   at `now`; asked again at a later deadline; dropped when it is active again or has none;
// - without (the backend left the port, and its deadline still holds for the connections it kept):
//   deleted, unless a host-mode port of the index overlaps the port now (its connections may lead
//   to the same address).
FlowCleaner::Due settle_due(const TablesState& state, const TaskIndex& index, std::vector<ruleset::FlowMatch> due,
                            FlowCleaner::Clock::time_point now);

}  // namespace warren::nft::ingress
