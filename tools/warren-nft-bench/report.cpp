// SPDX-License-Identifier: Apache-2.0
#include "report.hpp"

#include "format.hpp"
#include "netns.hpp"
#include "plain_comparison.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace bench {
namespace {

std::string first_value(const std::string& path, const std::string& key)
{
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(key)) {
            auto value = line.substr(line.find_first_of(":=", key.size()) + 1);
            value.erase(0, value.find_first_not_of(" \t\""));
            while (!value.empty() && (value.back() == '"' || value.back() == ' '))
                value.pop_back();
            return value;
        }
    return "unknown";
}

// Whether any cell of a mode that ran failed.
template <class Cell>
bool any_failed(const std::optional<std::vector<Cell>>& cells)
{
    return cells && std::any_of(cells->begin(), cells->end(), [](const Cell& c) { return c.error.has_value(); });
}

// warren-nft's publish p50 beside the floor's for the same service and table size: the 2x target
// of docs/performance.md, for IPv4 and for dual stack.
struct FloorComparison {
    std::size_t table_size;
    double ours_us, floor_us;
    double ratio() const { return ours_us / floor_us; }
    bool met() const { return ratio() <= 2.0; }
};

std::optional<FloorComparison> compare_with_floor(const std::vector<LatencyCell>& cells, std::size_t ports,
                                                  std::size_t table_size)
{
    const auto* ours = find_cell(cells, "warren-nft", ports, table_size);
    const auto* floor = find_cell(cells, "floor", ports, table_size);
    if (!ours || !floor)
        return std::nullopt;
    return FloorComparison{table_size, ours->publish_us.p50, floor->publish_us.p50};
}

std::vector<std::size_t> table_sizes(const std::vector<LatencyCell>& cells)
{
    std::vector<std::size_t> sizes;
    for (const auto& cell : cells)
        sizes.push_back(cell.table_size);
    std::sort(sizes.begin(), sizes.end());
    sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
    return sizes;
}

// Every table size's comparison, for the tasks of a family other than IPv4: the target asks for
// the dual-stack publish within 2x of the floor at any size, not only at the ends.
std::vector<FloorComparison> floor_comparisons(const std::vector<LatencyCell>& cells)
{
    std::vector<FloorComparison> out;
    for (const auto n : table_sizes(cells))
        if (const auto comparison = compare_with_floor(cells, latency_target_ports, n))
            out.push_back(*comparison);
    return out;
}

AddressFamily family_of(const std::vector<LatencyCell>& cells)
{
    return cells.empty() ? AddressFamily::ipv4 : cells.front().family;
}

// The targets of docs/performance.md, evaluated where this run has the figures; for IPv6
// or dual-stack tasks, named so, and the dual-stack floor target at every table size.
std::vector<Target> targets(const Report& report)
{
    std::vector<Target> out;
    auto ratio_text = [](double ratio) { return format("%.2fx", ratio); };
    if (report.latency && !report.latency->empty()) {
        const auto& cells = *report.latency;
        const auto family = family_of(cells);
        const auto of_family = family == AddressFamily::ipv4 ? std::string() : std::string(display(family)) + " tasks: ";
        const auto sizes = table_sizes(cells);
        const auto smallest = sizes.front();
        const auto largest = sizes.back();
        const std::size_t ports = latency_target_ports;
        auto floor_target = [&](const FloorComparison& c) {
            out.push_back(
                {of_family + "warren-nft publish p50 within 2x of floor, 3 ports, N=" + with_thousands(double(c.table_size)),
                 format("%.1f", c.ours_us) + " vs " + format("%.1f", c.floor_us) + " us = " + ratio_text(c.ratio()), c.met()});
        };
        if (family != AddressFamily::ipv4)
            for (const auto& comparison : floor_comparisons(cells))
                floor_target(comparison);
        for (const auto n : {smallest, largest}) {
            const auto* ours = find_cell(cells, "warren-nft", ports, n);
            if (family == AddressFamily::ipv4)
                if (const auto comparison = compare_with_floor(cells, ports, n))
                    floor_target(*comparison);
            const auto* forks = find_cell(cells, "iptables-fork", ports, n);
            const double needed = n >= 10000 ? 5000 : 1000;
            if (ours && forks && (n == 0 || n >= 10000))
                for (const auto& [label, theirs, mine] :
                     {std::tuple{"publish", forks->publish_us.p50, ours->publish_us.p50},
                      std::tuple{"unpublish", forks->unpublish_us.p50, ours->unpublish_us.p50}}) {
                    const auto r = theirs / mine;
                    out.push_back({of_family + "iptables-fork / warren-nft " + label + " p50 >= " + with_thousands(needed) +
                                       "x, 3 ports, N=" + with_thousands(double(n)),
                                   with_thousands(theirs) + " vs " + format("%.1f", mine) + " us = " + with_thousands(r) + "x",
                                   r >= needed});
                }
        }
        const auto* at_small = find_cell(cells, "warren-nft", ports, smallest);
        const auto* at_large = find_cell(cells, "warren-nft", ports, largest);
        if (at_small && at_large && largest > smallest) {
            const auto r = at_large->publish_us.p50 / at_small->publish_us.p50;
            out.push_back({of_family + "flat: warren-nft publish p50 at N=" + with_thousands(double(largest)) +
                               " <= 1.5x N=" + with_thousands(double(smallest)) + ", 3 ports",
                           format("%.1f", at_large->publish_us.p50) + " vs " + format("%.1f", at_small->publish_us.p50) +
                               " us = " + ratio_text(r),
                           r <= 1.5});
        }
    }
    if (report.bulk)
        for (const auto& b : *report.bulk) {
            if (b.error)
                continue;
            const auto shape = with_thousands(double(b.shape.tasks)) + " tasks x " + std::to_string(b.shape.ports_per_task);
            out.push_back(
                {"bulk publish of " + shape + " port(s) < 1 s", format("%.3f s", b.publish_seconds), b.publish_seconds < 1});
            out.push_back({"adoption of " + shape + " port(s) by a restarted publisher < 1 s", format("%.3f s", b.adopt_seconds),
                           b.adopt_seconds < 1});
        }
    // Issue 3 for host-mode ports, issue 17 for ingress services: the rate does not depend on the table.
    if (report.datapath)
        for (const auto* layout : {datapath_plain_layout, datapath_ingress_layout}) {
            const DatapathResult *small = nullptr, *large = nullptr;
            for (const auto& d : *report.datapath) {
                if (d.layout != layout || d.skipped || d.connections_per_second.empty())
                    continue;
                if (!small || d.table_size < small->table_size)
                    small = &d;
                if (!large || d.table_size > large->table_size)
                    large = &d;
            }
            if (small && large && small != large) {
                const auto r = large->median / small->median;
                out.push_back({"data path: " + std::string(layout) + " conn/s at N=" + with_thousands(double(large->table_size)) +
                                   " within 10% of N=" + with_thousands(double(small->table_size)),
                               with_thousands(large->median) + " vs " + with_thousands(small->median) + " = " + format("%.3f", r),
                               r >= 0.9});
            }
        }
    if (report.memory && !report.memory->error) {
        const auto& m = *report.memory;
        out.push_back({"memory: bookkeeping < 300 bytes per published port (publishing " + with_thousands(double(m.ports)) + ")",
                       format("%.0f B/port", m.publish_bytes_per_port()), m.publish_bytes_per_port() < 300});
        out.push_back({"memory: bookkeeping < 300 bytes per published port (adopting " + with_thousands(double(m.ports)) + ")",
                       format("%.0f B/port", m.adopt_bytes_per_port()), m.adopt_bytes_per_port() < 300});
    }
    for (auto&& more :
         {plain_comparison_targets(report.latency ? &*report.latency : nullptr, report.datapath ? &*report.datapath : nullptr),
          report.foreign_writer ? foreign_writer_targets(*report.foreign_writer) : std::vector<Target>{},
          report.heal ? heal_targets(*report.heal) : std::vector<Target>{},
          report.conntrack ? conntrack_targets(*report.conntrack) : std::vector<Target>{},
          report.burst ? burst_targets(*report.burst) : std::vector<Target>{}})
        out.insert(out.end(), more.begin(), more.end());
    return out;
}

}  // namespace

nlohmann::json describe_machine()
{
    utsname name{};
    uname(&name);
    return {{"kernel", name.release},
            {"cpu", first_value("/proc/cpuinfo", "model name")},
            {"cpus", sysconf(_SC_NPROCESSORS_ONLN)},
            {"memory_mib", sysconf(_SC_PHYS_PAGES) / 1024 * sysconf(_SC_PAGESIZE) / 1024},
            {"os", first_value("/etc/os-release", "PRETTY_NAME")},
            {"sandbox", sandbox::sandbox_description()}};
}

void print_latency_header(std::ostream& out, AddressFamily family)
{
    out << "latency in microseconds";
    if (family == AddressFamily::dual)
        out << ", dual-stack tasks (an IPv4 and an IPv6 address: every port in table ip warren and table ip6 warren)";
    else if (family == AddressFamily::ipv6)
        out << ", IPv6 tasks (every port in table ip6 warren)";
    out << "; each row: publish then unpublish, timed separately\n";
    char line[256];
    std::snprintf(line, sizeof line, "%-23s %5s %7s %7s | %9s %9s %9s %9s %9s | %9s %9s %9s %9s %9s | %8s\n", "method", "ports",
                  "table", "reps", "pub min", "p50", "p90", "p99", "max", "unpub min", "p50", "p90", "p99", "max", "rss MiB");
    out << line << std::flush;
}

void print_latency_row(std::ostream& out, const LatencyCell& cell)
{
    char head[64];
    std::snprintf(head, sizeof head, "%-23s %5zu %7s ", cell.method.c_str(), cell.ports,
                  with_thousands(double(cell.table_size)).c_str());
    out << head;
    if (cell.skipped || cell.error) {
        out << (cell.skipped ? "skipped: " + *cell.skipped : "FAILED: " + *cell.error) << "\n" << std::flush;
        return;
    }
    char line[256];
    const auto& p = cell.publish_us;
    const auto& u = cell.unpublish_us;
    const auto reps = std::to_string(cell.repetitions) + (cell.time_bounded ? "*" : "");
    std::snprintf(line, sizeof line, "%7s | %9.0f %9.0f %9.0f %9.0f %9.0f | %9.0f %9.0f %9.0f %9.0f %9.0f | %8.1f\n",
                  reps.c_str(), p.min, p.p50, p.p90, p.p99, p.max, u.min, u.p50, u.p90, u.p99, u.max,
                  double(std::max(cell.peak_rss_kib, cell.tool_peak_rss_kib)) / 1024);
    out << line << std::flush;
}

void print_text(std::ostream& out, const Report& report)
{
    if (report.latency &&
        std::any_of(report.latency->begin(), report.latency->end(), [](const auto& c) { return c.time_bounded; }))
        out << "* fewer repetitions than asked: --max-seconds bounded the cell\n";
    if (report.latency && family_of(*report.latency) != AddressFamily::ipv4) {
        const auto comparisons = floor_comparisons(*report.latency);
        out << "\n"
            << display(family_of(*report.latency))
            << ": publish p50 of a 3-port task, warren-nft beside floor (the same elements; target: within 2x)\n";
        if (comparisons.empty())
            out << "no table size has both figures (a method did not run or failed)\n";
        for (const auto& c : comparisons) {
            char line[160];
            std::snprintf(line, sizeof line, "N=%-7s warren-nft %8.1f us  floor %8.1f us  = %5.2fx  %s\n",
                          with_thousands(double(c.table_size)).c_str(), c.ours_us, c.floor_us, c.ratio(),
                          c.met() ? "met" : "MISSED");
            out << line;
        }
    }
    if (report.latency)
        print_variant_comparisons(out, *report.latency);
    if (report.bulk) {
        out << "\nbulk: publish tasks one after the other, then adopt them in a restarted publisher\n";
        for (const auto& b : report.bulk.value()) {
            char line[256];
            if (b.error)
                std::snprintf(line, sizeof line, "%7zu tasks x %2zu ports: FAILED: %s\n", b.shape.tasks, b.shape.ports_per_task,
                              b.error->c_str());
            else
                std::snprintf(line, sizeof line,
                              "%7zu tasks x %2zu ports: publish %7.3f s (%9.0f tasks/s), adopt %7.3f s (%9.0f tasks/s)\n",
                              b.shape.tasks, b.shape.ports_per_task, b.publish_seconds, double(b.shape.tasks) / b.publish_seconds,
                              b.adopt_seconds, double(b.shape.tasks) / b.adopt_seconds);
            out << line;
        }
    }
    if (report.datapath) {
        out << "\ndata path: new TCP connections per second through one published port (median of runs)\n";
        for (const auto& d : report.datapath.value()) {
            char head[96];
            std::snprintf(head, sizeof head, "%-18s table %7s: ", d.layout.c_str(), with_thousands(double(d.table_size)).c_str());
            out << head;
            if (d.skipped) {
                out << "skipped: " << *d.skipped << "\n";
                continue;
            }
            out << with_thousands(d.median) << " conn/s (runs:";
            for (const auto rate : d.connections_per_second)
                out << " " << with_thousands(rate);
            if (!d.fill_seconds.empty())
                out << "; table filled in at most "
                    << format("%.1f", *std::max_element(d.fill_seconds.begin(), d.fill_seconds.end())) << " s";
            out << ")";
            if (d.failed_connections > 0)
                out << "; " << d.failed_connections << " connections FAILED, e.g. " << d.first_failure;
            out << "\n";
        }
        print_datapath_comparisons(out, *report.datapath);
    }
    if (report.datapath_error)
        out << "\ndata path: FAILED: " << *report.datapath_error << "\n";
    if (report.memory) {
        const auto& m = report.memory.value();
        out << "\nmemory: resident set of the measuring process, tasks of " << m.ports_per_task << " port(s)\n";
        if (m.error)
            out << "FAILED: " << *m.error << "\n";
        else
            out << "publishing " << with_thousands(double(m.ports))
                << " ports: " << with_thousands(double(m.rss_before_publish) / 1024) << " -> "
                << with_thousands(double(m.rss_after_publish) / 1024) << " KiB = " << format("%.0f", m.publish_bytes_per_port())
                << " bytes/port\n"
                << "adopting them in a new publisher: " << with_thousands(double(m.rss_before_adopt) / 1024) << " -> "
                << with_thousands(double(m.rss_after_adopt) / 1024) << " KiB = " << format("%.0f", m.adopt_bytes_per_port())
                << " bytes/port\n";
    }
    if (report.foreign_writer)
        print_foreign_writer(out, *report.foreign_writer);
    if (report.heal)
        print_heal(out, *report.heal);
    if (report.conntrack)
        print_conntrack(out, *report.conntrack);
    if (report.burst)
        print_burst(out, *report.burst);
    if (report.ingress)
        print_ingress(out, *report.ingress);
    const auto checked = targets(report);
    if (!checked.empty()) {
        out << "\ntargets (docs/performance.md)\n";
        for (const auto& t : checked)
            out << (t.met ? "  met     " : "  MISSED  ") << t.what << ": " << t.measured << "\n";
    }
}

nlohmann::json to_json(const Report& report)
{
    nlohmann::json j = {{"tool", "warren-nft-bench"}, {"version", WARREN_NFT_BENCH_VERSION}, {"machine", report.machine}};
    if (report.latency) {
        j["latency"] = nlohmann::json::array();
        for (const auto& c : *report.latency) {
            nlohmann::json cell = {{"method", c.method},
                                   {"ports", c.ports},
                                   {"table_size", c.table_size},
                                   {"requested_repetitions", c.requested_repetitions},
                                   {"repetitions", c.repetitions},
                                   {"warmup", c.warmup},
                                   {"rounds", c.rounds},
                                   {"time_bounded", c.time_bounded},
                                   {"skipped", optional_text(c.skipped)},
                                   {"error", optional_text(c.error)}};
            if (c.family != AddressFamily::ipv4)  // absent: IPv4, as in runs before --family existed
                cell["family"] = std::string(to_string(c.family));
            if (!c.skipped && !c.error) {
                cell["publish_us"] = percentiles_json(c.publish_us);
                cell["unpublish_us"] = percentiles_json(c.unpublish_us);
                cell["peak_rss_kib"] = c.peak_rss_kib;
                cell["tool_peak_rss_kib"] = c.tool_peak_rss_kib;
            }
            j["latency"].push_back(cell);
        }
        j["latency_vs_plain"] = variant_comparisons_json(*report.latency);
    }
    if (report.bulk) {
        j["bulk"] = nlohmann::json::array();
        for (const auto& b : *report.bulk) {
            nlohmann::json row = {
                {"tasks", b.shape.tasks}, {"ports_per_task", b.shape.ports_per_task}, {"error", optional_text(b.error)}};
            if (!b.error) {
                row["publish_seconds"] = b.publish_seconds;
                row["publish_tasks_per_second"] = double(b.shape.tasks) / b.publish_seconds;
                row["adopt_seconds"] = b.adopt_seconds;
                row["adopt_tasks_per_second"] = double(b.shape.tasks) / b.adopt_seconds;
                row["adopted_ports"] = b.adopted_ports;
                row["peak_rss_kib"] = b.peak_rss_kib;
            }
            j["bulk"].push_back(row);
        }
    }
    if (report.datapath) {
        j["datapath"] = nlohmann::json::array();
        for (const auto& d : *report.datapath) {
            nlohmann::json row = {{"layout", d.layout}, {"table_size", d.table_size}, {"skipped", optional_text(d.skipped)}};
            if (!d.skipped) {
                row["connections_per_second"] = d.connections_per_second;
                row["fill_seconds"] = d.fill_seconds;
                row["median"] = d.median;
                row["failed_connections"] = d.failed_connections;
                row["first_failure"] = d.first_failure;
            }
            for (const auto& c : datapath_comparisons(*report.datapath))
                if (d.layout == datapath_policy_layout && c.table_size == d.table_size)
                    row["median_ratio_to_plain"] = c.ratio();
            j["datapath"].push_back(row);
        }
    }
    if (report.datapath_error)
        j["datapath_error"] = *report.datapath_error;
    if (report.memory) {
        const auto& m = *report.memory;
        j["memory"] = {{"ports", m.ports}, {"ports_per_task", m.ports_per_task}, {"error", optional_text(m.error)}};
        if (!m.error) {
            j["memory"]["rss_bytes"] = {{"before_publish", m.rss_before_publish},
                                        {"after_publish", m.rss_after_publish},
                                        {"before_adopt", m.rss_before_adopt},
                                        {"after_adopt", m.rss_after_adopt}};
            j["memory"]["publish_bytes_per_port"] = m.publish_bytes_per_port();
            j["memory"]["adopt_bytes_per_port"] = m.adopt_bytes_per_port();
        }
    }
    if (report.foreign_writer)
        j["foreign_writer"] = foreign_writer_json(*report.foreign_writer);
    if (report.heal)
        j["heal"] = heal_json(*report.heal);
    if (report.conntrack)
        j["conntrack"] = conntrack_json(*report.conntrack);
    if (report.burst)
        j["burst"] = burst_json(*report.burst);
    if (report.ingress)
        j["ingress"] = ingress_json(*report.ingress);
    j["targets"] = nlohmann::json::array();
    for (const auto& t : targets(report))
        j["targets"].push_back({{"target", t.what}, {"measured", t.measured}, {"met", t.met}});
    return j;
}

std::string to_csv(const std::vector<LatencyCell>& cells)
{
    std::ostringstream out;
    out << "method,ports,table_size,requested_repetitions,repetitions,time_bounded,"
           "publish_min_us,publish_p50_us,publish_p90_us,publish_p99_us,publish_max_us,"
           "unpublish_min_us,unpublish_p50_us,unpublish_p90_us,unpublish_p99_us,unpublish_max_us,"
           "peak_rss_kib,tool_peak_rss_kib,skipped,error\n";
    auto quoted = [](const std::optional<std::string>& text) {
        if (!text)
            return std::string();
        std::string q = "\"";
        for (const auto c : *text)
            q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
        return q + "\"";
    };
    for (const auto& c : cells) {
        out << c.method << "," << c.ports << "," << c.table_size << "," << c.requested_repetitions << "," << c.repetitions << ","
            << (c.time_bounded ? "true" : "false");
        const bool figures = !c.skipped && !c.error;
        for (const auto* p : {&c.publish_us, &c.unpublish_us})
            for (const auto v : {p->min, p->p50, p->p90, p->p99, p->max})
                out << "," << (figures ? format("%.1f", v) : "");
        out << "," << (figures ? std::to_string(c.peak_rss_kib) : "") << ","
            << (figures ? std::to_string(c.tool_peak_rss_kib) : "") << "," << quoted(c.skipped) << "," << quoted(c.error) << "\n";
    }
    return out.str();
}

bool has_errors(const Report& report)
{
    if (any_failed(report.latency) || any_failed(report.bulk) || any_failed(report.foreign_writer) || any_failed(report.heal) ||
        any_failed(report.conntrack) || any_failed(report.ingress) || report.datapath_error ||
        (report.burst && report.burst->error))
        return true;
    if (report.datapath)
        for (const auto& d : *report.datapath)
            if (d.failed_connections > 0)
                return true;
    return report.memory && report.memory->error;
}

}  // namespace bench
