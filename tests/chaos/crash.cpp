// SPDX-License-Identifier: Apache-2.0
// Crash harness: a publishing process is killed with SIGKILL at random points, hundreds of times,
// and after each kill the kernel must hold every task's ports all or none (read with `nft -j`, and
// by a new publisher, which must read exactly the same), and that new publisher must be able to
// take the tasks over: unpublish one and publish it again. Kills land after a random delay of
// microseconds to milliseconds: while the publisher starts and reads the table, between calls, and
// inside calls (building, sending or awaiting the answer to a transaction).
//
// warren-nft-crash [--seconds S] [--kills N] [--min-kills M] [--seed X]
#include "harness.hpp"
#include "task_model.hpp"

#include "process.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

namespace {

using namespace chaos;
using warren::nft::HostPortPublisher;
using warren::nft::PublisherOptions;

constexpr int task_count = 12;

const std::string consistent = "every task's ports all present or all absent after each kill (nft -j)";
const std::string adopted = "a new publisher reads exactly what nft reads after each kill";
const std::string taken_over = "the new publisher unpublishes and republishes an adopted task";
const std::string child_errors = "no publisher call failed before its kill";
const std::string enough_kills = "enough kills, some of them inside library calls";
const std::string sees_damage = "the check sees a task with one element deleted as half-present";

// Written by the publishing child, read by the harness: where the child was when it was killed.
struct Progress {
    std::atomic<int> started;  // the publisher exists
    std::atomic<int> in_call;  // inside publish_ports / unpublish_ports / reconcile
    std::atomic<unsigned> calls;
};

PublisherOptions quiet_options()
{
    PublisherOptions options;
    return options;
}

// The child: publishes, republishes, unpublishes and reconciles random versions of the tasks as
// fast as it can, until it is killed.
int publish_until_killed(Progress& progress, unsigned seed, int report)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::mt19937 rng(seed);
    auto options = quiet_options();
    options.counters = rng() % 4 == 0;
    options.conntrack_cleanup = rng() % 2 == 0;
    HostPortPublisher publisher(options);
    progress.started = 1;
    for (;;) {
        const TaskRef ref{0, static_cast<int>(rng() % task_count)};
        const unsigned op = rng() % 20;
        progress.in_call = 1;
        try {
            if (op < 12) {
                const TaskVersion v{ref, static_cast<unsigned>(rng() % 100000 + 1)};
                publisher.publish_ports(ref.id(), v.addresses(), v.ports());
            } else if (op < 18) {
                publisher.unpublish_ports(ref.id());
            } else {
                std::vector<warren::nft::TaskPorts> desired;
                for (int t = 0; t < task_count; ++t)
                    if (rng() % 2)
                        desired.push_back(TaskVersion{{0, t}, static_cast<unsigned>(rng() % 100000 + 1)}.task_ports());
                publisher.reconcile(desired);
            }
        } catch (const std::exception& e) {
            sandbox::write_all(report, std::string("call failed: ") + e.what() + "\n");
            return 1;
        }
        progress.in_call = 0;
        ++progress.calls;
    }
}

// Microseconds, spread evenly over the orders of magnitude from 1 µs to 20 ms.
std::chrono::microseconds random_delay(std::mt19937& rng)
{
    const double exponent = std::uniform_real_distribution<double>(0, std::log10(20000.0))(rng);
    return std::chrono::microseconds(static_cast<long>(std::pow(10.0, exponent)));
}

struct Harness {
    Checks checks{{sees_damage, consistent, adopted, taken_over, child_errors, enough_kills}};
    std::mt19937 rng;
    unsigned states = 0;

    explicit Harness(unsigned seed) : rng(seed) {}

    // Reads the kernel with nft and judges it; records what is wrong against `check`.
    Verdict verify(const std::string& check, const std::string& when)
    {
        ++states;
        Verdict verdict;
        try {
            const auto tables = kt::warren_tables();
            verdict = judge(elements_of(tables));
            for (const auto& problem : check_backends(tables))
                verdict.problems.push_back(problem);
            for (const auto& e : verdict.foreign)
                verdict.problems.push_back("an element of no task: " + describe(e));
        } catch (const std::exception& e) {
            verdict.problems.push_back(std::string("cannot read the tables: ") + e.what());
        }
        for (const auto& problem : verdict.problems)
            checks.fail(check, when + ": " + problem);
        return verdict;
    }

    // The versions after a change must be the ones before it, but for the task it changed.
    void expect_versions(const Verdict& after, std::map<TaskRef, unsigned> want, const std::string& when)
    {
        if (after.problems.empty() && after.versions != want)
            checks.fail(taken_over, when + ": the tasks' versions are not what the change should leave");
    }

    void take_over(HostPortPublisher& publisher, const Verdict& found, const std::string& when)
    {
        const TaskRef ref{0, static_cast<int>(rng() % task_count)};
        auto versions = found.versions;
        try {
            if (const auto present = versions.find(ref); present != versions.end()) {
                const unsigned version = present->second;
                publisher.unpublish_ports(ref.id());
                versions.erase(ref);
                expect_versions(verify(taken_over, when + ", after unpublishing " + ref.id()), versions, when);
                const TaskVersion next{ref, version + 1};
                publisher.publish_ports(ref.id(), next.addresses(), next.ports());
                versions[ref] = next.version;
            } else {
                const TaskVersion v{ref, static_cast<unsigned>(rng() % 100000 + 1)};
                publisher.publish_ports(ref.id(), v.addresses(), v.ports());
                versions[ref] = v.version;
            }
            expect_versions(verify(taken_over, when + ", after publishing " + ref.id()), versions, when);
        } catch (const std::exception& e) {
            checks.fail(taken_over, when + ": " + ref.id() + ": " + e.what());
        }
    }

    // The check must be able to fail: a task that someone else took one element of is half-present.
    void check_the_check()
    {
        try {
            HostPortPublisher publisher(quiet_options());
            const TaskVersion version{{0, 0}, 2};
            publisher.publish_ports(version.ref.id(), version.addresses(), version.ports());
            const auto elements = nft_elements();
            if (elements != expected_elements(version) || judge(elements).versions.size() != 1)
                checks.fail(sees_damage, "the published task does not read back complete");
            delete_with_nft(elements.back());
            if (judge(nft_elements()).problems.empty())
                checks.fail(sees_damage, "a task without " + describe(elements.back()) + " passed as complete");
            publisher.remove_table();
        } catch (const std::exception& e) {
            checks.fail(sees_damage, e.what());
        }
    }

    // After a kill: the state, its adoption, a take-over; now and then the table goes entirely, so
    // that later children create it again.
    void check_after_kill(int kill)
    {
        const std::string when = "after kill " + std::to_string(kill);
        const auto found = verify(consistent, when);
        if (!found.problems.empty())
            return;
        HostPortPublisher publisher([] {
            auto options = quiet_options();
            options.conntrack_cleanup = false;  // no thread: the harness forks the next child
            return options;
        }());
        try {
            const auto nft = nft_elements();
            const auto library = library_elements(publisher);
            if (library != nft)
                checks.fail(adopted, when + ":" + differences(nft, library, "only in nft:", "only in the library:"));
        } catch (const std::exception& e) {
            checks.fail(adopted, when + ": " + e.what());
        }
        take_over(publisher, found, when);
        if (kill % 40 == 39) {
            publisher.remove_table();
            expect_versions(verify(taken_over, when + ", after remove_table"), {}, when);
        }
    }
};

}  // namespace

int main(int argc, char* argv[])
{
    const double budget = option(argc, argv, "--seconds", 150);
    const int target = static_cast<int>(option(argc, argv, "--kills", 400));
    const int minimum = static_cast<int>(option(argc, argv, "--min-kills", 100));
    const auto seed = static_cast<unsigned>(option(argc, argv, "--seed", static_cast<double>(std::random_device{}())));
    if (!enter_namespace("warren-nft-crash", {sees_damage, consistent, adopted, taken_over, child_errors, enough_kills}))
        return 77;
    std::printf("seed %u, at most %d kills in %.0f s\n", seed, target, budget);
    std::fflush(stdout);

    Harness harness(seed);
    harness.check_the_check();
    auto* progress = shared_page<Progress>();
    const auto start = Clock::now();
    int kills = 0, in_call = 0, at_start = 0;
    unsigned calls = 0;
    while (kills < target && seconds_since(start) < budget) {
        progress->started = 0;
        progress->in_call = 0;
        progress->calls = 0;
        const unsigned child_seed = harness.rng();
        sandbox::ForkedChild child([&](int report) { return publish_until_killed(*progress, child_seed, report); });
        if (harness.rng() % 8 == 0) {
            // While it starts: constructs, probes, reads the table for its first call.
            std::this_thread::sleep_for(std::chrono::microseconds(harness.rng() % 5000));
        } else {
            const unsigned after_calls = 1 + harness.rng() % 4;
            const auto deadline = Clock::now() + std::chrono::seconds(10);
            while (progress->calls < after_calls && Clock::now() < deadline && waitpid(child.pid(), nullptr, WNOHANG) == 0)
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            std::this_thread::sleep_for(random_delay(harness.rng));
        }
        kill(child.pid(), SIGKILL);
        const int status = child.wait();
        if (status != -1) {
            harness.checks.fail(child_errors, "child " + std::to_string(kills) + " exited with " + std::to_string(status) +
                                                  " before its kill: " + child.report());
        }
        in_call += progress->in_call.load();
        at_start += !progress->started.load();
        calls += progress->calls.load();
        harness.check_after_kill(kills);
        ++kills;
    }
    const double elapsed = seconds_since(start);
    std::printf(
        "kills survived: %d in %.1f s (%d inside a library call, %d before the publisher existed); "
        "%u calls completed by the killed publishers; states verified: %u; inconsistencies: %zu\n",
        kills, elapsed, in_call, at_start, calls, harness.states, harness.checks.problems());
    if (kills < minimum || in_call == 0)
        harness.checks.fail(enough_kills, std::to_string(kills) + " kills (at least " + std::to_string(minimum) + " wanted), " +
                                              std::to_string(in_call) + " inside a library call");
    return harness.checks.finish();
}
