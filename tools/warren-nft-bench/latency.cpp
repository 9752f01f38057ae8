// SPDX-License-Identifier: Apache-2.0
#include "latency.hpp"

#include "child.hpp"
#include "method.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

double microseconds_since(Clock::time_point start)
{
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// In the child: one part of a cell, `repetitions` of them at most, for `max_seconds` at most.
nlohmann::json measure(const MethodInfo& info, const LatencyCell& cell, std::size_t repetitions, double max_seconds)
{
    auto method = info.create();
    method->prepare(filler_tasks(cell.table_size, 1, cell.family), cell.family);
    const auto times = time_publishes(*method, measured_service(cell.ports, cell.family), cell.warmup, repetitions, max_seconds);
    return {{"publish_us", times.publish_us},
            {"unpublish_us", times.unpublish_us},
            {"peak_rss_kib", peak_rss_kib()},
            {"tool_peak_rss_kib", children_peak_rss_kib()}};
}

// The samples of a cell's parts so far.
struct Samples {
    std::vector<double> publish, unpublish;
};

}  // namespace

PublishTimes time_publishes(Method& method, const Task& service, std::size_t warmup, std::size_t repetitions, double max_seconds)
{
    for (std::size_t i = 0; i < warmup; ++i) {
        method.publish(service);
        method.unpublish(service);
    }
    PublishTimes times;
    const auto started = Clock::now();
    while (times.publish_us.size() < repetitions &&
           (times.publish_us.empty() || std::chrono::duration<double>(Clock::now() - started).count() < max_seconds)) {
        auto start = Clock::now();
        method.publish(service);
        times.publish_us.push_back(microseconds_since(start));
        start = Clock::now();
        method.unpublish(service);
        times.unpublish_us.push_back(microseconds_since(start));
    }
    return times;
}

const LatencyCell* find_cell(const std::vector<LatencyCell>& cells, const std::string& method, std::size_t ports,
                             std::size_t table_size)
{
    for (const auto& cell : cells)
        if (cell.method == method && cell.ports == ports && cell.table_size == table_size && !cell.skipped && !cell.error)
            return &cell;
    return nullptr;
}

RoundPlan::RoundPlan(const LatencyOptions& options)
    : rounds(std::max<std::size_t>(1, std::min(options.rounds, options.repetitions))),
      part_seconds(options.max_seconds / static_cast<double>(rounds)),
      // Generous: preparing 100k iptables rules or a slow tool must not be cut short.
      child_timeout(static_cast<long>(std::ceil(part_seconds)) * 3 + 600)
{
}

std::size_t RoundPlan::part(std::size_t round, std::size_t requested_repetitions) const
{
    return requested_repetitions / rounds + (round < requested_repetitions % rounds);
}

std::vector<LatencyCell> run_latency(const LatencyOptions& options, const std::function<void(const LatencyCell&)>& done)
{
    const RoundPlan plan(options);
    std::vector<LatencyCell> cells;
    std::vector<const MethodInfo*> infos;
    for (const auto& name : options.methods) {
        const auto* info = find_method(name);
        const auto unavailable = options.family != AddressFamily::ipv4 && info->ipv4_only
                                     ? "not applicable to " + std::string(display(options.family)) + " tasks: " + *info->ipv4_only
                                     : info->unavailable();
        for (const auto ports : options.ports)
            for (const auto table_size : options.table_sizes) {
                LatencyCell cell;
                cell.method = name;
                cell.ports = ports;
                cell.table_size = table_size;
                cell.family = options.family;
                cell.requested_repetitions = options.repetitions;
                cell.warmup = options.warmup;
                cell.rounds = plan.rounds;
                cell.skipped = unavailable;
                cells.push_back(std::move(cell));
                infos.push_back(info);
            }
    }
    std::vector<Samples> samples(cells.size());
    for (std::size_t round = 0; round < plan.rounds; ++round) {
        for (std::size_t i = 0; i < cells.size(); ++i) {
            auto& cell = cells[i];
            if (cell.skipped || cell.error)
                continue;
            const auto part = plan.part(round, cell.requested_repetitions);
            try {
                const auto result =
                    run_in_fresh_child([&] { return measure(*infos[i], cell, part, plan.part_seconds); }, plan.child_timeout);
                for (const double us : result.at("publish_us"))
                    samples[i].publish.push_back(us);
                for (const double us : result.at("unpublish_us"))
                    samples[i].unpublish.push_back(us);
                cell.peak_rss_kib = std::max<long>(cell.peak_rss_kib, result.at("peak_rss_kib"));
                cell.tool_peak_rss_kib = std::max<long>(cell.tool_peak_rss_kib, result.at("tool_peak_rss_kib"));
            } catch (const std::exception& e) {
                cell.error = "round " + std::to_string(round + 1) + ": " + e.what();
            }
            if (round + 1 < plan.rounds)
                continue;
            if (!cell.error) {
                cell.repetitions = samples[i].publish.size();
                cell.time_bounded = cell.repetitions < cell.requested_repetitions;
                cell.publish_us = percentiles(samples[i].publish);
                cell.unpublish_us = percentiles(samples[i].unpublish);
            }
        }
    }
    for (auto& cell : cells)
        done(cell);
    return cells;
}

}  // namespace bench
