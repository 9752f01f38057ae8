// SPDX-License-Identifier: Apache-2.0
// The ingress services that fill the tables before the ingress and data-path modes measure: one TCP
// port each, with backends at addresses that need not exist (a backend is never checked for being
// reachable, and no filler port carries traffic).
#pragma once

#include "service.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bench {

// At most this many filler services: their host ports are the TCP filler ports (service.hpp).
std::size_t max_ingress_services();

// An ingress port of every host address, as publish_ingress() takes it.
warren::nft::PortMapping ingress_port(std::uint16_t host_port, std::uint16_t container_port);

// Publishes one ingress service per task of `tasks` (filler_tasks(N), one port each): the task's id
// and TCP port, and `backends_per_service` backends of weight 1, each at a filler address of its own
// (service i's backend k at filler_ip(i * backends_per_service + k): 1 backend, the task's container
// address). One publish_ingress() per service, as an agent publishes them; each holds the port's 256
// slots whatever its backends.
void publish_ingress_fillers(warren::nft::HostPortPublisher& publisher, const std::vector<Task>& tasks,
                             std::size_t backends_per_service);

}  // namespace bench
