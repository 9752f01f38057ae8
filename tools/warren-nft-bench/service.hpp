// SPDX-License-Identifier: Apache-2.0
// The ports the benchmark publishes: the service under measurement and the ports that fill the table
// before it, described once and rendered for every method (library calls, iptables, nft text).
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// The container addresses of the latency mode's tasks (--family): IPv4 only, as before dual stack
// existed; IPv6 only; or both, each port then published in table ip warren and table ip6 warren.
enum class AddressFamily { ipv4, ipv6, dual };
// "ipv4", "ipv6", "dual": the option's values.
std::string_view to_string(AddressFamily family) noexcept;
std::optional<AddressFamily> parse_family(std::string_view text);
// "IPv4", "IPv6", "dual-stack": how the report names the tasks' family.
std::string_view display(AddressFamily family) noexcept;
inline bool has_ipv4(AddressFamily family) noexcept { return family != AddressFamily::ipv6; }
inline bool has_ipv6(AddressFamily family) noexcept { return family != AddressFamily::ipv4; }

struct BenchPort {
    std::uint16_t host_port;
    std::string container_ip;
    std::uint16_t container_port;
    warren::nft::Protocol protocol = warren::nft::Protocol::tcp;
};

// A task and its ports, as one publish call. Its ports are published on every host address of each
// family it has an address of.
struct Task {
    std::string id;
    std::string container_ip;  // IPv4; empty for an IPv6-only task
    std::vector<BenchPort> ports;
    std::string container_ipv6 = {};  // empty for an IPv4-only task
    AddressFamily family() const noexcept;
};

// The service whose publish and unpublish are timed: `ports` TCP ports from host port 5000 on, to
// container 10.88.0.5 and/or fd00:88::5 port 8000 on. Filler ports never use these host ports.
Task measured_service(std::size_t ports, AddressFamily family = AddressFamily::ipv4);

// `count` filler ports in tasks of `ports_per_task` ports: TCP, then UDP, then SCTP host ports from
// 10000 on (so up to 3 x 55,535 ports), each task with its own container IP in 10.64.0.0/10 and/or
// fd00:64::/64 (the same host number in both).
std::vector<Task> filler_tasks(std::size_t count, std::size_t ports_per_task = 1, AddressFamily family = AddressFamily::ipv4);
// How many filler ports there can be.
std::size_t filler_capacity();
// The IPv4 container address of filler task number `task` (10.64.0.0/10, unique below 4 million).
std::string filler_ip(std::size_t task);

std::vector<warren::nft::PortMapping> port_mappings(const Task& task);
// port_mappings() of each task, in order: built before timing starts.
std::vector<std::vector<warren::nft::PortMapping>> port_mappings(const std::vector<Task>& tasks);

}  // namespace bench
