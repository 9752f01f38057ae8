// SPDX-License-Identifier: Apache-2.0
// Mode conntrack: what PublisherOptions::conntrack_cleanup costs a publish and an unpublish of a
// 1-port UDP service, while the namespace's conntrack table holds N unrelated tracked flows
// (inserted with IPCTNL_MSG_CT_NEW: flows.hpp), side by side with the same calls without the cleanup.
// Cleaning up must not make a publish's cost grow with the table.
//
// Each (N, cleanup on or off) cell is measured like a latency cell (--reps in --rounds parts, each in
// a fresh child and namespace, bounded by --max-seconds, after --warmup untimed pairs). The cells
// without the cleanup also time ConntrackTable::forget() of the service's port alone, the work the
// cleanup does: one kernel dump, filtered by the kernel, that walks the whole conntrack hash table.
// The publisher does it on a thread of its own, after the call returns: the cells with the cleanup
// also time how long after a publish's call its cleanup is done (wait_for_conntrack_cleanup()).
#pragma once

#include "format.hpp"
#include "latency.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

struct ConntrackOptions {
    std::vector<std::size_t> flow_counts{0, 100000};  // unrelated tracked flows before timing
};

struct ConntrackCell {
    std::size_t flows = 0;  // unrelated tracked flows asked for
    bool cleanup = false;   // PublisherOptions::conntrack_cleanup
    std::size_t requested_repetitions = 0;
    std::size_t rounds = 0;
    std::size_t warmup = 0;
    std::size_t repetitions = 0;
    bool time_bounded = false;
    std::size_t tracked = 0;  // entries the table held when timing began, the fewest of any part
    std::size_t buckets = 0;  // of the kernel's conntrack hash table (shared by every namespace)
    Percentiles publish_us, unpublish_us;
    std::optional<Percentiles> forget_us;   // cleanup off: ConntrackTable::forget() of the service's port
    std::optional<Percentiles> settled_us;  // cleanup on: from a publish's call to its cleanup done
    std::size_t warnings = 0;               // warnings logged: cleanups that failed
    std::optional<std::string> first_warning;
    long peak_rss_kib = 0;
    std::optional<std::string> error;  // the harness or a call failed: no figures
};

// Uses `latency`'s repetitions, rounds, warm-up and time bound.
std::vector<ConntrackCell> run_conntrack(const ConntrackOptions& options, const LatencyOptions& latency);

// Its renderings (conntrack_cleanup_report.cpp).
void print_conntrack(std::ostream& out, const std::vector<ConntrackCell>& cells);
nlohmann::json conntrack_json(const std::vector<ConntrackCell>& cells);
std::vector<Target> conntrack_targets(const std::vector<ConntrackCell>& cells);

}  // namespace bench
