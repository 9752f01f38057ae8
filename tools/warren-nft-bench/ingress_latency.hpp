// SPDX-License-Identifier: Apache-2.0
// Ingress mode: the latency of the four changes of an ingress service (docs/ingress.md) while N
// other ingress services are published: publish_ingress() of a 1-port TCP service with B backends
// (add), publish_ingress() again with one backend replaced (replace), drain_backend() of another
// (drain), unpublish_ports() (remove). Each (B, N) cell is measured in the latency mode's rounds
// (its --reps, --rounds, --warmup, --max-seconds), each part in a fresh child and namespace.
#pragma once

#include "format.hpp"
#include "ingress_fillers.hpp"
#include "latency.hpp"
#include "stats.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bench {

struct IngressOptions {
    // Backends of the measured service: at least 2 (draining needs another active backend), at
    // most 4,096 (a wide port's slots: docs/ingress.md, "Wide ports"); 1,000 is a wide port.
    std::vector<std::size_t> backends{2, 16, 256, 1000};
    // Other ingress services published before timing: one TCP port and one backend each (every
    // ingress port holds its 256 slots whatever its backends).
    std::vector<std::size_t> services{1, 100, 1000, 10000};
};

inline constexpr std::size_t min_ingress_backends = 2;
inline constexpr std::size_t max_ingress_backends = 4096;

struct IngressCell {
    std::size_t backends = 0;
    std::size_t services = 0;
    std::size_t requested_repetitions = 0;
    std::size_t repetitions = 0;
    std::size_t warmup = 0;
    std::size_t rounds = 0;
    bool time_bounded = false;
    std::optional<std::string> error;  // a part failed: no figures
    Percentiles add_us, replace_us, drain_us, remove_us;
    long peak_rss_kib = 0;
};

// The four timed operations, in the order they run: their names in every rendering.
inline constexpr const char* ingress_operations[] = {"add", "replace", "drain", "remove"};

// Must be called in a namespace of the caller's own (sandbox::enter_sandbox() done), single-threaded.
std::vector<IngressCell> run_ingress(const IngressOptions& options, const LatencyOptions& latency);

// Its renderings (ingress_report.cpp).
void print_ingress(std::ostream& out, const std::vector<IngressCell>& cells);
nlohmann::json ingress_json(const std::vector<IngressCell>& cells);

}  // namespace bench
