// SPDX-License-Identifier: Apache-2.0
// Latency mode: publish then unpublish a service of P ports, R times, while the table holds N other
// ports, for every method. Each (method, P, N) cell is measured in `rounds` parts of about R/rounds
// repetitions, each part in its own child and namespace; round r of every cell runs before round
// r+1 of any, so that every cell samples the whole run and a slow minute of a shared machine falls
// on all methods alike.
#pragma once

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
};

struct LatencyCell {
    std::string method;
    std::size_t ports = 0;
    std::size_t table_size = 0;
    std::size_t requested_repetitions = 0;
    std::size_t repetitions = 0;
    std::size_t warmup = 0;  // untimed repetitions before each part's timed ones
    std::size_t rounds = 0;  // parts the repetitions were measured in
    bool time_bounded = false;
    std::optional<std::string> skipped;  // the method cannot run here, and why
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
    double part_seconds;                  // the time bound of one part's timed repetitions
    std::chrono::seconds child_timeout;   // of one part's child, preparation included
    std::size_t part(std::size_t round, std::size_t requested_repetitions) const;
};

// Calls `done` for each cell, in order, once every part of every cell has run.
std::vector<LatencyCell> run_latency(const LatencyOptions& options, const std::function<void(const LatencyCell&)>& done);

}  // namespace bench
