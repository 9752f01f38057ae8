// SPDX-License-Identifier: Apache-2.0
// The foreign-writer mode's renderings: text rows, JSON and its target (docs/performance.md: publish
// p50 with a foreign writer within 2x of quiet).
#include "foreign_latency.hpp"

#include <cstdio>

namespace bench {
namespace {

constexpr double target_ratio = 2.0;

std::string period_text(std::chrono::microseconds period) { return format("%g ms", double(period.count()) / 1000); }

const ForeignWriterCell* find_cell(const std::vector<ForeignWriterCell>& cells, std::size_t table_size, bool busy)
{
    for (const auto& cell : cells)
        if (cell.table_size == table_size && cell.busy == busy && !cell.error)
            return &cell;
    return nullptr;
}

// Busy p50 / quiet p50 of the publish, when both have figures.
std::optional<double> publish_ratio(const std::vector<ForeignWriterCell>& cells, const ForeignWriterCell& busy)
{
    const auto* quiet = find_cell(cells, busy.table_size, false);
    if (!quiet || !quiet->publish_us || !busy.publish_us)
        return std::nullopt;
    return busy.publish_us->p50 / quiet->publish_us->p50;
}

std::string failures_text(const ForeignWriterCell& cell)
{
    const auto failed = cell.failed_publishes + cell.failed_unpublishes;
    if (failed == 0)
        return "";
    return std::to_string(cell.failed_publishes) + " publishes and " + std::to_string(cell.failed_unpublishes) +
           " unpublishes failed (" + std::to_string(cell.unfinished) + " unfinished), first: " + cell.first_failure.value_or("?");
}

}  // namespace

void print_foreign_writer(std::ostream& out, const std::vector<ForeignWriterCell>& cells)
{
    if (cells.empty())
        return;
    out << "\nforeign writer: warren-nft publish then unpublish of a " << cells.front().ports
        << "-port service while another process commits to its own table every " << period_text(cells.front().period)
        << " (busy) or not (quiet);\neach call 1 to 2 periods after the one before; microseconds\n";
    char line[256];
    std::snprintf(line, sizeof line, "%9s %-6s %9s | %9s %9s %9s %9s | %9s %9s %9s | %8s | %s\n", "table", "writer", "publishes",
                  "pub p50", "p90", "p99", "max", "unpub p50", "p90", "max", "failed", "writer commits/s");
    out << line;
    for (const auto& c : cells) {
        std::snprintf(line, sizeof line, "%9s %-6s ", with_thousands(double(c.table_size)).c_str(), c.busy ? "busy" : "quiet");
        out << line;
        if (c.error) {
            out << "FAILED: " << *c.error << "\n";
            continue;
        }
        const auto figure = [](const std::optional<Percentiles>& p, double Percentiles::*field) {
            return p ? with_thousands(p.value().*field) : std::string("-");
        };
        std::snprintf(
            line, sizeof line, "%9zu | %9s %9s %9s %9s | %9s %9s %9s | %8zu | %s\n", c.publishes,
            figure(c.publish_us, &Percentiles::p50).c_str(), figure(c.publish_us, &Percentiles::p90).c_str(),
            figure(c.publish_us, &Percentiles::p99).c_str(), figure(c.publish_us, &Percentiles::max).c_str(),
            figure(c.unpublish_us, &Percentiles::p50).c_str(), figure(c.unpublish_us, &Percentiles::p90).c_str(),
            figure(c.unpublish_us, &Percentiles::max).c_str(), c.failed_publishes + c.failed_unpublishes,
            c.busy && c.foreign_seconds > 0 ? format("%.0f", double(c.foreign_commits) / c.foreign_seconds).c_str() : "-");
        out << line;
    }
    for (const auto& c : cells)
        if (!c.error && c.failed_publishes + c.failed_unpublishes > 0)
            out << "  table " << with_thousands(double(c.table_size)) << " " << (c.busy ? "busy" : "quiet") << ": "
                << failures_text(c) << "\n";
}

nlohmann::json foreign_writer_json(const std::vector<ForeignWriterCell>& cells)
{
    auto rows = nlohmann::json::array();
    for (const auto& c : cells) {
        nlohmann::json row = {{"table_size", c.table_size},
                              {"writer", c.busy ? "busy" : "quiet"},
                              {"period_us", c.period.count()},
                              {"ports", c.ports},
                              {"requested_repetitions", c.requested_repetitions},
                              {"rounds", c.rounds},
                              {"warmup", c.warmup},
                              {"error", optional_text(c.error)}};
        if (!c.error) {
            row.update({{"publishes", c.publishes},
                        {"unpublishes", c.unpublishes},
                        {"failed_publishes", c.failed_publishes},
                        {"failed_unpublishes", c.failed_unpublishes},
                        {"unfinished", c.unfinished},
                        {"first_failure", optional_text(c.first_failure)},
                        {"peak_rss_kib", c.peak_rss_kib}});
            put_percentiles(row, "publish_us", c.publish_us);
            put_percentiles(row, "unpublish_us", c.unpublish_us);
            if (c.busy) {
                row["foreign_commits"] = c.foreign_commits;
                row["foreign_seconds"] = c.foreign_seconds;
                if (const auto ratio = publish_ratio(cells, c))
                    row["publish_p50_ratio_to_quiet"] = *ratio;
            }
        }
        rows.push_back(row);
    }
    return rows;
}

std::vector<Target> foreign_writer_targets(const std::vector<ForeignWriterCell>& cells)
{
    std::vector<Target> out;
    for (const auto& busy : cells) {
        if (!busy.busy || busy.error)
            continue;
        const auto* quiet = find_cell(cells, busy.table_size, false);
        if (!quiet)
            continue;
        const auto what = "warren-nft publish p50 with a foreign writer every " + period_text(busy.period) +
                          " within 2x of quiet, " + std::to_string(busy.ports) +
                          " ports, N=" + with_thousands(double(busy.table_size));
        const auto ratio = publish_ratio(cells, busy);
        std::string measured;
        if (ratio)
            measured = format("%.1f", busy.publish_us->p50) + " vs " + format("%.1f", quiet->publish_us->p50) +
                       " us = " + format("%.2fx", *ratio);
        else
            measured = busy.publish_us ? "no quiet figure" : "no publish succeeded";
        const auto failed = busy.failed_publishes + busy.failed_unpublishes;
        if (failed > 0)
            measured += "; " + std::to_string(failed) + " calls failed";
        out.push_back({what, measured, ratio && *ratio <= target_ratio && failed == 0});
    }
    return out;
}

}  // namespace bench
