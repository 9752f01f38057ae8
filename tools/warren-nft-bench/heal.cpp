// SPDX-License-Identifier: Apache-2.0
#include "heal.hpp"

#include "child.hpp"
#include "commit_monitor.hpp"
#include "damage.hpp"
#include "echo_path.hpp"
#include "process.hpp"
#include "service.hpp"
#include "tool_process.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <memory>
#include <mutex>
#include <thread>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t rounds_not_healed_before_stopping = 3;
// A probe's own timeout: refused connections (the port is dead) come back at once; this only bounds
// a probe whose SYN was lost.
constexpr auto probe_timeout = 50ms;
// Probe every millisecond while the outage is short, then every 10: each probe takes a new source port
// (a new conntrack flow) from a range of about 11,000 per process (sandbox::exchange).
constexpr auto fine_probing = 100ms;
constexpr auto fine_interval = 1ms;
constexpr auto coarse_interval = 10ms;
// Between rounds: until the publisher has been still this long (a repair may come in more than one commit).
constexpr auto settle = 20ms;

double milliseconds(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The reports of on_repair, which the publisher calls on its healing thread.
class Repairs {
public:
    void add(const warren::nft::RepairReport& report)
    {
        const std::lock_guard lock(mutex_);
        reports_.push_back(report);
    }
    std::vector<warren::nft::RepairReport> all() const
    {
        const std::lock_guard lock(mutex_);
        return reports_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<warren::nft::RepairReport> reports_;
};

// The self-healing publisher and every port it publishes: the probed one and the fillers.
class HealingPublisher {
public:
    explicit HealingPublisher(std::size_t fillers) : tasks_(filler_tasks(fillers))
    {
        tasks_.push_back(measured_task());
        mappings_ = port_mappings(tasks_);
        publish_all();
    }

    std::size_t ports() const { return tasks_.size(); }
    const std::shared_ptr<Repairs>& repairs() const { return repairs_; }

    // After a round the publisher did not heal: a new publisher over a new table, the way the cell began.
    void rebuild()
    {
        publisher_.reset();  // stops its healing thread before the table goes
        sandbox::run({{"nft", "delete", "table", "ip", "warren"}, {}, nullptr, {}});  // may be gone already
        publish_all();
    }

private:
    void publish_all()
    {
        publisher_ = std::make_unique<warren::nft::HostPortPublisher>(warren::nft::PublisherOptions{
            .self_heal = true, .on_repair = [repairs = repairs_](const warren::nft::RepairReport& r) { repairs->add(r); }});
        for (std::size_t i = 0; i < tasks_.size(); ++i)
            publisher_->publish_ports(tasks_[i].id, tasks_[i].container_ip, mappings_[i]);
    }

    std::vector<Task> tasks_;
    std::vector<std::vector<warren::nft::PortMapping>> mappings_;
    std::shared_ptr<Repairs> repairs_ = std::make_shared<Repairs>();
    std::unique_ptr<warren::nft::HostPortPublisher> publisher_;
};

// When an echo came back through the probed port, probing from `damaged` on until `deadline`.
std::optional<Clock::time_point> probe_until_healed(const sandbox::Topology& topology, Clock::time_point damaged,
                                                    Clock::time_point deadline)
{
    for (auto next = Clock::now(); Clock::now() < deadline;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        const auto probe = probe_measured_port(topology, std::clamp(left, 1ms, std::chrono::milliseconds(probe_timeout)));
        const auto now = Clock::now();
        if (probe.replied && probe.reply == "container:probe")
            return now;
        next += now - damaged < fine_probing ? fine_interval : coarse_interval;
        if (next > now)
            std::this_thread::sleep_until(next);
        else
            next = now;
    }
    return std::nullopt;
}

// Whether `reader` sees all `ports` published again before `deadline`, else how many it saw.
std::optional<std::size_t> missing_ports(const warren::nft::HostPortPublisher& reader, std::size_t ports,
                                         Clock::time_point deadline)
{
    for (;;) {
        const auto seen = reader.all_published_ports().size();
        if (seen == ports)
            return std::nullopt;
        if (Clock::now() >= deadline)
            return seen;
        std::this_thread::sleep_for(1ms);
    }
}

struct Samples {
    std::vector<double> outage_ms, repair_commit_ms;
};

nlohmann::json repairs_json(const std::vector<warren::nft::RepairReport>& reports)
{
    std::vector<double> durations;
    std::size_t failed = 0, most_ports = 0, layout = 0, skipped = 0;
    std::optional<std::string> damage, first_error;
    for (const auto& r : reports) {
        if (!damage)
            damage = r.damage;
        if (!r.error.empty()) {
            ++failed;
            if (!first_error)
                first_error = r.error;
            continue;
        }
        durations.push_back(double(r.duration.count()) / 1000);
        most_ports = std::max(most_ports, r.ports_restored);
        layout += r.layout_restored;
        skipped += r.skipped.size();
    }
    return {{"reports", reports.size()},       {"failed", failed},
            {"duration_ms", durations},        {"most_ports_restored", most_ports},
            {"layout_restored", layout},       {"skipped_ports", skipped},
            {"damage", optional_text(damage)}, {"first_error", optional_text(first_error)}};
}

// In the child: every round of one cell.
nlohmann::json measure(const DamageKind& kind, std::size_t table_size, const HealOptions& options)
{
    const sandbox::Topology topology;
    const sandbox::EchoServer echo(topology.container, sandbox::Transport::tcp, measured_container_port, "container");
    const CommitMonitor monitor;
    const warren::nft::HostPortPublisher reader;  // never writes: counts the ports a repair put back
    HealingPublisher publisher(table_size);
    expect_dnat(topology, echo);

    Samples samples;
    std::size_t rounds = 0, healed = 0, incomplete = 0, not_healed_in_a_row = 0;
    std::optional<std::string> stopped, first_problem;
    const auto problem = [&](const std::string& text) {
        if (!first_problem)
            first_problem = "round " + std::to_string(rounds) + ": " + text;
    };
    while (rounds < options.rounds) {
        const auto script = kind.script();
        const auto from = monitor.count();
        ++rounds;
        // nft runs on a thread of its own and probing starts at its commit: nft takes milliseconds
        // more to exit, which would otherwise count as outage.
        std::optional<std::string> damage_failed;
        std::jthread damager([&] {
            try {
                apply_damage(script);
            } catch (const std::exception& e) {
                damage_failed = e.what();
            }
        });
        const auto join_damage = [&] {
            damager.join();
            if (damage_failed)
                throw std::runtime_error("round " + std::to_string(rounds) + ": the damage failed: " + *damage_failed);
        };
        // nft's commit, as the kernel announced it; nft's exit when the announcement was lost.
        const auto damage = monitor.wait_for(
            from, [](const Commit& c) { return c.process == "nft"; }, 5s);
        if (!damage)
            join_damage();
        const auto damaged = damage ? damage->seen : Clock::now();
        const auto deadline = damaged + options.timeout;
        const auto back = probe_until_healed(topology, damaged, deadline);
        if (damager.joinable())
            join_damage();
        if (back) {
            ++healed;
            not_healed_in_a_row = 0;
            samples.outage_ms.push_back(milliseconds(*back - damaged));
            if (damage) {
                // Announced before traffic flowed, but the monitor may still be reading the repair's
                // element announcements that come before it.
                const auto repair = monitor.wait_for(
                    from, [&](const Commit& c) { return c.seen >= damage->seen && c.pid != damage->pid; }, 1s);
                if (repair)
                    samples.repair_commit_ms.push_back(milliseconds(repair->seen - damaged));
            }
            if (const auto seen = missing_ports(reader, publisher.ports(), deadline)) {
                ++incomplete;
                problem("the probed port works again, but only " + std::to_string(*seen) + " of " +
                        std::to_string(publisher.ports()) + " ports are published");
            }
        } else {
            problem("no echo through the port within " + std::to_string(options.timeout.count()) + " ms");
            publisher.rebuild();
            expect_dnat(topology, echo);
            if (++not_healed_in_a_row == rounds_not_healed_before_stopping && rounds < options.rounds) {
                stopped = "stopped after " + std::to_string(rounds_not_healed_before_stopping) + " rounds in a row did not heal";
                break;
            }
        }
        monitor.wait_until_quiet(settle, options.timeout);
    }
    return {{"rounds", rounds},
            {"healed", healed},
            {"incomplete", incomplete},
            {"stopped", optional_text(stopped)},
            {"first_problem", optional_text(first_problem)},
            {"outage_ms", samples.outage_ms},
            {"repair_commit_ms", samples.repair_commit_ms},
            {"repairs", repairs_json(publisher.repairs()->all())},
            {"announcements_lost", monitor.lost_some()},
            {"monitor_realtime", monitor.realtime()}};
}

std::optional<Percentiles> optional_percentiles(const nlohmann::json& sample)
{
    const auto values = sample.get<std::vector<double>>();
    return values.empty() ? std::nullopt : std::optional(percentiles(values));
}

std::optional<std::string> optional_string(const nlohmann::json& j)
{
    return j.is_null() ? std::nullopt : std::optional(j.get<std::string>());
}

void fill(HealCell& cell, const nlohmann::json& j)
{
    cell.rounds = j.at("rounds");
    cell.healed = j.at("healed");
    cell.incomplete = j.at("incomplete");
    cell.stopped = optional_string(j.at("stopped"));
    cell.first_problem = optional_string(j.at("first_problem"));
    cell.outage_ms = optional_percentiles(j.at("outage_ms"));
    cell.repair_commit_ms = optional_percentiles(j.at("repair_commit_ms"));
    const auto& r = j.at("repairs");
    cell.repair_reports = r.at("reports");
    cell.failed_repairs = r.at("failed");
    cell.repair_report_ms = optional_percentiles(r.at("duration_ms"));
    cell.most_ports_restored = r.at("most_ports_restored");
    cell.layout_restored = r.at("layout_restored");
    cell.skipped_ports = r.at("skipped_ports");
    cell.reported_damage = optional_string(r.at("damage"));
    cell.first_repair_error = optional_string(r.at("first_error"));
    cell.announcements_lost = j.at("announcements_lost");
    cell.monitor_realtime = j.at("monitor_realtime");
}

}  // namespace

std::vector<HealCell> run_heal(const HealOptions& options)
{
    std::vector<const DamageKind*> kinds;
    if (options.damages.empty())
        for (const auto& kind : damage_kinds())
            kinds.push_back(&kind);
    for (const auto& name : options.damages) {
        const auto* kind = find_damage(name);
        if (!kind)
            throw std::invalid_argument("unknown damage kind `" + name + "`");
        kinds.push_back(kind);
    }
    const auto missing = missing_program("nft");
    // Generous: filling the table, rebuilding it after rounds that did not heal, nft's start-up.
    const auto timeout = std::chrono::seconds(600) + options.rounds * (2 * options.timeout + 10s);
    std::vector<HealCell> cells;
    for (const auto table_size : options.table_sizes)
        for (const auto* kind : kinds) {
            HealCell cell;
            cell.damage = kind->name;
            cell.command = kind->description;
            cell.table_size = table_size;
            cell.requested_rounds = options.rounds;
            cell.timeout = options.timeout;
            cell.skipped = missing;
            if (!cell.skipped) {
                try {
                    fill(cell, run_in_fresh_child([&] { return measure(*kind, table_size, options); },
                                                  std::chrono::duration_cast<std::chrono::seconds>(timeout)));
                } catch (const std::exception& e) {
                    cell.error = e.what();
                }
            }
            cells.push_back(std::move(cell));
        }
    return cells;
}

}  // namespace bench
