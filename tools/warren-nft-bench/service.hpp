// SPDX-License-Identifier: Apache-2.0
// The ports the benchmark publishes: the service under measurement and the ports that fill the table
// before it, described once and rendered for every method (library calls, iptables, nft text).
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

struct BenchPort {
    std::uint16_t host_port;
    std::string container_ip;
    std::uint16_t container_port;
    warren::nft::Protocol protocol = warren::nft::Protocol::tcp;
};

// A task and its ports, as one publish call.
struct Task {
    std::string id;
    std::string container_ip;
    std::vector<BenchPort> ports;
};

// The service whose publish and unpublish are timed: `ports` TCP ports from host port 5000 on, to
// container 10.88.0.5 port 8000 on. Filler ports never use these host ports.
Task measured_service(std::size_t ports);

// `count` filler ports in tasks of `ports_per_task` ports: TCP, then UDP, then SCTP host ports from
// 10000 on (so up to 3 x 55,535 ports), each task with its own container IP in 10.64.0.0/10.
std::vector<Task> filler_tasks(std::size_t count, std::size_t ports_per_task = 1);
// How many filler ports there can be.
std::size_t filler_capacity();

std::vector<warren::nft::PortMapping> port_mappings(const Task& task);
// port_mappings() of each task, in order: built before timing starts.
std::vector<std::vector<warren::nft::PortMapping>> port_mappings(const std::vector<Task>& tasks);

}  // namespace bench
