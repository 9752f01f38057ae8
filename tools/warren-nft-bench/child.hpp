// SPDX-License-Identifier: Apache-2.0
// Every measurement runs in a forked child in a brand-new network namespace: nothing carries over
// from one measurement to the next (kernel state, caches, heap), and the child's peak RSS is its own.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>

namespace bench {

// Runs `measure` in a forked child inside a fresh network namespace (with `lo` up) and returns the
// JSON it returned. Throws std::runtime_error with the child's error when it fails or outlives
// `timeout` (then it is killed). The caller must be single-threaded.
nlohmann::json run_in_fresh_child(const std::function<nlohmann::json()>& measure, std::chrono::seconds timeout);

// Peak resident set of the calling process and of its largest waited-for child process, in KiB.
long peak_rss_kib();
long children_peak_rss_kib();
// Current resident set of the calling process in bytes, after returning freed heap to the system.
std::size_t current_rss_bytes();

}  // namespace bench
