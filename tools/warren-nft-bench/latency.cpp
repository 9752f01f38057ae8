// SPDX-License-Identifier: Apache-2.0
#include "latency.hpp"

#include "child.hpp"
#include "method.hpp"

#include <chrono>
#include <cmath>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

double microseconds_since(Clock::time_point start)
{
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

nlohmann::json to_json(const Percentiles& p)
{
    return {{"min", p.min}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}};
}

Percentiles percentiles_from_json(const nlohmann::json& j)
{
    return {j.at("min"), j.at("p50"), j.at("p90"), j.at("p99"), j.at("max")};
}

// In the child: the whole cell.
nlohmann::json measure(const MethodInfo& info, const LatencyCell& cell, double max_seconds)
{
    auto method = info.create();
    method->prepare(filler_tasks(cell.table_size));
    const auto service = measured_service(cell.ports);
    for (std::size_t i = 0; i < cell.warmup; ++i) {
        method->publish(service);
        method->unpublish(service);
    }
    std::vector<double> publish, unpublish;
    const auto started = Clock::now();
    while (publish.size() < cell.requested_repetitions &&
           (publish.empty() || std::chrono::duration<double>(Clock::now() - started).count() < max_seconds)) {
        auto start = Clock::now();
        method->publish(service);
        publish.push_back(microseconds_since(start));
        start = Clock::now();
        method->unpublish(service);
        unpublish.push_back(microseconds_since(start));
    }
    return {{"repetitions", publish.size()},
            {"publish_us", to_json(percentiles(publish))},
            {"unpublish_us", to_json(percentiles(unpublish))},
            {"peak_rss_kib", peak_rss_kib()},
            {"tool_peak_rss_kib", children_peak_rss_kib()}};
}

}  // namespace

std::vector<LatencyCell> run_latency(const LatencyOptions& options, const std::function<void(const LatencyCell&)>& done)
{
    std::vector<LatencyCell> cells;
    for (const auto& name : options.methods) {
        const auto* info = find_method(name);
        const auto unavailable = info->unavailable();
        for (const auto ports : options.ports)
            for (const auto table_size : options.table_sizes) {
                LatencyCell cell;
                cell.method = name;
                cell.ports = ports;
                cell.table_size = table_size;
                cell.requested_repetitions = options.repetitions;
                cell.warmup = options.warmup;
                cell.skipped = unavailable;
                if (!cell.skipped) {
                    // Generous: preparing 100k iptables rules or a slow tool must not be cut short.
                    const auto timeout = std::chrono::seconds(static_cast<long>(std::ceil(options.max_seconds)) * 3 + 600);
                    try {
                        const auto result = run_in_fresh_child([&] { return measure(*info, cell, options.max_seconds); }, timeout);
                        cell.repetitions = result.at("repetitions");
                        cell.time_bounded = cell.repetitions < cell.requested_repetitions;
                        cell.publish_us = percentiles_from_json(result.at("publish_us"));
                        cell.unpublish_us = percentiles_from_json(result.at("unpublish_us"));
                        cell.peak_rss_kib = result.at("peak_rss_kib");
                        cell.tool_peak_rss_kib = result.at("tool_peak_rss_kib");
                    } catch (const std::exception& e) {
                        cell.error = e.what();
                    }
                }
                done(cell);
                cells.push_back(std::move(cell));
            }
    }
    return cells;
}

}  // namespace bench
