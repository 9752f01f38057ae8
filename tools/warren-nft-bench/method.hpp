// SPDX-License-Identifier: Apache-2.0
// A way of publishing ports whose latency the benchmark measures: warren-nft itself, the raw libnftnl
// floor, and the tools it replaces (iptables forks, iptables-restore, nft, libnftables).
#pragma once

#include "service.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bench {

class Method {
public:
    virtual ~Method() = default;
    // Untimed: sets up what the method needs in the calling thread's (fresh) network namespace for
    // tasks of `family` and publishes the filler tasks the tables hold during the measurement.
    virtual void prepare(std::span<const Task> filler, AddressFamily family) = 0;
    // Timed. Both throw when the kernel or the tool refuses: a failed publish is not a measurement.
    virtual void publish(const Task& service) = 0;
    virtual void unpublish(const Task& service) = 0;
};

struct MethodInfo {
    std::string name;
    std::string description;
    // Why the method cannot run on this machine (a tool or library is missing), if it cannot.
    std::function<std::optional<std::string>()> unavailable;
    std::function<std::unique_ptr<Method>()> create;
    // Why the method publishes IPv4 only and so has nothing to measure for IPv6 or dual-stack
    // tasks (--family), if it does.
    std::optional<std::string> ipv4_only = {};
};

// In the order of the report.
const std::vector<MethodInfo>& all_methods();
const MethodInfo* find_method(const std::string& name);

// The plain warren-nft method, and its variants that the report sets beside it (p50 ratios).
inline constexpr const char* plain_method_name = "warren-nft";
inline constexpr const char* policy_method_name = "warren-nft-policy";
inline constexpr const char* socket_check_method_name = "warren-nft-socket-check";
// The floor with warren-nft-policy's elements: set beside plain warren-nft too, as the least a
// publish with a policy can cost.
inline constexpr const char* floor_policy_method_name = "floor-policy";

// The method factories, one per source file.
MethodInfo warren_nft_method();
MethodInfo warren_nft_policy_method();
MethodInfo warren_nft_socket_check_method();
MethodInfo warren_nft_counters_method();
MethodInfo floor_method();
MethodInfo floor_policy_method();
MethodInfo iptables_fork_method();
MethodInfo iptables_restore_method();
MethodInfo nft_cli_method();
MethodInfo libnftables_method();

// warren-nft's HostPortPublisher with `options`, as the methods warren-nft, warren-nft-socket-check
// and warren-nft-counters use it.
std::unique_ptr<Method> warren_nft_publisher(warren::nft::PublisherOptions options);

// Publishes `task` as a node agent would: a task with one address through the one-address
// overload, a dual-stack task through ContainerAddresses (one transaction over both tables).
void publish_task(warren::nft::HostPortPublisher& publisher, const Task& task, std::span<const warren::nft::PortMapping> ports);

// Publishes tasks through warren-nft's HostPortPublisher, whose first publish creates the tables of
// `family` (even for no tasks): how every method that works on those tables fills them. With
// `policy`, every port has it.
void publish_with_library(std::span<const Task> tasks, AddressFamily family,
                          const std::optional<warren::nft::AccessPolicy>& policy = std::nullopt);

}  // namespace bench
