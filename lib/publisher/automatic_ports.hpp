// SPDX-License-Identifier: Apache-2.0
// Host ports asked for as 0: which one a port gets, decided against the publisher's view (and the
// host's sockets) under its lock. The kernel has the last word: the new ports element is created
// with NLM_F_EXCL, so two publishers that chose the same port cannot both commit it.
#pragma once

#include "publisher/task_index.hpp"
#include "publisher/validation.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace warren::nft {

// `ports` with a host port for each that asks for 0: the one the task publishes now (`current`)
// for the same protocol, container port and host addresses, if no other port of the request takes
// it; else the first port of `range` from `start` on (wrapping around) that is free on every host
// address the port is published on: not `taken` and not taken by another port of the request.
// Throws Error (port_conflict) when none is free.
std::vector<PortMapping> choose_host_ports(std::span<const PortMapping> ports, const validation::ContainerFamilies& addresses,
                                           const std::vector<IndexEntry>& current, PublisherOptions::PortRange range,
                                           const std::function<bool(const layout::HostPort&)>& taken, std::uint32_t start);

// Whether any of `ports` asks for 0.
bool wants_automatic_ports(std::span<const PortMapping> ports) noexcept;

}  // namespace warren::nft
