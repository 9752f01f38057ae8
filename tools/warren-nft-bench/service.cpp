// SPDX-License-Identifier: Apache-2.0
#include "service.hpp"

#include <stdexcept>

namespace bench {
namespace {

constexpr std::uint16_t first_service_host_port = 5000;
constexpr std::uint16_t first_service_container_port = 8000;
constexpr std::uint32_t first_filler_host_port = 10000;
constexpr std::uint32_t filler_ports_per_protocol = 65536 - first_filler_host_port;

std::string filler_ip(std::size_t task)
{
    // 10.64.0.0/10 leaves 22 bits: room for 4 million tasks, and none collides with 10.88.0.5.
    const auto host = static_cast<std::uint32_t>(task) + 1;
    return "10." + std::to_string(64 + ((host >> 16) & 0x3f)) + "." + std::to_string((host >> 8) & 0xff) + "." +
           std::to_string(host & 0xff);
}

}  // namespace

Task measured_service(std::size_t ports)
{
    Task task{"bench-service", "10.88.0.5", {}};
    for (std::size_t i = 0; i < ports; ++i)
        task.ports.push_back({static_cast<std::uint16_t>(first_service_host_port + i), task.container_ip,
                              static_cast<std::uint16_t>(first_service_container_port + i)});
    return task;
}

std::size_t filler_capacity() { return 3 * filler_ports_per_protocol; }

std::vector<Task> filler_tasks(std::size_t count, std::size_t ports_per_task)
{
    using warren::nft::Protocol;
    if (count > filler_capacity())
        throw std::invalid_argument("at most " + std::to_string(filler_capacity()) + " filler ports");
    if (ports_per_task == 0)
        throw std::invalid_argument("a task needs at least one port");
    std::vector<Task> tasks;
    tasks.reserve((count + ports_per_task - 1) / ports_per_task);
    for (std::size_t i = 0; i < count; ++i) {
        if (i % ports_per_task == 0) {
            const auto n = tasks.size();
            tasks.push_back({"filler-" + std::to_string(n), filler_ip(n), {}});
        }
        static constexpr Protocol protocols[] = {Protocol::tcp, Protocol::udp, Protocol::sctp};
        const auto port = static_cast<std::uint16_t>(first_filler_host_port + i % filler_ports_per_protocol);
        auto& task = tasks.back();
        task.ports.push_back({port, task.container_ip, port, protocols[i / filler_ports_per_protocol]});
    }
    return tasks;
}

std::vector<warren::nft::PortMapping> port_mappings(const Task& task)
{
    std::vector<warren::nft::PortMapping> mappings;
    mappings.reserve(task.ports.size());
    for (const auto& port : task.ports)
        mappings.push_back({port.host_port, port.container_port, port.protocol, warren::nft::PublishMode::host, {}});
    return mappings;
}

std::vector<std::vector<warren::nft::PortMapping>> port_mappings(const std::vector<Task>& tasks)
{
    std::vector<std::vector<warren::nft::PortMapping>> mappings;
    mappings.reserve(tasks.size());
    for (const auto& task : tasks)
        mappings.push_back(port_mappings(task));
    return mappings;
}

}  // namespace bench
