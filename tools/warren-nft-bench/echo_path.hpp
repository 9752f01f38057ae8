// SPDX-License-Identifier: Apache-2.0
// The one published port that carries real traffic in the data-path and heal modes: host
// 10.200.1.1:5000 of a sandbox::Topology to its container, port 8000, probed from the client
// namespace with a TCP echo exchange.
#pragma once

#include "service.hpp"
#include "traffic.hpp"

#include <chrono>
#include <cstdint>

namespace bench {

inline constexpr std::uint16_t measured_host_port = 5000;
inline constexpr std::uint16_t measured_container_port = 8000;

// The first packets on a new veth pair can be dropped until the kernel's link watcher activates its
// queue (up to a second), so a probe that must succeed has to outlast one SYN retransmission.
inline constexpr std::chrono::milliseconds first_probe_timeout{3000};

// The task that publishes host port 5000 to the topology's container, port 8000.
Task measured_task();

// One echo exchange from the client namespace to host port 5000 (a new connection every time).
sandbox::Exchange probe_measured_port(const sandbox::Topology& topology, std::chrono::milliseconds timeout);

// Throws unless a connection to host port 5000 is refused (nothing publishes it yet).
void expect_refused(const sandbox::Topology& topology);

// Throws unless an echo probe through host port 5000 comes back from `echo` (listening in the
// container on port 8000) and arrived there from the host's container-side address: the traffic
// really went through DNAT, forward and masquerade.
void expect_dnat(const sandbox::Topology& topology, const sandbox::EchoServer& echo);

}  // namespace bench
