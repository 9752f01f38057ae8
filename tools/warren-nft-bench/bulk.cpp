// SPDX-License-Identifier: Apache-2.0
#include "bulk.hpp"

#include "child.hpp"
#include "service.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <chrono>
#include <stdexcept>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

nlohmann::json measure(const BulkShape& shape)
{
    const auto tasks = filler_tasks(shape.tasks * shape.ports_per_task, shape.ports_per_task);
    const auto mappings = port_mappings(tasks);

    auto start = Clock::now();
    {
        warren::nft::HostPortPublisher publisher;
        for (std::size_t i = 0; i < tasks.size(); ++i)
            publisher.publish_ports(tasks[i].id, tasks[i].container_ip, mappings[i]);
    }
    const auto publish_seconds = seconds_since(start);

    start = Clock::now();
    const warren::nft::HostPortPublisher restarted;
    const auto adopted = restarted.all_published_ports().size();
    const auto adopt_seconds = seconds_since(start);
    if (adopted != shape.tasks * shape.ports_per_task)
        throw std::runtime_error("the restarted publisher adopted " + std::to_string(adopted) + " ports, not " +
                                 std::to_string(shape.tasks * shape.ports_per_task));
    return {{"publish_seconds", publish_seconds},
            {"adopt_seconds", adopt_seconds},
            {"adopted_ports", adopted},
            {"peak_rss_kib", peak_rss_kib()}};
}

}  // namespace

std::vector<BulkResult> run_bulk(const std::vector<BulkShape>& shapes)
{
    std::vector<BulkResult> results;
    for (const auto& shape : shapes) {
        BulkResult result;
        result.shape = shape;
        try {
            const auto j = run_in_fresh_child([&] { return measure(shape); }, std::chrono::seconds(1800));
            result.publish_seconds = j.at("publish_seconds");
            result.adopt_seconds = j.at("adopt_seconds");
            result.adopted_ports = j.at("adopted_ports");
            result.peak_rss_kib = j.at("peak_rss_kib");
        } catch (const std::exception& e) {
            result.error = e.what();
        }
        results.push_back(std::move(result));
    }
    return results;
}

}  // namespace bench
