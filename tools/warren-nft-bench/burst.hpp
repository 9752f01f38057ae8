// SPDX-License-Identifier: Apache-2.0
// Burst mode: a node agent starting (then stopping) many tasks at once. T one-port tasks published
// from an empty table, then unpublished, two ways side by side in the same run: one after the other
// on a synchronous HostPortPublisher, and all at once from one io_context thread through
// AsyncHostPortPublisher, which coalesces the requests queued meanwhile into few transactions. Each
// side of each round runs in a fresh child and namespace; the rounds alternate which side goes first.
#pragma once

#include "format.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

struct BurstOptions {
    std::size_t tasks = 10000;  // one-port tasks per burst
    std::size_t rounds = 5;     // bursts per side; medians are reported
};

// One side's bursts, one figure per round.
struct BurstSide {
    std::vector<double> publish_seconds;    // from the first call to the last completion
    std::vector<double> unpublish_seconds;  // likewise, of the same tasks
    // Transactions sent per burst (MetricsSnapshot::batches), where the publisher counts them: the
    // asynchronous side only (the synchronous one sends one per call).
    std::vector<std::uint64_t> publish_batches;
    std::vector<std::uint64_t> unpublish_batches;
};

struct BurstResult {
    BurstOptions options;
    BurstSide sync;
    BurstSide async;
    std::optional<std::string> error;  // a round failed: the rounds before it are still reported
};

// Must be called in a namespace of the caller's own (sandbox::enter_sandbox() done), single-threaded.
BurstResult run_burst(const BurstOptions& options);

// Its renderings (burst_report.cpp).
void print_burst(std::ostream& out, const BurstResult& result);
nlohmann::json burst_json(const BurstResult& result);
std::vector<Target> burst_targets(const BurstResult& result);

}  // namespace bench
