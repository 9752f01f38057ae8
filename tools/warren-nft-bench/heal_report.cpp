// SPDX-License-Identifier: Apache-2.0
// The heal mode's renderings: text rows, JSON and the goals in docs/performance.md (traffic flows again within
// 100 ms of the damaging commit, p50 under 20 ms, at every table size).
#include "heal.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace bench {
namespace {

constexpr double goal_max_ms = 100;
constexpr double goal_p50_ms = 20;

std::string ms(const std::optional<Percentiles>& p, double Percentiles::*field)
{
    return p ? format("%.1f", p.value().*field) : std::string("-");
}

std::string size_text(std::size_t table_size) { return with_thousands(double(table_size)); }

bool ran(const HealCell& c) { return !c.skipped && !c.error; }

}  // namespace

void print_heal(std::ostream& out, const std::vector<HealCell>& cells)
{
    if (cells.empty())
        return;
    out << "\nheal: another process damages table ip warren (nft -f -) while a self-healing publisher runs;\n"
           "milliseconds from the damaging commit (as the kernel announced it) until a new TCP connection through\n"
           "the published port echoes again (outage), and until the repair's commit; on_repair: RepairReport::duration\n";
    char line[256];
    std::snprintf(line, sizeof line, "%-15s %7s %7s | %7s %7s %7s | %7s %7s | %7s %7s %7s\n", "damage", "table", "healed",
                  "outage", "p90", "max", "commit", "max", "repairs", "p50", "max");
    out << line;
    for (const auto& c : cells) {
        std::snprintf(line, sizeof line, "%-15s %7s ", c.damage.c_str(), size_text(c.table_size).c_str());
        out << line;
        if (!ran(c)) {
            out << (c.skipped ? "skipped: " + *c.skipped : "FAILED: " + *c.error) << "\n";
            continue;
        }
        const auto healed = std::to_string(c.healed) + "/" + std::to_string(c.rounds);
        std::snprintf(line, sizeof line, "%7s | %7s %7s %7s | %7s %7s | %7zu %7s %7s\n", healed.c_str(),
                      ms(c.outage_ms, &Percentiles::p50).c_str(), ms(c.outage_ms, &Percentiles::p90).c_str(),
                      ms(c.outage_ms, &Percentiles::max).c_str(), ms(c.repair_commit_ms, &Percentiles::p50).c_str(),
                      ms(c.repair_commit_ms, &Percentiles::max).c_str(), c.repair_reports,
                      ms(c.repair_report_ms, &Percentiles::p50).c_str(), ms(c.repair_report_ms, &Percentiles::max).c_str());
        out << line;
    }
    for (const auto& c : cells) {
        if (!ran(c))
            continue;
        const auto where = "  " + c.damage + " at " + size_text(c.table_size) + ": ";
        if (c.first_problem)
            out << where << c.rounds - c.healed << " not healed within " << c.timeout.count() << " ms, " << c.incomplete
                << " incomplete; first: " << *c.first_problem << (c.stopped ? "; " + *c.stopped : "") << "\n";
        if (c.failed_repairs > 0)
            out << where << c.failed_repairs << " repairs failed, first: " << c.first_repair_error.value_or("?") << "\n";
        if (c.skipped_ports > 0)
            out << where << c.skipped_ports << " ports not restored: another owner holds them\n";
        if (c.announcements_lost)
            out << where << "some commit announcements were lost (ENOBUFS): those clocks started at nft's exit\n";
    }
    if (std::any_of(cells.begin(), cells.end(), [](const HealCell& c) { return ran(c) && !c.monitor_realtime; }))
        out << "  the commit monitor could not run at a real-time priority here: on a busy machine its clock may\n"
               "  start late, which shortens the outages measured\n";
    // What the library said it repaired, once per damage kind.
    std::map<std::string, std::string> said;
    for (const auto& c : cells)
        if (ran(c) && c.reported_damage && !said.contains(c.damage))
            said[c.damage] = *c.reported_damage;
    for (const auto& [damage, text] : said)
        out << "  on_repair after " << damage << ": \"" << text << "\"\n";
}

nlohmann::json heal_json(const std::vector<HealCell>& cells)
{
    auto rows = nlohmann::json::array();
    for (const auto& c : cells) {
        nlohmann::json row = {{"damage", c.damage},
                              {"command", c.command},
                              {"table_size", c.table_size},
                              {"requested_rounds", c.requested_rounds},
                              {"timeout_ms", c.timeout.count()},
                              {"skipped", optional_text(c.skipped)},
                              {"error", optional_text(c.error)}};
        if (ran(c)) {
            row.update({{"rounds", c.rounds},
                        {"healed", c.healed},
                        {"not_healed", c.rounds - c.healed},
                        {"incomplete", c.incomplete},
                        {"stopped", optional_text(c.stopped)},
                        {"first_problem", optional_text(c.first_problem)},
                        {"announcements_lost", c.announcements_lost},
                        {"monitor_realtime", c.monitor_realtime}});
            put_percentiles(row, "outage_ms", c.outage_ms);
            put_percentiles(row, "repair_commit_ms", c.repair_commit_ms);
            nlohmann::json repairs = {{"reports", c.repair_reports},
                                      {"failed", c.failed_repairs},
                                      {"most_ports_restored", c.most_ports_restored},
                                      {"layout_restored", c.layout_restored},
                                      {"skipped_ports", c.skipped_ports},
                                      {"damage", optional_text(c.reported_damage)},
                                      {"first_error", optional_text(c.first_repair_error)}};
            put_percentiles(repairs, "duration_ms", c.repair_report_ms);
            row["on_repair"] = repairs;
        }
        rows.push_back(row);
    }
    return rows;
}

std::vector<Target> heal_targets(const std::vector<HealCell>& cells)
{
    std::vector<std::size_t> sizes;
    for (const auto& c : cells)
        if (!c.skipped && std::find(sizes.begin(), sizes.end(), c.table_size) == sizes.end())
            sizes.push_back(c.table_size);
    std::vector<Target> out;
    for (const auto size : sizes) {
        // The worst damage kind decides: every round of every kind must have healed within the goal.
        std::size_t rounds = 0, requested = 0, healed = 0, incomplete = 0, failed_kinds = 0;
        const HealCell *slowest = nullptr, *slowest_median = nullptr;
        for (const auto& c : cells) {
            if (c.table_size != size || c.skipped)
                continue;
            requested += c.requested_rounds;
            if (c.error) {
                ++failed_kinds;
                continue;
            }
            rounds += c.rounds;
            healed += c.healed;
            incomplete += c.incomplete;
            if (!c.outage_ms)
                continue;
            if (!slowest || c.outage_ms->max > slowest->outage_ms->max)
                slowest = &c;
            if (!slowest_median || c.outage_ms->p50 > slowest_median->outage_ms->p50)
                slowest_median = &c;
        }
        const bool all_healed = healed == requested && incomplete == 0;
        auto rounds_text = std::to_string(healed) + " of " + std::to_string(rounds) + " rounds healed";
        if (rounds < requested)
            rounds_text += " (" + std::to_string(requested) + " asked)";
        if (incomplete > 0)
            rounds_text += ", " + std::to_string(incomplete) + " incomplete";
        if (failed_kinds > 0)
            rounds_text += ", " + std::to_string(failed_kinds) + " kinds failed";
        const auto at = ", every damage kind, N=" + size_text(size);
        out.push_back(
            {"heal: traffic flows again within 100 ms of the damaging commit" + at,
             (slowest ? "worst " + format("%.1f ms", slowest->outage_ms->max) + " (" + slowest->damage + "); " : std::string()) +
                 rounds_text,
             all_healed && slowest && slowest->outage_ms->max <= goal_max_ms});
        out.push_back({"heal: outage p50 under 20 ms" + at,
                       (slowest_median ? "worst p50 " + format("%.1f ms", slowest_median->outage_ms->p50) + " (" +
                                             slowest_median->damage + "); "
                                       : std::string()) +
                           rounds_text,
                       all_healed && slowest_median && slowest_median->outage_ms->p50 < goal_p50_ms});
    }
    return out;
}

}  // namespace bench
