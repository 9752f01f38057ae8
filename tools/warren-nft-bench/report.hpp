// SPDX-License-Identifier: Apache-2.0
// Everything one run measured, and its three renderings: a readable table with the targets of
// docs/performance.md checked, JSON with every figure (bench-plot.sh reads it), CSV of the latencies.
#pragma once

#include "bulk.hpp"
#include "burst.hpp"
#include "conntrack_cleanup.hpp"
#include "datapath.hpp"
#include "foreign_latency.hpp"
#include "heal.hpp"
#include "ingress_latency.hpp"
#include "latency.hpp"
#include "memory.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

struct Report {
    nlohmann::json machine;
    std::optional<std::vector<LatencyCell>> latency;
    std::optional<std::vector<BulkResult>> bulk;
    std::optional<std::vector<DatapathResult>> datapath;
    std::optional<std::string> datapath_error;  // the mode stopped: a run failed (no figures)
    std::optional<MemoryResult> memory;
    std::optional<std::vector<ForeignWriterCell>> foreign_writer;
    std::optional<std::vector<HealCell>> heal;
    std::optional<std::vector<ConntrackCell>> conntrack;
    std::optional<BurstResult> burst;
    std::optional<std::vector<IngressCell>> ingress;
};

// kernel, CPU, memory, OS and how the sandbox was entered.
nlohmann::json describe_machine();

void print_latency_row(std::ostream& out, const LatencyCell& cell);
// Names the family of the tasks when they are not IPv4 (--family).
void print_latency_header(std::ostream& out, AddressFamily family);
void print_text(std::ostream& out, const Report& report);  // all but the latency rows (printed as they come)
nlohmann::json to_json(const Report& report);
std::string to_csv(const std::vector<LatencyCell>& cells);

// True when any measurement failed (not: was skipped).
bool has_errors(const Report& report);

}  // namespace bench
