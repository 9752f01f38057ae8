// SPDX-License-Identifier: Apache-2.0
#include "memory.hpp"

#include "child.hpp"
#include "service.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <memory>
#include <stdexcept>

namespace bench {
namespace {

double per_port(std::size_t before, std::size_t after, std::size_t ports)
{
    return ports == 0 ? 0 : (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(ports);
}

nlohmann::json measure(std::size_t ports, std::size_t ports_per_task)
{
    const auto tasks = filler_tasks(ports, ports_per_task);
    const auto mappings = port_mappings(tasks);

    // Socket buffers, the kernel probe and the empty table's view are not per-port costs.
    auto publisher = std::make_unique<warren::nft::HostPortPublisher>();
    (void)publisher->all_published_ports();
    const auto before_publish = current_rss_bytes();
    for (std::size_t i = 0; i < tasks.size(); ++i)
        publisher->publish_ports(tasks[i].id, tasks[i].container_ip, mappings[i]);
    const auto after_publish = current_rss_bytes();
    publisher.reset();

    const auto before_adopt = current_rss_bytes();
    const warren::nft::HostPortPublisher restarted;
    if (const auto adopted = restarted.published_ports(tasks.front().id); adopted.size() != ports_per_task)
        throw std::runtime_error("the restarted publisher did not adopt the published ports");
    const auto after_adopt = current_rss_bytes();
    return {{"before_publish", before_publish},
            {"after_publish", after_publish},
            {"before_adopt", before_adopt},
            {"after_adopt", after_adopt}};
}

}  // namespace

double MemoryResult::publish_bytes_per_port() const { return per_port(rss_before_publish, rss_after_publish, ports); }
double MemoryResult::adopt_bytes_per_port() const { return per_port(rss_before_adopt, rss_after_adopt, ports); }

MemoryResult run_memory(std::size_t ports, std::size_t ports_per_task)
{
    MemoryResult result;
    result.ports = ports;
    result.ports_per_task = ports_per_task;
    try {
        const auto j = run_in_fresh_child([&] { return measure(ports, ports_per_task); }, std::chrono::seconds(1800));
        result.rss_before_publish = j.at("before_publish");
        result.rss_after_publish = j.at("after_publish");
        result.rss_before_adopt = j.at("before_adopt");
        result.rss_after_adopt = j.at("after_adopt");
    } catch (const std::exception& e) {
        result.error = e.what();
    }
    return result;
}

}  // namespace bench
