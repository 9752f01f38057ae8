// SPDX-License-Identifier: Apache-2.0
// The ingress mode's renderings: a row of p50s per (B, N) and, per B, each operation's p50 at the
// largest N over its p50 at the smallest (the design's goal: flat in N).
#include "ingress_latency.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <utility>

namespace bench {
namespace {

const Percentiles& figures(const IngressCell& cell, std::size_t operation)
{
    const Percentiles* all[] = {&cell.add_us, &cell.replace_us, &cell.drain_us, &cell.remove_us};
    return *all[operation];
}

// The measured cells of `backends` services with the fewest and the most other services, when they
// differ.
std::optional<std::pair<const IngressCell*, const IngressCell*>> extremes(const std::vector<IngressCell>& cells,
                                                                          std::size_t backends)
{
    const IngressCell *smallest = nullptr, *largest = nullptr;
    for (const auto& cell : cells) {
        if (cell.backends != backends || cell.error)
            continue;
        if (!smallest || cell.services < smallest->services)
            smallest = &cell;
        if (!largest || cell.services > largest->services)
            largest = &cell;
    }
    if (!smallest || smallest == largest)
        return std::nullopt;
    return std::pair{smallest, largest};
}

std::vector<std::size_t> backend_counts(const std::vector<IngressCell>& cells)
{
    std::vector<std::size_t> counts;
    for (const auto& cell : cells)
        if (std::find(counts.begin(), counts.end(), cell.backends) == counts.end())
            counts.push_back(cell.backends);
    return counts;
}

}  // namespace

void print_ingress(std::ostream& out, const std::vector<IngressCell>& cells)
{
    if (cells.empty())
        return;
    out << "\ningress: a 1-port TCP ingress service with B backends (256 slots, 4,096 over 256 backends), while N other\n"
           "ingress services (1 port, 1 backend, 256 slots each) are published: publish_ingress (add), publish_ingress with\n"
           "one backend replaced (replace),\n"
           "drain_backend of another (drain), unpublish_ports (remove); p50 and p90 in microseconds\n";
    char line[256];
    std::snprintf(line, sizeof line, "%4s %7s %5s | %9s %9s | %9s %9s | %9s %9s | %9s %9s\n", "B", "N", "reps", "add p50", "p90",
                  "repl p50", "p90", "drain p50", "p90", "rm p50", "p90");
    out << line;
    for (const auto& c : cells) {
        std::snprintf(line, sizeof line, "%4zu %7s ", c.backends, with_thousands(double(c.services)).c_str());
        out << line;
        if (c.error) {
            out << "FAILED: " << *c.error << "\n";
            continue;
        }
        std::snprintf(line, sizeof line, "%5zu", c.repetitions);
        out << line;
        for (std::size_t op = 0; op < std::size(ingress_operations); ++op) {
            std::snprintf(line, sizeof line, " | %9.1f %9.1f", figures(c, op).p50, figures(c, op).p90);
            out << line;
        }
        out << (c.time_bounded ? "  (time-bounded)\n" : "\n");
    }
    for (const auto backends : backend_counts(cells))
        if (const auto pair = extremes(cells, backends)) {
            const auto& [small, large] = *pair;
            out << "B=" << backends << ": p50 at N=" << with_thousands(double(large->services))
                << " / p50 at N=" << with_thousands(double(small->services)) << ":";
            for (std::size_t op = 0; op < std::size(ingress_operations); ++op)
                out << " " << ingress_operations[op] << " " << format("%.2fx", figures(*large, op).p50 / figures(*small, op).p50);
            out << "\n";
        }
}

nlohmann::json ingress_json(const std::vector<IngressCell>& cells)
{
    nlohmann::json j = {{"cells", nlohmann::json::array()}, {"ratios", nlohmann::json::array()}};
    for (const auto& c : cells) {
        nlohmann::json cell = {{"backends", c.backends},
                               {"services", c.services},
                               {"requested_repetitions", c.requested_repetitions},
                               {"repetitions", c.repetitions},
                               {"warmup", c.warmup},
                               {"rounds", c.rounds},
                               {"time_bounded", c.time_bounded},
                               {"error", optional_text(c.error)}};
        if (!c.error) {
            for (std::size_t op = 0; op < std::size(ingress_operations); ++op)
                cell[std::string(ingress_operations[op]) + "_us"] = percentiles_json(figures(c, op));
            cell["peak_rss_kib"] = c.peak_rss_kib;
        }
        j["cells"].push_back(cell);
    }
    for (const auto backends : backend_counts(cells))
        if (const auto pair = extremes(cells, backends)) {
            const auto& [small, large] = *pair;
            nlohmann::json ratio = {
                {"backends", backends}, {"smallest_services", small->services}, {"largest_services", large->services}};
            for (std::size_t op = 0; op < std::size(ingress_operations); ++op)
                ratio[std::string(ingress_operations[op]) + "_p50_ratio"] = figures(*large, op).p50 / figures(*small, op).p50;
            j["ratios"].push_back(ratio);
        }
    return j;
}

}  // namespace bench
