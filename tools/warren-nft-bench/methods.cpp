// SPDX-License-Identifier: Apache-2.0
#include "method.hpp"

#include "find_named.hpp"

#include <warren/nft/host_port_publisher.hpp>

namespace bench {

const std::vector<MethodInfo>& all_methods()
{
    static const std::vector<MethodInfo> methods = {
        warren_nft_method(),       warren_nft_counters_method(), floor_method(),       iptables_fork_method(),
        iptables_restore_method(), nft_cli_method(),             libnftables_method(),
    };
    return methods;
}

const MethodInfo* find_method(const std::string& name) { return find_named(all_methods(), name); }

void publish_with_library(std::span<const Task> tasks)
{
    warren::nft::HostPortPublisher publisher;
    for (const auto& task : tasks)
        publisher.publish_ports(task.id, task.container_ip, port_mappings(task));
    if (tasks.empty()) {
        // The table must exist even when empty, for the methods that add elements to it by text.
        const auto placeholder = measured_service(1);
        publisher.publish_ports(placeholder.id, placeholder.container_ip, port_mappings(placeholder));
        publisher.unpublish_ports(placeholder.id);
    }
}

}  // namespace bench
