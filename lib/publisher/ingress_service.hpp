// SPDX-License-Identifier: Apache-2.0
// The calls of ingress mode (docs/ingress.md) between HostPortPublisher and the planner: checking a
// request before anything is read or sent, turning it into a commit against what the kernel
// holds, and reading services back.
#pragma once

#include "publisher/ingress_plan.hpp"
#include "publisher/task_index.hpp"

#include <warren/nft/ingress.hpp>

#include <chrono>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace warren::nft::ingress {

// A checked publish_ingress() request: every port of every family the backends have an address
// of, with its records. Throws Error (invalid_argument) for anything publish_ingress() refuses.
std::vector<WantedPort> checked_request(std::string_view service, std::span<const PortMapping> ports,
                                        std::span<const IngressBackend> backends);

// A change of one service: its commit, and the ports (with their records) it has once committed.
struct ServiceChange {
    ruleset::Commit commit;
    std::vector<WantedPort> ports;
};

// The commit that publishes `wanted` for the service, after the checks that need the table: a
// port another owner holds (a host-mode task, another program, another service) is a port_conflict;
// an id that publishes host-mode ports is invalid_argument.
ServiceChange plan_publish(const TaskIndex& index, const TablesState& state, std::string_view service,
                           const std::vector<WantedPort>& wanted);

// The backend at `address` (and `port`, when given) of each of the service's ports of its family
// marked draining, its slots moved to the active backends. Refuses an unknown service or backend,
// and draining the last active backend of a port (invalid_argument).
ServiceChange plan_drain(const TablesState& state, std::string_view service, const layout::Address& address,
                         std::optional<std::uint16_t> port, std::optional<std::chrono::sys_seconds> deadline);

// Every claim, record and slot of the service, and its tables' leftovers; empty when it has none.
ServiceChange plan_unpublish(const TablesState& state, std::string_view service);

// The service's claimed ports with their records as the state holds them.
std::vector<WantedPort> held_ports(const TablesState& state, std::string_view service);

// The ingress services the state holds, ordered by name.
std::vector<IngressService> services(const TablesState& state);

}  // namespace warren::nft::ingress
