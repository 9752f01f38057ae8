// SPDX-License-Identifier: Apache-2.0
#include "foreign_latency.hpp"

#include "child.hpp"
#include "foreign_writer.hpp"
#include "service.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t service_ports = 3;
// How long a timed call may still run after the part's time bound before it counts as unfinished.
constexpr std::chrono::seconds grace{1};

double microseconds_since(Clock::time_point start)
{
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// One part's timed calls so far, shared by the thread that makes them and the one that watches the
// clock: a call that never returns must not keep the part from reporting what it measured.
struct Progress {
    std::mutex mutex;
    std::condition_variable finished;
    std::vector<double> publish_us, unpublish_us;
    std::size_t failed_publishes = 0, failed_unpublishes = 0;
    std::optional<std::string> first_failure;
    const char* in_call = nullptr;  // the timed call running now, if any ("publish", "unpublish")
    Clock::time_point call_started;
    bool done = false;
};

// Everything the calling thread uses, owned jointly with the watcher: when a call is still running at
// the deadline, the part reports without it and the process exits around it.
struct Part {
    warren::nft::HostPortPublisher publisher;
    Task service = measured_service(service_ports);
    std::vector<warren::nft::PortMapping> mappings = port_mappings(service);
    Progress progress;

    void publish() { publisher.publish_ports(service.id, service.container_ip, mappings); }
    void unpublish() { publisher.unpublish_ports(service.id); }
};

// Times one call into `samples`; a failure is counted in `failures` instead. Returns whether it succeeded.
template <class Call>
bool timed(Progress& p, const char* what, std::vector<double>& samples, std::size_t& failures, Call&& call)
{
    {
        const std::lock_guard lock(p.mutex);
        p.in_call = what;
        p.call_started = Clock::now();
    }
    const auto start = Clock::now();
    std::optional<std::string> failure;
    try {
        call();
    } catch (const std::exception& e) {
        failure = e.what();
    }
    const auto us = microseconds_since(start);
    const std::lock_guard lock(p.mutex);
    p.in_call = nullptr;
    if (failure) {
        ++failures;
        if (!p.first_failure)
            p.first_failure = std::string(what) + ": " + *failure;
        return false;
    }
    samples.push_back(us);
    return true;
}

void timed_loop(Part& part, std::size_t repetitions, Clock::time_point bound, std::chrono::microseconds period)
{
    auto& p = part.progress;
    std::minstd_rand random(std::random_device{}());
    std::uniform_int_distribution<long> pause(period.count(), 2 * period.count());
    const auto pace = [&] { std::this_thread::sleep_for(std::chrono::microseconds(pause(random))); };
    for (std::size_t i = 0; i < repetitions && (i == 0 || Clock::now() < bound); ++i) {
        pace();
        if (!timed(p, "publish", p.publish_us, p.failed_publishes, [&] { part.publish(); }))
            continue;
        pace();
        if (timed(p, "unpublish", p.unpublish_us, p.failed_unpublishes, [&] { part.unpublish(); }))
            continue;
        // Untimed until it works: a publish of a service still published would send nothing.
        for (bool gone = false; !gone && Clock::now() < bound + grace;) {
            try {
                part.unpublish();
                gone = true;
            } catch (const std::exception&) {
            }
        }
    }
    const std::lock_guard lock(p.mutex);
    p.done = true;
    p.finished.notify_all();
}

// In the child: one part of a cell.
nlohmann::json measure(const ForeignWriterCell& cell, std::size_t repetitions, double max_seconds)
{
    // Forked first, while this process has no threads.
    std::optional<ForeignWriter> writer;
    if (cell.busy)
        writer.emplace(cell.period);
    auto part = std::make_shared<Part>();
    for (const auto& task : filler_tasks(cell.table_size))
        part->publisher.publish_ports(task.id, task.container_ip, port_mappings(task));
    for (std::size_t i = 0; i < cell.warmup; ++i) {
        part->publish();
        part->unpublish();
    }
    if (writer) {
        writer->start();
        std::this_thread::sleep_for(3 * cell.period);  // its table exists and it has committed since
    }
    const auto bound = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_seconds));
    std::thread caller([part, repetitions, bound, period = cell.period] { timed_loop(*part, repetitions, bound, period); });

    auto& p = part->progress;
    std::unique_lock lock(p.mutex);
    const bool done = p.finished.wait_until(lock, bound + grace, [&] { return p.done; });
    nlohmann::json result = {{"unfinished", 0}};
    if (!done && p.in_call) {
        const bool publishing = std::string(p.in_call) == "publish";
        ++(publishing ? p.failed_publishes : p.failed_unpublishes);
        const auto seconds = std::chrono::duration<double>(Clock::now() - p.call_started).count();
        const auto text = std::string(p.in_call) + ": still running after " + format("%.1f", seconds) + " s (time bound)";
        if (!p.first_failure)
            p.first_failure = text;
        result["unfinished"] = 1;
    }
    result.update({{"publish_us", p.publish_us},
                   {"unpublish_us", p.unpublish_us},
                   {"failed_publishes", p.failed_publishes},
                   {"failed_unpublishes", p.failed_unpublishes},
                   {"first_failure", optional_text(p.first_failure)},
                   {"peak_rss_kib", peak_rss_kib()}});
    lock.unlock();
    if (done)
        caller.join();
    else
        caller.detach();  // stuck in the library; the child process exits around it
    if (writer) {
        const auto stats = writer->stop();
        result["foreign_commits"] = stats.commits;
        result["foreign_seconds"] = stats.seconds;
    }
    return result;
}

}  // namespace

std::vector<ForeignWriterCell> run_foreign_writer(const ForeignWriterOptions& options, const LatencyOptions& latency)
{
    const RoundPlan plan(latency);
    std::vector<ForeignWriterCell> cells;
    for (const auto table_size : options.table_sizes)
        for (const bool busy : {false, true}) {
            ForeignWriterCell cell;
            cell.table_size = table_size;
            cell.busy = busy;
            cell.period = options.period;
            cell.ports = service_ports;
            cell.requested_repetitions = latency.repetitions;
            cell.rounds = plan.rounds;
            cell.warmup = latency.warmup;
            cells.push_back(cell);
        }
    std::vector<std::vector<double>> publish(cells.size()), unpublish(cells.size());
    // Round r of every cell before round r+1 of any, as in the latency mode: quiet and busy cells
    // then see the same minutes of a shared machine.
    measure_in_rounds(
        plan, cells, measure,
        [&](std::size_t i, const nlohmann::json& j) {
            auto& cell = cells[i];
            for (const double us : j.at("publish_us"))
                publish[i].push_back(us);
            for (const double us : j.at("unpublish_us"))
                unpublish[i].push_back(us);
            cell.failed_publishes += j.at("failed_publishes").get<std::size_t>();
            cell.failed_unpublishes += j.at("failed_unpublishes").get<std::size_t>();
            cell.unfinished += j.at("unfinished").get<std::size_t>();
            if (!cell.first_failure && !j.at("first_failure").is_null())
                cell.first_failure = j.at("first_failure").get<std::string>();
            cell.foreign_commits += j.value("foreign_commits", std::uint64_t{0});
            cell.foreign_seconds += j.value("foreign_seconds", 0.0);
            cell.peak_rss_kib = std::max<long>(cell.peak_rss_kib, j.at("peak_rss_kib"));
        },
        [&](const ForeignWriterCell&) { return plan.child_timeout; });
    for (std::size_t i = 0; i < cells.size(); ++i) {
        auto& cell = cells[i];
        cell.publishes = publish[i].size();
        cell.unpublishes = unpublish[i].size();
        if (!publish[i].empty())
            cell.publish_us = percentiles(publish[i]);
        if (!unpublish[i].empty())
            cell.unpublish_us = percentiles(unpublish[i]);
    }
    return cells;
}

}  // namespace bench
