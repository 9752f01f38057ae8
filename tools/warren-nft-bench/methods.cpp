// SPDX-License-Identifier: Apache-2.0
#include "method.hpp"

#include "bench_policy.hpp"
#include "find_named.hpp"

#include <warren/nft/host_port_publisher.hpp>

namespace bench {

const std::vector<MethodInfo>& all_methods()
{
    static const std::vector<MethodInfo> methods = {
        warren_nft_method(), warren_nft_policy_method(), warren_nft_socket_check_method(), warren_nft_counters_method(),
        floor_method(),      floor_policy_method(),      iptables_fork_method(),           iptables_restore_method(),
        nft_cli_method(),    libnftables_method(),
    };
    return methods;
}

const MethodInfo* find_method(const std::string& name) { return find_named(all_methods(), name); }

void publish_task(warren::nft::HostPortPublisher& publisher, const Task& task, std::span<const warren::nft::PortMapping> ports)
{
    if (task.family() == AddressFamily::dual)
        publisher.publish_ports(task.id, warren::nft::ContainerAddresses{task.container_ip, task.container_ipv6}, ports);
    else
        publisher.publish_ports(task.id, task.container_ip.empty() ? task.container_ipv6 : task.container_ip, ports);
}

void publish_with_library(std::span<const Task> tasks, AddressFamily family,
                          const std::optional<warren::nft::AccessPolicy>& policy)
{
    warren::nft::HostPortPublisher publisher;
    for (const auto& task : tasks)
        publish_task(publisher, task, policy ? with_policy(port_mappings(task), *policy) : port_mappings(task));
    if (tasks.empty()) {
        // The tables must exist even when empty, for the methods that add elements to them.
        const auto placeholder = measured_service(1, family);
        publish_task(publisher, placeholder, port_mappings(placeholder));
        publisher.unpublish_ports(placeholder.id);
    }
}

}  // namespace bench
