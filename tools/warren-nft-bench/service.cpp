// SPDX-License-Identifier: Apache-2.0
#include "service.hpp"

#include <cstdio>
#include <stdexcept>

namespace bench {
namespace {

constexpr std::uint16_t first_service_host_port = 5000;
constexpr std::uint16_t first_service_container_port = 8000;
constexpr std::uint32_t first_filler_host_port = 10000;
constexpr std::uint32_t filler_ports_per_protocol = 65536 - first_filler_host_port;

std::string filler_ipv6(std::size_t task)
{
    char text[40];
    const auto host = static_cast<unsigned long>(task) + 1;
    std::snprintf(text, sizeof text, "fd00:64::%lx:%lx", (host >> 16) & 0xffff, host & 0xffff);
    return text;
}

// A task of `family` named `id`, with the addresses it has of the two given.
Task task_of(AddressFamily family, std::string id, std::string ipv4, std::string ipv6)
{
    return {std::move(id),
            has_ipv4(family) ? std::move(ipv4) : std::string(),
            {},
            has_ipv6(family) ? std::move(ipv6) : std::string()};
}

struct FamilyNames {
    AddressFamily family;
    std::string_view option;   // --family's value
    std::string_view display;  // the report's
};
constexpr FamilyNames family_names[] = {
    {AddressFamily::ipv4, "ipv4", "IPv4"},
    {AddressFamily::ipv6, "ipv6", "IPv6"},
    {AddressFamily::dual, "dual", "dual-stack"},
};
const FamilyNames& names_of(AddressFamily family) noexcept { return family_names[static_cast<int>(family)]; }

}  // namespace

std::string_view to_string(AddressFamily family) noexcept { return names_of(family).option; }
std::string_view display(AddressFamily family) noexcept { return names_of(family).display; }

std::optional<AddressFamily> parse_family(std::string_view text)
{
    for (const auto& names : family_names)
        if (text == names.option)
            return names.family;
    return std::nullopt;
}

AddressFamily Task::family() const noexcept
{
    if (container_ipv6.empty())
        return AddressFamily::ipv4;
    return container_ip.empty() ? AddressFamily::ipv6 : AddressFamily::dual;
}

Task measured_service(std::size_t ports, AddressFamily family)
{
    auto task = task_of(family, "bench-service", "10.88.0.5", "fd00:88::5");
    for (std::size_t i = 0; i < ports; ++i)
        task.ports.push_back({static_cast<std::uint16_t>(first_service_host_port + i), task.container_ip,
                              static_cast<std::uint16_t>(first_service_container_port + i)});
    return task;
}

std::string filler_ip(std::size_t task)
{
    // 10.64.0.0/10 leaves 22 bits: room for 4 million tasks, and none collides with 10.88.0.5.
    const auto host = static_cast<std::uint32_t>(task) + 1;
    return "10." + std::to_string(64 + ((host >> 16) & 0x3f)) + "." + std::to_string((host >> 8) & 0xff) + "." +
           std::to_string(host & 0xff);
}

std::size_t filler_capacity() { return 3 * filler_ports_per_protocol; }

std::vector<Task> filler_tasks(std::size_t count, std::size_t ports_per_task, AddressFamily family)
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
            tasks.push_back(task_of(family, "filler-" + std::to_string(n), filler_ip(n), filler_ipv6(n)));
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
