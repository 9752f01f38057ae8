// SPDX-License-Identifier: Apache-2.0
// Chaos harness: three publishing processes work while other processes flush the ruleset, delete
// tables, chains and elements, squat on host ports the publishers want (conflicting elements) and
// commit to tables of their own. Then the damage stops and the state must be consistent:
//   1. the self-healing publisher's tasks are back, complete, without any call of it;
//   2. after each publisher re-asserts what it believes it published (one publish_ports() per task,
//      which repairs what the damage took), every task it believes published is in the kernel
//      completely, in the version it believes, and nothing else of the harness's tasks is;
//   3. a new publisher reads exactly that;
//   4. the foreign tables hold what their writer wrote last, and no transaction committed by a
//      publisher named another table than ip warren and ip6 warren (from the kernel's announcements).
//
// warren-nft-chaos [--seconds S] [--seed X]
#include "commit_log.hpp"
#include "harness.hpp"
#include "task_model.hpp"

#include "process.hpp"

#include <signal.h>
#include <sys/prctl.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <regex>
#include <thread>

namespace {

using namespace chaos;
using warren::nft::errc;
using warren::nft::Error;
using warren::nft::HostPortPublisher;
using warren::nft::PublisherOptions;

constexpr int publisher_count = 3;  // 0 heals itself and works from two threads; 2 counts
constexpr int task_count = 16;      // per publisher

const std::string healed = "the self-healing publisher's tasks are complete once the damage stops";
const std::string believed = "every task a publisher believes published is complete, nothing else";
const std::string adopted = "a new publisher reads exactly what nft reads";
const std::string foreign_kept = "foreign tables untouched by the publishers";
const std::string calls_ok = "publisher calls and repairs fail only with port_conflict or ruleset_changed";
// How an Error of errc::ruleset_changed begins (a RepairReport has only the text).
const std::string contention_message = "other writers kept changing the nftables ruleset";
const std::string worked = "publishers committed and the damage happened";

enum Phase : int { running, stopping, final_pass };

struct Shared {
    std::atomic<int> phase;
    std::atomic<int> healer_ready;
    std::atomic<int> idle[publisher_count];
    std::atomic<unsigned> belief[publisher_count][task_count];  // version believed published, 0: none
    std::atomic<int> skipped[task_count];                       // the self-healer reported a port or the task skipped
    std::atomic<std::int64_t> last_repair;                      // steady clock, ns
    std::atomic<unsigned long> repairs, failed_repairs, calls, conflicts, contention, damage_commits;
};

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

void sleep_ms(std::mt19937& rng, unsigned up_to)
{
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % (up_to * 1000 + 1)));
}

// --- publishers ---------------------------------------------------------------------------------

void work(HostPortPublisher& publisher, Shared& s, int p, int first_task, int step, unsigned seed, int report)
{
    std::mt19937 rng(seed);
    while (s.phase == running) {
        const TaskRef ref{p, first_task + static_cast<int>(rng() % static_cast<unsigned>(task_count / step)) * step};
        try {
            if (rng() % 3 != 0) {
                const TaskVersion v{ref, static_cast<unsigned>(rng() % 100000 + 1)};
                publisher.publish_ports(ref.id(), v.addresses(), v.ports());
                s.belief[p][ref.task] = v.version;
            } else {
                publisher.unpublish_ports(ref.id());
                s.belief[p][ref.task] = 0;
            }
            ++s.calls;
        } catch (const Error& e) {
            if (e.code() == errc::port_conflict)
                ++s.conflicts;
            else if (e.code() == errc::ruleset_changed)
                ++s.contention;
            else
                sandbox::write_all(report, "call failed: " + ref.id() + ": " + e.what() + "\n");
        } catch (const std::exception& e) {
            sandbox::write_all(report, "call failed: " + ref.id() + ": " + e.what() + "\n");
        }
        sleep_ms(rng, 3);
    }
}

// What each of a publisher's threads believes it published, published again: repairs whatever the
// damage took of it. A port_conflict here would be a squatter left behind, or a bug.
void reassert(HostPortPublisher& publisher, Shared& s, int p, int report)
{
    for (int t = 0; t < task_count; ++t) {
        const TaskRef ref{p, t};
        try {
            if (const unsigned version = s.belief[p][t]) {
                const TaskVersion v{ref, version};
                publisher.publish_ports(ref.id(), v.addresses(), v.ports());
            } else {
                publisher.unpublish_ports(ref.id());
            }
        } catch (const std::exception& e) {
            sandbox::write_all(report, "final call failed: " + ref.id() + ": " + e.what() + "\n");
        }
    }
}

int publish(Shared& s, int p, unsigned seed, int report)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const std::string name = CommitLog::watched + std::string("-") + std::to_string(p);
    prctl(PR_SET_NAME, name.c_str());  // its threads inherit it: the commit log knows them by it
    PublisherOptions options;
    options.counters = p == 2;
    options.self_heal = p == 0;
    if (p == 0) {
        options.on_repair = [&s, report_fd = report](const warren::nft::RepairReport& report) {
            ++(report.error.empty() ? s.repairs : s.failed_repairs);
            // A repair that lost the race for the table 64 times is retried a second later, as a
            // call would throw ruleset_changed; any other failure is reported.
            if (!report.error.empty() && report.error.find(contention_message) == std::string::npos)
                sandbox::write_all(report_fd, "repair failed after \"" + report.damage + "\": " + report.error + "\n");
            s.last_repair = now_ns();
            static const std::regex task_named(R"((?:^|of )task c0-t(\d+))");
            for (const auto& skipped : report.skipped)
                if (std::smatch m; std::regex_search(skipped, m, task_named))
                    s.skipped[std::stoi(m[1])] = 1;
        };
    } else {
        while (!s.healer_ready)  // the healer must not adopt the others' tasks as its own
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    HostPortPublisher publisher(options);
    if (p == 0)
        s.healer_ready = 1;
    if (p == 0) {
        std::thread other([&] { work(publisher, s, p, 1, 2, seed + 1, report); });
        work(publisher, s, p, 0, 2, seed, report);
        other.join();
    } else {
        work(publisher, s, p, 0, 1, seed, report);
    }
    s.idle[p] = 1;
    while (s.phase != final_pass)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    reassert(publisher, s, p, report);
    return 0;
}

// --- damage -------------------------------------------------------------------------------------

// `nft <args>`, failures ignored: the damage races the publishers (and the other damage).
bool try_nft(std::vector<std::string> args)
{
    args.insert(args.begin(), "nft");
    sandbox::Command cmd;
    cmd.argv = std::move(args);
    return sandbox::run(cmd).exit_code == 0;
}

// Deletes one element of the harness's tasks, now and then a chain's rules, a map, a table or the
// whole ruleset.
int damage(Shared& s, unsigned seed)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::mt19937 rng(seed);
    while (s.phase == running) {
        const unsigned what = rng() % 100;
        bool done = false;
        if (what < 4) {
            done = try_nft({"flush", "ruleset"});
        } else if (what < 7) {
            done = try_nft({"delete", "table", rng() % 2 ? "ip" : "ip6", "warren"});
        } else if (what < 10) {
            done = try_nft({"flush", "chain", "ip", "warren", rng() % 2 ? "prerouting" : "postrouting"});
        } else if (what < 12) {
            done = try_nft({"flush", "map", "ip", "warren", "ports"});
        } else {
            try {
                const auto elements = nft_elements();
                if (!elements.empty()) {
                    const auto& e = elements[rng() % elements.size()];
                    done = try_nft({"delete", "element", e.family, "warren", map_of(e), "{ " + key_of(e) + " }"});
                }
            } catch (const std::exception&) {
                // The table went away between nft's two reads.
            }
        }
        s.damage_commits += done;
        sleep_ms(rng, 40);
    }
    return 0;
}

// Takes free host ports of the publishers' ranges with elements of its own (no task in their
// comment) and gives them back a little later; gives back all of them when the damage stops.
int squat(Shared& s, unsigned seed)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::mt19937 rng(seed);
    std::vector<std::pair<std::string, std::string>> held;  // family, key
    const auto give_back = [&](std::size_t i) {
        try_nft({"delete", "element", held[i].first, "warren", "ports", "{ " + held[i].second + " }"});
        held.erase(held.begin() + static_cast<long>(i));
    };
    while (s.phase == running) {
        if (held.size() < 6) {
            const bool v6 = rng() % 3 == 0;
            const int port = 20000 + static_cast<int>(rng() % publisher_count) * 2000 +
                             static_cast<int>(rng() % task_count) * 50 + static_cast<int>(rng() % 40);
            const std::string key = std::string(rng() % 2 ? "tcp" : "udp") + " . " + std::to_string(port);
            const std::string family = v6 ? "ip6" : "ip";
            if (try_nft({"add", "element", family, "warren", "ports",
                         "{ " + key + " comment \"squatter\" : " + (v6 ? "fd00:99::1" : "10.99.0.1") + " . 80 }"})) {
                held.emplace_back(family, key);
                ++s.damage_commits;
            }
        } else {
            give_back(rng() % held.size());
        }
        sleep_ms(rng, 60);
    }
    while (!held.empty())
        give_back(held.size() - 1);
    return 0;
}

// The foreign tables' content at the end, as their writer leaves it.
const std::string foreign_final = R"(table ip foreign {
	set addresses {
		type ipv4_addr
		elements = { 192.0.2.1, 192.0.2.2 }
	}
	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr @addresses counter accept
	}
}
table inet chaosfw {
	chain forward {
		type filter hook forward priority filter; policy accept;
		tcp dport 9999 drop
	}
}
)";

// Another program's tables (Docker's, firewalld's): commits to them all the time, recreates them
// after each flush, and leaves them as foreign_final.
int write_foreign(Shared& s, unsigned seed)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::mt19937 rng(seed);
    unsigned n = 0;
    while (s.phase == running) {
        const std::string address = "198.51.100." + std::to_string(rng() % 200 + 1);
        sandbox::Command cmd;
        cmd.argv = {"nft", "-f", "-"};
        cmd.input =
            "add table ip foreign\nadd set ip foreign addresses { type ipv4_addr; }\n"
            "add element ip foreign addresses { " +
            address +
            " }\n"
            "add table inet chaosfw\nadd chain inet chaosfw forward { type filter hook forward priority filter; }\n"
            "add rule inet chaosfw forward tcp dport " +
            std::to_string(10000 + n++ % 100) + " accept\n";
        s.damage_commits += sandbox::run(cmd).exit_code == 0;
        sleep_ms(rng, 30);
    }
    sandbox::Command cmd;
    cmd.argv = {"nft", "-f", "-"};
    cmd.input =
        "add table ip foreign\ndelete table ip foreign\nadd table inet chaosfw\ndelete table inet chaosfw\n" + foreign_final;
    const auto result = sandbox::run(cmd);
    if (result.exit_code != 0)
        throw std::runtime_error("cannot write the foreign tables' final state: " + result.err);
    return 0;
}

std::string foreign_tables()
{
    return kt::nft({"list", "table", "ip", "foreign"}) + kt::nft({"list", "table", "inet", "chaosfw"});
}

}  // namespace

int main(int argc, char* argv[])
{
    const double budget = option(argc, argv, "--seconds", 60);
    const auto seed = static_cast<unsigned>(option(argc, argv, "--seed", static_cast<double>(std::random_device{}())));
    const std::vector<std::string> names{healed, believed, adopted, foreign_kept, calls_ok, worked};
    if (!enter_namespace("warren-nft-chaos", names))
        return 77;
    std::printf("seed %u, %.0f s of chaos\n", seed, budget);
    std::fflush(stdout);
    Checks checks(names);
    auto& s = *shared_page<Shared>();
    std::mt19937 rng(seed);

    CommitLog commit_log;
    std::vector<std::unique_ptr<sandbox::ForkedChild>> publishers, damagers;
    for (int p = 0; p < publisher_count; ++p) {
        const unsigned child_seed = rng();
        publishers.push_back(
            std::make_unique<sandbox::ForkedChild>([&, p, child_seed](int report) { return publish(s, p, child_seed, report); }));
    }
    for (int d = 0; d < 2; ++d) {
        const unsigned child_seed = rng();
        damagers.push_back(std::make_unique<sandbox::ForkedChild>([&, child_seed](int) { return damage(s, child_seed); }));
    }
    const unsigned squat_seed = rng(), foreign_seed = rng();
    damagers.push_back(std::make_unique<sandbox::ForkedChild>([&](int) { return squat(s, squat_seed); }));
    damagers.push_back(std::make_unique<sandbox::ForkedChild>([&](int) { return write_foreign(s, foreign_seed); }));

    const auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(budget));
    s.phase = stopping;
    const double chaos_seconds = seconds_since(start);
    for (auto& damager : damagers)
        if (const int status = damager->wait(std::chrono::seconds(60)); status != 0)
            checks.fail(worked, "a damaging process failed (" + std::to_string(status) + "): " + damager->report());
    for (int p = 0; p < publisher_count; ++p)
        while (!s.idle[p] && seconds_since(start) < budget + 60)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));

    // 1. The healer's last repair attempt is over 2 s old (a failed one is retried after 1 s).
    const auto quiet_since = Clock::now();
    while (now_ns() - s.last_repair < 2'000'000'000 && seconds_since(quiet_since) < 30)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    unsigned checked_healed = 0;
    try {
        const auto verdict = judge(nft_elements());
        for (int t = 0; t < task_count; ++t) {
            if (s.skipped[t])
                continue;
            const TaskRef ref{0, t};
            ++checked_healed;
            const unsigned want = s.belief[0][t];
            const auto found = verdict.versions.find(ref);
            const unsigned have = found == verdict.versions.end() ? 0 : found->second;
            if (want != have)
                checks.fail(healed, ref.id() + " believed v" + std::to_string(want) + ", the kernel holds " +
                                        (have ? "v" + std::to_string(have) : "none complete"));
        }
    } catch (const std::exception& e) {
        checks.fail(healed, e.what());
    }

    // 2. Re-assert, then compare with every publisher's beliefs.
    std::string foreign_before;
    try {
        foreign_before = foreign_tables();
    } catch (const std::exception& e) {
        checks.fail(foreign_kept, e.what());
    }
    s.phase = final_pass;
    for (int p = 0; p < publisher_count; ++p) {
        const int status = publishers[static_cast<std::size_t>(p)]->wait(std::chrono::seconds(60));
        const auto& report = publishers[static_cast<std::size_t>(p)]->report();
        if (status != 0 || !report.empty())
            checks.fail(calls_ok, "publisher " + std::to_string(p) + " (exit " + std::to_string(status) + "): " + report);
    }
    std::map<TaskRef, unsigned> beliefs;
    for (int p = 0; p < publisher_count; ++p)
        for (int t = 0; t < task_count; ++t)
            if (const unsigned v = s.belief[p][t])
                beliefs[TaskRef{p, t}] = v;
    try {
        const auto tables = kt::warren_tables();
        const auto elements = elements_of(tables);
        const auto verdict = judge(elements);
        for (const auto& problem : verdict.problems)
            checks.fail(believed, problem);
        for (const auto& e : verdict.foreign)
            checks.fail(believed, "an element of no task left: " + describe(e));
        for (const auto& problem : check_backends(tables))
            checks.fail(believed, problem);
        for (const auto& [ref, version] : beliefs)
            if (const auto found = verdict.versions.find(ref); found == verdict.versions.end() || found->second != version)
                checks.fail(believed, ref.id() + " believed v" + std::to_string(version) + ", not in the kernel so");
        for (const auto& [ref, version] : verdict.versions)
            if (!beliefs.contains(ref))
                checks.fail(believed, ref.id() + " v" + std::to_string(version) + " is in the kernel, believed unpublished");
        // 3. Adoption.
        PublisherOptions options;
        options.conntrack_cleanup = false;
        HostPortPublisher reader(options);
        if (library_elements(reader) != elements)
            checks.fail(adopted, "a new publisher reads another state than nft");
    } catch (const std::exception& e) {
        checks.fail(believed, e.what());
    }

    // 4. Foreign tables, now and through the whole run.
    try {
        if (const auto after = foreign_tables(); after != foreign_before)
            checks.fail(foreign_kept, "the foreign tables changed during the final pass:\n" + foreign_before + "---\n" + after);
    } catch (const std::exception& e) {
        checks.fail(foreign_kept, e.what());
    }
    const auto commits = commit_log.stop();
    for (const auto& violation : commits.violations)
        checks.fail(foreign_kept, violation);
    unsigned long publisher_commits = 0, all_commits = 0;
    for (const auto& [process, n] : commits.transactions) {
        all_commits += n;
        if (process.rfind(CommitLog::watched, 0) == 0)
            publisher_commits += n;
    }
    if (commits.losses)
        checks.fail(foreign_kept, "the commit log lost announcements " + std::to_string(commits.losses) + " times: incomplete");
    if (publisher_commits == 0 || s.damage_commits == 0 || s.repairs == 0)
        checks.fail(worked, "publisher commits " + std::to_string(publisher_commits) + ", damaging commits " +
                                std::to_string(s.damage_commits.load()) + ", repairs " + std::to_string(s.repairs.load()));

    std::printf(
        "chaos seconds: %.1f; publisher calls %lu (port conflicts %lu, ruleset_changed %lu); damaging and foreign "
        "commits %lu; self-heal repairs %lu (%lu failed); transactions %lu, %lu of them by publishers; "
        "self-healed tasks verified %u; tasks believed published at the end %zu; inconsistencies %zu\n",
        chaos_seconds, s.calls.load(), s.conflicts.load(), s.contention.load(), s.damage_commits.load(), s.repairs.load(),
        s.failed_repairs.load(), all_commits, publisher_commits, checked_healed, beliefs.size(), checks.problems());
    return checks.finish();
}
