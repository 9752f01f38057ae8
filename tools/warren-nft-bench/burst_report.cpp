// SPDX-License-Identifier: Apache-2.0
// The burst mode's renderings: text, JSON and the goal of docs/performance.md (10,000 concurrent
// one-port publishes through AsyncHostPortPublisher at least 4x faster than one after the other).
#include "burst.hpp"

#include <cstdio>

namespace bench {
namespace {

constexpr double goal_ratio = 4;
constexpr std::size_t goal_tasks = 10000;

struct Medians {
    double publish_seconds = 0, unpublish_seconds = 0;
};

bool measured(const BurstSide& side) { return !side.publish_seconds.empty() && !side.unpublish_seconds.empty(); }

Medians medians(const BurstSide& side) { return {median(side.publish_seconds), median(side.unpublish_seconds)}; }

bool both_measured(const BurstResult& r) { return measured(r.sync) && measured(r.async); }

double microseconds_per_request(double seconds, std::size_t tasks) { return seconds * 1e6 / double(tasks); }

std::string batches_text(const std::vector<std::uint64_t>& batches)
{
    if (batches.empty())
        return "transactions not counted";
    std::vector<double> sample(batches.begin(), batches.end());
    const auto typical = median(sample);
    return with_thousands(typical) + (typical == 1 ? " transaction" : " transactions");
}

nlohmann::json side_json(const BurstSide& side, std::size_t tasks)
{
    nlohmann::json j = {{"publish_seconds", side.publish_seconds}, {"unpublish_seconds", side.unpublish_seconds}};
    if (measured(side)) {
        const auto m = medians(side);
        j["publish_median_seconds"] = m.publish_seconds;
        j["unpublish_median_seconds"] = m.unpublish_seconds;
        j["publish_median_us_per_request"] = microseconds_per_request(m.publish_seconds, tasks);
        j["unpublish_median_us_per_request"] = microseconds_per_request(m.unpublish_seconds, tasks);
    }
    if (!side.publish_batches.empty())
        j["publish_batches"] = side.publish_batches;
    if (!side.unpublish_batches.empty())
        j["unpublish_batches"] = side.unpublish_batches;
    return j;
}

}  // namespace

void print_burst(std::ostream& out, const BurstResult& r)
{
    const auto tasks = r.options.tasks;
    out << "\nburst: " << with_thousands(double(tasks))
        << " one-port tasks published from an empty table, then unpublished: one after the other on a\n"
           "HostPortPublisher (sync), all at once from one io_context thread through AsyncHostPortPublisher (async);\n"
           "median of "
        << r.sync.publish_seconds.size() << " and " << r.async.publish_seconds.size()
        << " rounds, each side of a round in a fresh namespace\n";
    if (both_measured(r)) {
        const auto sync = medians(r.sync);
        const auto async = medians(r.async);
        char line[256];
        std::snprintf(line, sizeof line, "%-10s %10s %12s | %10s %12s | %10s  %s\n", "", "sync s", "us/request", "async s",
                      "us/request", "sync/async", "async transactions");
        out << line;
        for (const auto& [label, s, a, batches] :
             {std::tuple{"publish", sync.publish_seconds, async.publish_seconds, &r.async.publish_batches},
              std::tuple{"unpublish", sync.unpublish_seconds, async.unpublish_seconds, &r.async.unpublish_batches}}) {
            std::snprintf(line, sizeof line, "%-10s %10.3f %12.1f | %10.3f %12.1f | %9.1fx  %s\n", label, s,
                          microseconds_per_request(s, tasks), a, microseconds_per_request(a, tasks), s / a,
                          batches_text(*batches).c_str());
            out << line;
        }
    }
    if (r.error)
        out << "FAILED: " << *r.error << "\n";
}

nlohmann::json burst_json(const BurstResult& r)
{
    nlohmann::json j = {{"tasks", r.options.tasks},
                        {"ports_per_task", 1},
                        {"requested_rounds", r.options.rounds},
                        {"sync", side_json(r.sync, r.options.tasks)},
                        {"async", side_json(r.async, r.options.tasks)},
                        {"error", optional_text(r.error)}};
    if (both_measured(r)) {
        const auto sync = medians(r.sync);
        const auto async = medians(r.async);
        j["publish_ratio_sync_to_async"] = sync.publish_seconds / async.publish_seconds;
        j["unpublish_ratio_sync_to_async"] = sync.unpublish_seconds / async.unpublish_seconds;
    }
    return j;
}

std::vector<Target> burst_targets(const BurstResult& r)
{
    // The goal is stated for bursts of 10,000: a small burst pays the first transaction's table
    // creation over few requests.
    if (r.options.tasks < goal_tasks || !both_measured(r))
        return {};
    const auto sync = medians(r.sync).publish_seconds;
    const auto async = medians(r.async).publish_seconds;
    return {{"burst: " + with_thousands(double(r.options.tasks)) +
                 " concurrent one-port publishes (AsyncHostPortPublisher) >= 4x faster than one after the other (sync)",
             format("%.3f", sync) + " vs " + format("%.3f", async) + " s = " + format("%.1fx", sync / async),
             sync / async >= goal_ratio && !r.error}};
}

}  // namespace bench
