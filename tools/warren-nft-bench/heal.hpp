// SPDX-License-Identifier: Apache-2.0
// Heal mode: how long published ports stay dead after another process damages table ip warren while
// a publisher with PublisherOptions::self_heal runs. Per damage kind and table size, in a
// fresh child and namespace: the client / host / container topology of the data-path mode with an
// echo server behind one published port, a self-healing publisher that published it and N others
// (one-port tasks), then `rounds` times: damage by `nft -f -` (another process), and probe the port
// with new TCP echo connections until one comes back. The clock starts at the damaging commit as the
// kernel announced it (CommitMonitor), so nft's own exit is not counted.
#pragma once

#include "format.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

struct HealOptions {
    std::vector<std::size_t> table_sizes{10, 10000};  // other published ports besides the probed one
    std::vector<std::string> damages;                 // damage kinds by name (damage.hpp); empty: all
    std::size_t rounds = 20;                          // per damage kind and table size
    // A round whose port has not carried traffic again by then counts as not healed; the benchmark
    // then rebuilds the table itself. After three such rounds in a row the cell stops.
    std::chrono::milliseconds timeout{1000};
};

struct HealCell {
    std::string damage;
    std::string command;  // what the damage does, in nft's words
    std::size_t table_size = 0;
    std::size_t requested_rounds = 0;
    std::chrono::milliseconds timeout{0};  // HealOptions::timeout
    std::size_t rounds = 0;                // rounds that ran
    std::size_t healed = 0;                // rounds whose port carried traffic again within the timeout
    std::optional<std::string> stopped;    // why fewer rounds ran than asked
    // Healed rounds: from the damaging commit to the first echo back through the port; and to the
    // next commit of another process (the repair, as the kernel announced it).
    std::optional<Percentiles> outage_ms;
    std::optional<Percentiles> repair_commit_ms;
    std::size_t incomplete = 0;                // healed rounds after which not every port was back in time
    std::optional<std::string> first_problem;  // of a round that did not heal or not completely
    // What the publisher said through on_repair (RepairReport), over all rounds.
    std::size_t repair_reports = 0;
    std::size_t failed_repairs = 0;               // reports with an error
    std::optional<Percentiles> repair_report_ms;  // RepairReport::duration of the reports without error
    std::size_t most_ports_restored = 0;
    std::size_t layout_restored = 0;             // reports that rebuilt part of the fixed layout
    std::size_t skipped_ports = 0;               // RepairReport::skipped, summed
    std::optional<std::string> reported_damage;  // the first report's damage text
    std::optional<std::string> first_repair_error;
    bool announcements_lost = false;     // the commit monitor's queue overflowed: some clocks started at nft's exit
    bool monitor_realtime = false;       // the commit monitor's thread ran at a real-time priority
    std::optional<std::string> skipped;  // could not run here (nft missing)
    std::optional<std::string> error;    // the harness failed: no figures
};

// Must be called in a namespace of the caller's own (sandbox::enter_sandbox() done), single-threaded.
std::vector<HealCell> run_heal(const HealOptions& options);

// Its renderings (heal_report.cpp).
void print_heal(std::ostream& out, const std::vector<HealCell>& cells);
nlohmann::json heal_json(const std::vector<HealCell>& cells);
std::vector<Target> heal_targets(const std::vector<HealCell>& cells);

}  // namespace bench
