// SPDX-License-Identifier: Apache-2.0
// Mode foreign-writer: warren-nft's 3-port publish and unpublish while another process commits to a
// table of its own every period (ForeignWriter), side by side with the same measurement without it,
// at each table size. Commits to other tables should cost a publisher nothing; one that re-reads the
// table whenever the ruleset generation moved pays a full dump per foreign commit, which at 100,000
// ports outlasts the writer's period, so that it may never commit at all.
//
// Each (table size, quiet or busy) cell is measured like a latency cell (--reps in --rounds parts,
// each in a fresh child and namespace, bounded by --max-seconds), with two differences:
// - Paced: every timed call comes 1 to 2 writer periods after the one before, so that the writer has
//   committed in between (back to back, most publishes would come before the next foreign commit and
//   the median would not show what one costs). Quiet cells are paced the same way.
// - A call that fails is counted, not fatal; one still running a second after the time bound counts
//   as failed (unfinished) and ends the part, so a publisher that never gets through cannot hang the run.
#pragma once

#include "format.hpp"
#include "latency.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

struct ForeignWriterOptions {
    std::chrono::microseconds period{10000};          // between two commits of the foreign writer
    std::vector<std::size_t> table_sizes{0, 100000};  // ports published before the measured service
};

struct ForeignWriterCell {
    std::size_t table_size = 0;
    bool busy = false;                    // with the foreign writer
    std::chrono::microseconds period{0};  // the writer's; quiet cells are paced by it too
    std::size_t ports = 0;
    std::size_t requested_repetitions = 0;
    std::size_t rounds = 0;
    std::size_t warmup = 0;
    std::size_t publishes = 0;  // timed publishes that succeeded (the samples)
    std::size_t unpublishes = 0;
    std::size_t failed_publishes = 0;  // threw, or did not return (unfinished)
    std::size_t failed_unpublishes = 0;
    std::size_t unfinished = 0;  // calls still running a second after the time bound
    std::optional<std::string> first_failure;
    std::optional<Percentiles> publish_us, unpublish_us;  // absent when no call of the kind succeeded
    std::uint64_t foreign_commits = 0;                    // busy: commits of the foreign writer, over all parts
    double foreign_seconds = 0;                           // busy: how long it ran, over all parts
    long peak_rss_kib = 0;
    std::optional<std::string> error;  // the harness failed: no figures
};

// Uses `latency`'s repetitions, rounds, warm-up and time bound.
std::vector<ForeignWriterCell> run_foreign_writer(const ForeignWriterOptions& options, const LatencyOptions& latency);

// Its renderings (foreign_latency_report.cpp).
void print_foreign_writer(std::ostream& out, const std::vector<ForeignWriterCell>& cells);
nlohmann::json foreign_writer_json(const std::vector<ForeignWriterCell>& cells);
std::vector<Target> foreign_writer_targets(const std::vector<ForeignWriterCell>& cells);

}  // namespace bench
