// SPDX-License-Identifier: Apache-2.0
// Latency mode: publish then unpublish a service of P ports, R times, while the table holds N other
// ports, for every method. Each (method, P, N) cell is measured in `rounds` parts of about R/rounds
// repetitions, each part in its own child and namespace; round r of every cell runs before round
// r+1 of any, so that every cell samples the whole run and a slow minute of a shared machine falls
// on all methods alike.
#pragma once

#include "child.hpp"
#include "method.hpp"
#include "stats.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace bench {

struct LatencyOptions {
    std::vector<std::string> methods;
    std::vector<std::size_t> ports{1, 3};
    std::vector<std::size_t> table_sizes{0, 1000, 10000};
    std::size_t repetitions = 200;
    std::size_t warmup = 20;
    double max_seconds = 60;  // of timed repetitions per cell; slower cells report fewer repetitions
    std::size_t rounds = 5;   // parts each cell is measured in, interleaved with the other cells'
    // The addresses of the service and the filler tasks. The latency mode's only: the modes that
    // borrow these options (foreign-writer, conntrack) publish IPv4 tasks.
    AddressFamily family = AddressFamily::ipv4;
};

struct LatencyCell {
    std::string method;
    std::size_t ports = 0;
    std::size_t table_size = 0;
    AddressFamily family = AddressFamily::ipv4;  // of the service and the filler tasks
    std::size_t requested_repetitions = 0;
    std::size_t repetitions = 0;
    std::size_t warmup = 0;  // untimed repetitions before each part's timed ones
    std::size_t rounds = 0;  // parts the repetitions were measured in
    bool time_bounded = false;
    std::optional<std::string> skipped;  // the method cannot run here, or has nothing to do for the family, and why
    std::optional<std::string> error;    // it ran and failed: no figures
    Percentiles publish_us, unpublish_us;
    long peak_rss_kib = 0;       // the measuring process (in-process methods: library included)
    long tool_peak_rss_kib = 0;  // the largest process it forked (forking methods), else 0
};

// How a cell's R repetitions and time bound are split over its rounds (parts), each part in its own
// child: every part times at least one repetition, the first R % rounds parts one more than the rest.
struct RoundPlan {
    explicit RoundPlan(const LatencyOptions& options);
    std::size_t rounds;
    double part_seconds;                 // the time bound of one part's timed repetitions
    std::chrono::seconds child_timeout;  // of one part's child, preparation included
    std::size_t part(std::size_t round, std::size_t requested_repetitions) const;
};

// Measures every cell in plan.rounds parts, round r of every cell before round r+1 of any, so that
// every cell samples the whole run: `measure(cell, repetitions, seconds)` runs in a fresh child for at
// most `timeout(cell)`, and `absorb(index, json)` takes what it returned. A part that fails ends its
// cell: cells[index].error says in which round and why.
template <class Cell, class Measure, class Absorb, class Timeout>
void measure_in_rounds(const RoundPlan& plan, std::vector<Cell>& cells, Measure&& measure, Absorb&& absorb, Timeout&& timeout)
{
    for (std::size_t round = 0; round < plan.rounds; ++round)
        for (std::size_t i = 0; i < cells.size(); ++i) {
            auto& cell = cells[i];
            if (cell.error)
                continue;
            const auto part = plan.part(round, cell.requested_repetitions);
            try {
                absorb(i, run_in_fresh_child([&] { return measure(cell, part, plan.part_seconds); }, timeout(cell)));
            } catch (const std::exception& e) {
                cell.error = "round " + std::to_string(round + 1) + ": " + e.what();
            }
        }
}

struct PublishTimes {
    std::vector<double> publish_us, unpublish_us;
};

// Publishes then unpublishes `service` with `method`: `warmup` times untimed, then `repetitions`
// times timing each call, for `max_seconds` at most (but at least once).
PublishTimes time_publishes(Method& method, const Task& service, std::size_t warmup, std::size_t repetitions, double max_seconds);

// The cell of `method` for a service of `ports` ports at `table_size` if it was measured (neither
// skipped nor failed), else null.
const LatencyCell* find_cell(const std::vector<LatencyCell>& cells, const std::string& method, std::size_t ports,
                             std::size_t table_size);

// The service of the latency targets of docs/performance.md.
inline constexpr std::size_t latency_target_ports = 3;

// Calls `done` for each cell, in order, once every part of every cell has run.
std::vector<LatencyCell> run_latency(const LatencyOptions& options, const std::function<void(const LatencyCell&)>& done);

}  // namespace bench
