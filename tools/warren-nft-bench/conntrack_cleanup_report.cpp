// SPDX-License-Identifier: Apache-2.0
// The conntrack mode's renderings: text rows, JSON and its targets (docs/performance.md: cleaning up conntrack
// entries must not make a publish's cost grow with the table; checked as the flat latency target is,
// the largest table within 1.5x of the smallest).
#include "conntrack_cleanup.hpp"

#include <algorithm>
#include <cstdio>

namespace bench {
namespace {

constexpr double flat_ratio = 1.5;

const ConntrackCell* find_cell(const std::vector<ConntrackCell>& cells, std::size_t flows, bool cleanup)
{
    for (const auto& cell : cells)
        if (cell.flows == flows && cell.cleanup == cleanup && !cell.error)
            return &cell;
    return nullptr;
}

// p50 with the cleanup / p50 without, at the same number of flows.
std::optional<std::pair<double, double>> ratios_to_off(const std::vector<ConntrackCell>& cells, const ConntrackCell& on)
{
    const auto* off = find_cell(cells, on.flows, false);
    if (!on.cleanup || on.error || !off)
        return std::nullopt;
    return std::pair{on.publish_us.p50 / off->publish_us.p50, on.unpublish_us.p50 / off->unpublish_us.p50};
}

std::string flows_text(std::size_t flows) { return with_thousands(double(flows)); }

std::string ratio_text(double ratio) { return ratio < 100 ? format("%.2fx", ratio) : with_thousands(ratio) + "x"; }

}  // namespace

void print_conntrack(std::ostream& out, const std::vector<ConntrackCell>& cells)
{
    if (cells.empty())
        return;
    std::size_t buckets = 0;
    for (const auto& c : cells)
        buckets = std::max(buckets, c.buckets);
    out << "\nconntrack cleanup: warren-nft publish then unpublish of a 1-port UDP service with\n"
           "PublisherOptions::conntrack_cleanup off and on, while the namespace's conntrack table holds N unrelated\n"
           "tracked flows (in a hash table of "
        << (buckets ? with_thousands(double(buckets)) : std::string("?"))
        << " buckets shared by every namespace); forget: ConntrackTable::forget()\n"
           "of the service's port alone; microseconds\n";
    char line[256];
    std::snprintf(line, sizeof line, "%9s %-7s %7s | %9s %9s | %9s %9s | %8s %8s | %9s %9s | %s\n", "flows", "cleanup", "reps",
                  "pub p50", "p90", "unpub p50", "p90", "on/off", "unpub", "forget", "p90", "warnings");
    out << line;
    for (const auto& c : cells) {
        std::snprintf(line, sizeof line, "%9s %-7s ", flows_text(c.flows).c_str(), c.cleanup ? "on" : "off");
        out << line;
        if (c.error) {
            out << "FAILED: " << *c.error << "\n";
            continue;
        }
        const auto ratios = ratios_to_off(cells, c);
        const auto reps = std::to_string(c.repetitions) + (c.time_bounded ? "*" : "");
        std::snprintf(line, sizeof line, "%7s | %9s %9s | %9s %9s | %8s %8s | %9s %9s | %zu\n", reps.c_str(),
                      with_thousands(c.publish_us.p50).c_str(), with_thousands(c.publish_us.p90).c_str(),
                      with_thousands(c.unpublish_us.p50).c_str(), with_thousands(c.unpublish_us.p90).c_str(),
                      ratios ? ratio_text(ratios->first).c_str() : "", ratios ? ratio_text(ratios->second).c_str() : "",
                      c.forget_us ? with_thousands(c.forget_us->p50).c_str() : "",
                      c.forget_us ? with_thousands(c.forget_us->p90).c_str() : "", c.warnings);
        out << line;
    }
    for (const auto& c : cells)
        if (!c.error && c.settled_us)
            out << "  " << flows_text(c.flows) << " flows: a publish's cleanup done (on the publisher's thread) after p50 "
                << with_thousands(c.settled_us->p50) << " us, p90 " << with_thousands(c.settled_us->p90) << " us\n";
    for (const auto& c : cells) {
        if (c.error)
            continue;
        const auto where = "  " + flows_text(c.flows) + " flows, cleanup " + (c.cleanup ? "on" : "off") + ": ";
        if (c.tracked < c.flows)
            out << where << "the table held only " << c.tracked << " entries\n";
        if (c.warnings > 0)
            out << where << c.warnings << " cleanups failed, first: " << c.first_warning.value_or("?") << "\n";
    }
}

nlohmann::json conntrack_json(const std::vector<ConntrackCell>& cells)
{
    auto rows = nlohmann::json::array();
    for (const auto& c : cells) {
        nlohmann::json row = {{"flows", c.flows},   {"cleanup", c.cleanup}, {"requested_repetitions", c.requested_repetitions},
                              {"rounds", c.rounds}, {"warmup", c.warmup},   {"error", optional_text(c.error)}};
        if (!c.error) {
            row.update({{"repetitions", c.repetitions},
                        {"time_bounded", c.time_bounded},
                        {"tracked", c.tracked},
                        {"buckets", c.buckets},
                        {"publish_us", percentiles_json(c.publish_us)},
                        {"unpublish_us", percentiles_json(c.unpublish_us)},
                        {"warnings", c.warnings},
                        {"first_warning", optional_text(c.first_warning)},
                        {"peak_rss_kib", c.peak_rss_kib}});
            put_percentiles(row, "forget_us", c.forget_us);
            put_percentiles(row, "settled_us", c.settled_us);
            if (const auto ratios = ratios_to_off(cells, c)) {
                row["publish_p50_ratio_to_off"] = ratios->first;
                row["unpublish_p50_ratio_to_off"] = ratios->second;
            }
        }
        rows.push_back(row);
    }
    return rows;
}

std::vector<Target> conntrack_targets(const std::vector<ConntrackCell>& cells)
{
    std::vector<std::size_t> counts;
    for (const auto& c : cells)
        counts.push_back(c.flows);
    if (counts.empty())
        return {};
    const auto fewest = *std::min_element(counts.begin(), counts.end());
    const auto most = *std::max_element(counts.begin(), counts.end());
    const auto* small = find_cell(cells, fewest, true);
    const auto* large = find_cell(cells, most, true);
    if (!small || !large || most == fewest)
        return {};
    std::vector<Target> out;
    for (const auto& [label, field] :
         {std::pair{"publish", &ConntrackCell::publish_us}, std::pair{"unpublish", &ConntrackCell::unpublish_us}}) {
        const auto r = (large->*field).p50 / (small->*field).p50;
        out.push_back(
            {std::string("flat: ") + label + " p50 with conntrack cleanup at " + flows_text(most) + " tracked flows <= 1.5x at " +
                 flows_text(fewest) + ", 1 UDP port",
             with_thousands((large->*field).p50) + " vs " + format("%.1f", (small->*field).p50) + " us = " + ratio_text(r),
             r <= flat_ratio});
    }
    return out;
}

}  // namespace bench
