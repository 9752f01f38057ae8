// SPDX-License-Identifier: Apache-2.0
// AsyncHostPortPublisher against the real kernel, on a real io_context: bursts of requests from
// coroutines, coalesced into few transactions, each with its own correct result and the table exactly
// as expected; conflicts inside a burst; one task's requests in the order queued; self-healing on the
// same io_context; an io_context stopped mid-burst; reads, reconcile and bad input. Nothing depends on
// timing: the tests wait for completions or for the kernel's state, with a bound only so that a
// publisher that stopped answering fails the test instead of hanging it.
// Not here: a transaction the kernel refuses while our view of the table allowed it. Whatever another
// program commits is announced to the publisher before its next transaction is built, so conflicts
// with it are found in the view, never by the kernel; the unit tests make the fake backend refuse.
#include "support.hpp"

#include <warren/nft/asio.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <numeric>
#include <set>
#include <thread>

// Boost.Asio's coroutine frames come from awaitable_frame_base's own operator new and go to its own
// operator delete; GCC 12 sometimes takes the delete for a mismatch (-Wmismatched-new-delete),
// depending on what it inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

using namespace kt;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using warren::nft::AsyncHostPortPublisher;
using warren::nft::TaskPorts;

namespace {

// Long enough for any build (ASan, TSan, qemu): only a publisher that never answers reaches it.
constexpr auto hang_bound = 120s;

std::string task_name(const std::string& prefix, int i) { return prefix + "-" + std::to_string(i); }
std::string container_ip(int i) { return "10.88." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1); }
std::uint16_t port_number(int base, int i) { return static_cast<std::uint16_t>(base + i); }

// How one request ended.
struct Outcome {
    bool completed = false;
    bool failed = false;
    std::error_code code;  // of a warren::nft::Error
    std::string what;
};

void note(Outcome& outcome, const std::exception_ptr& error)
{
    outcome.completed = true;
    if (!error)
        return;
    outcome.failed = true;
    try {
        std::rethrow_exception(error);
    } catch (const Error& e) {
        outcome.code = e.code();
        outcome.what = e.what();
    } catch (const std::exception& e) {
        outcome.what = std::string("not a warren::nft::Error: ") + e.what();
    }
}

// A completion handler that records the outcome.
auto noting(Outcome& outcome)
{
    return [&outcome](std::exception_ptr error, auto&&...) { note(outcome, error); };
}

// Awaits the request `start()` begins and records how it ended. `start` is kept in the coroutine's
// frame (taken by value) until the request completed.
template <class Start>
asio::awaitable<void> recorded(Outcome& outcome, Start start)
{
    std::exception_ptr error;
    try {
        co_await start();
    } catch (...) {
        error = std::current_exception();
    }
    note(outcome, error);
}

bool all_completed(const std::vector<Outcome>& outcomes)
{
    return std::all_of(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.completed; });
}

// The failures among `outcomes`, one per line, for a check that there are none.
std::string failures(const std::vector<Outcome>& outcomes)
{
    std::string text;
    for (std::size_t i = 0; i < outcomes.size(); ++i)
        if (outcomes[i].failed)
            text += "request " + std::to_string(i) + ": " + outcomes[i].what + "\n";
    return text;
}

// Runs the io_context's handlers on this thread until `done()`.
template <class Done>
void run_until(asio::io_context& io, Done done)
{
    const auto bound = std::chrono::steady_clock::now() + hang_bound;
    while (!done() && std::chrono::steady_clock::now() < bound)
        io.run_one_for(100ms);
    REQUIRE(done());
}

// Whether the kernel's ports become `expected` (the io_context runs elsewhere).
bool kernel_reaches(const std::vector<KernelPort>& expected)
{
    const auto bound = std::chrono::steady_clock::now() + hang_bound;
    while (std::chrono::steady_clock::now() < bound) {
        try {
            if (kernel_ports() == expected)
                return true;
        } catch (const std::exception&) {
            // no map ports (yet): the repair has not committed
        }
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

std::vector<KernelPort> sorted(std::vector<KernelPort> ports)
{
    std::sort(ports.begin(), ports.end());
    return ports;
}

// A task of one TCP port, as published and as the kernel shows it.
struct OnePortTask {
    std::string id;
    std::string ip;
    PortMapping port;
    KernelPort in_kernel() const { return kernel_port(id, ip, port); }
};

OnePortTask one_port_task(const std::string& prefix, int i, int first_port)
{
    return {task_name(prefix, i), container_ip(i), tcp(port_number(first_port, i), 80)};
}

std::vector<OnePortTask> one_port_tasks(const std::string& prefix, int count, int first_port)
{
    std::vector<OnePortTask> tasks;
    for (int i = 0; i < count; ++i)
        tasks.push_back(one_port_task(prefix, i, first_port));
    return tasks;
}

// Queues the publish of `task` on `publisher` as a coroutine on `io`, recording its outcome.
void spawn_publish(asio::io_context& io, AsyncHostPortPublisher& publisher, const OnePortTask& task, Outcome& outcome)
{
    asio::co_spawn(
        io,
        recorded(outcome, [&publisher,
                           task] { return publisher.async_publish_ports(task.id, task.ip, {task.port}, asio::use_awaitable); }),
        asio::detached);
}

void spawn_unpublish(asio::io_context& io, AsyncHostPortPublisher& publisher, const std::string& task, Outcome& outcome)
{
    asio::co_spawn(io,
                   recorded(outcome, [&publisher, task] { return publisher.async_unpublish_ports(task, asio::use_awaitable); }),
                   asio::detached);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "thousands of concurrent publishes and unpublishes from coroutines", "[async]")
{
    constexpr int task_count = 2000;
    asio::io_context io;
    AsyncHostPortPublisher publisher(io.get_executor());

    const auto tasks = one_port_tasks("burst", task_count, 10000);
    std::vector<Outcome> published(task_count);
    const auto commits = monitor_transactions([&] {
        for (int i = 0; i < task_count; ++i)
            spawn_publish(io, publisher, tasks[i], published[i]);
        run_until(io, [&] { return all_completed(published); });
    });
    CHECK(failures(published).empty());
    std::vector<KernelPort> expected;
    for (const auto& task : tasks)
        expected.push_back(task.in_kernel());
    CHECK(kernel_ports() == sorted(expected));
    // The requests went together: far fewer transactions than requests (as `nft monitor` saw them).
    CHECK(commits.generations > 0);
    CHECK(commits.generations < task_count / 10);
    // No other writer here: every transaction the publisher counts was committed.
    CHECK(publisher.metrics().batches == static_cast<std::uint64_t>(commits.generations));

    // Every other task unpublished, all at once.
    std::vector<Outcome> unpublished(task_count / 2);
    for (int i = 0; i < task_count / 2; ++i)
        spawn_unpublish(io, publisher, tasks[2 * i].id, unpublished[i]);
    run_until(io, [&] { return all_completed(unpublished); });
    CHECK(failures(unpublished).empty());
    expected.clear();
    std::vector<PublishedPort> expected_read;
    for (int i = 1; i < task_count; i += 2) {
        expected.push_back(tasks[i].in_kernel());
        expected_read.push_back(PublishedPort{tasks[i].id, tasks[i].ip, tasks[i].port});
    }
    CHECK(kernel_ports() == sorted(expected));
    // A publisher of another program reads the same table.
    CHECK(HostPortPublisher().all_published_ports() == expected_read);
}

TEST_CASE_METHOD(FreshNetns, "two requests for one host port in a burst: the second is a port_conflict, no other request fails",
                 "[async][conflict]")
{
    constexpr int bystander_count = 100;
    asio::io_context io;
    AsyncHostPortPublisher publisher(io.get_executor());

    const auto bystanders = one_port_tasks("bystander", bystander_count, 10000);
    // Queued in this order, in the middle of the burst: the first claim on port 20000 wins; a claim
    // on a bystander's port queued after that bystander loses.
    const OnePortTask first{"rival-first", "10.99.0.1", tcp(20000, 80)};
    const OnePortTask second{"rival-second", "10.99.0.2", tcp(20000, 81)};
    const OnePortTask late{"rival-late", "10.99.0.3", tcp(bystanders[10].port.host_port, 82)};

    std::vector<Outcome> bystander_outcomes(bystander_count);
    Outcome first_outcome, second_outcome, late_outcome;
    for (int i = 0; i < bystander_count; ++i) {
        spawn_publish(io, publisher, bystanders[i], bystander_outcomes[i]);
        if (i == bystander_count / 2) {
            spawn_publish(io, publisher, first, first_outcome);
            spawn_publish(io, publisher, second, second_outcome);
            spawn_publish(io, publisher, late, late_outcome);
        }
    }
    run_until(io, [&] {
        return all_completed(bystander_outcomes) && first_outcome.completed && second_outcome.completed && late_outcome.completed;
    });

    CHECK(failures(bystander_outcomes).empty());
    INFO("first: " << first_outcome.what << "; second: " << second_outcome.what << "; late: " << late_outcome.what);
    CHECK_FALSE(first_outcome.failed);
    CHECK(second_outcome.failed);
    CHECK(second_outcome.code == errc::port_conflict);
    CHECK(late_outcome.failed);
    CHECK(late_outcome.code == errc::port_conflict);
    std::vector<KernelPort> expected{first.in_kernel()};
    for (const auto& task : bystanders)
        expected.push_back(task.in_kernel());
    CHECK(kernel_ports() == sorted(expected));
}

TEST_CASE_METHOD(FreshNetns, "one task's requests queued back to back are carried out in that order", "[async]")
{
    constexpr int task_count = 100;
    asio::io_context io;
    AsyncHostPortPublisher publisher(io.get_executor());

    // Tasks "again" are published first, so that their unpublish has something to remove.
    std::vector<Outcome> setup(task_count);
    for (int i = 0; i < task_count; ++i)
        spawn_publish(io, publisher, one_port_task("again", i, 20000), setup[i]);
    run_until(io, [&] { return all_completed(setup); });
    REQUIRE(failures(setup).empty());

    // Queued in one handler, so every request is waiting when the publisher next runs: per task,
    // publish then unpublish ("gone"), unpublish then publish on another port ("again"), and publish
    // then publish on another port ("moved").
    std::vector<Outcome> outcomes(6 * task_count);
    std::vector<KernelPort> expected;
    asio::post(io, [&] {
        auto outcome = outcomes.begin();
        for (int i = 0; i < task_count; ++i) {
            const auto gone = one_port_task("gone", i, 10000);
            publisher.async_publish_ports(gone.id, gone.ip, {gone.port}, noting(*outcome++));
            publisher.async_unpublish_ports(gone.id, noting(*outcome++));

            const auto again = one_port_task("again", i, 30000);
            publisher.async_unpublish_ports(again.id, noting(*outcome++));
            publisher.async_publish_ports(again.id, again.ip, {again.port}, noting(*outcome++));
            expected.push_back(again.in_kernel());

            const auto moved_from = one_port_task("moved", i, 40000);
            const auto moved_to = one_port_task("moved", i, 45000);
            publisher.async_publish_ports(moved_from.id, moved_from.ip, {moved_from.port}, noting(*outcome++));
            publisher.async_publish_ports(moved_to.id, moved_to.ip, {moved_to.port}, noting(*outcome++));
            expected.push_back(moved_to.in_kernel());
        }
    });
    run_until(io, [&] { return all_completed(outcomes); });
    CHECK(failures(outcomes).empty());
    CHECK(kernel_ports() == sorted(expected));
}

TEST_CASE_METHOD(FreshNetns, "a self-healing asynchronous publisher repairs a flushed ruleset on its io_context", "[async][heal]")
{
    constexpr int task_count = 20;
    asio::io_context io;
    // Written on the io_context's thread, read once it has been joined.
    std::vector<std::thread::id> repaired_on;
    PublisherOptions options{.self_heal = true};
    options.on_repair = [&](const warren::nft::RepairReport& report) {
        if (report.error.empty())
            repaired_on.push_back(std::this_thread::get_id());
    };
    AsyncHostPortPublisher publisher(io.get_executor(), options);
    std::thread runner([&] { io.run(); });
    const auto io_thread = runner.get_id();

    // Requests from this thread: coroutines spawned onto the io_context, results through futures.
    std::vector<KernelPort> expected;
    std::vector<std::future<std::vector<PortMapping>>> published;
    for (int i = 0; i < task_count; ++i) {
        const auto task = one_port_task("healed", i, 10000);
        expected.push_back(task.in_kernel());
        published.push_back(asio::co_spawn(
            io, [&publisher, task] { return publisher.async_publish_ports(task.id, task.ip, {task.port}, asio::use_awaitable); },
            asio::use_future));
    }
    std::string errors;
    for (auto& future : published) {
        try {
            future.get();
        } catch (const std::exception& e) {
            errors += std::string(e.what()) + "\n";
        }
    }
    CHECK(errors.empty());
    expected = sorted(expected);
    CHECK(kernel_ports() == expected);

    nft({"flush", "ruleset"});
    CHECK(kernel_reaches(expected));

    // Still serving requests after the repair.
    const auto after = one_port_task("after-repair", 0, 20000);
    CHECK_NOTHROW(
        asio::co_spawn(
            io,
            [&publisher, after] { return publisher.async_publish_ports(after.id, after.ip, {after.port}, asio::use_awaitable); },
            asio::use_future)
            .get());
    const auto read =
        asio::co_spawn(
            io, [&publisher, after] { return publisher.async_published_ports(after.id, asio::use_awaitable); }, asio::use_future)
            .get();
    CHECK(read == std::vector<PortMapping>{after.port});

    io.stop();
    runner.join();
    // The repair ran where the publisher lives: on the io_context's thread, not one of its own.
    REQUIRE_FALSE(repaired_on.empty());
    for (const auto& thread : repaired_on)
        CHECK(thread == io_thread);
    CHECK(publisher.metrics().repairs >= 1);
}

namespace {

// Publishes (or unpublishes) tasks in `workers` chains, each starting its next request from the
// completion of the previous one, and stops the io_context from the completion that makes
// `stop_after`; so a transaction may be in flight and requests queued when the publisher is
// destroyed.
struct StoppedBurst {
    std::set<std::string> succeeded;
    std::vector<std::string> failed;
    int completed = 0;
};

constexpr int ports_per_task = 4;

std::vector<PortMapping> ports_of(int i)
{
    std::vector<PortMapping> ports;
    for (int p = 0; p < ports_per_task; ++p)
        ports.push_back(tcp(port_number(10000, i * ports_per_task + p), static_cast<std::uint16_t>(80 + p)));
    return ports;
}

StoppedBurst stop_mid_burst(bool publish, const std::vector<int>& task_numbers, int workers, int stop_after)
{
    StoppedBurst result;
    asio::io_context io;
    {
        AsyncHostPortPublisher publisher(io.get_executor());
        std::function<void(std::size_t)> next = [&](std::size_t at) {
            if (at >= task_numbers.size())
                return;
            const auto i = task_numbers[at];
            const auto task = task_name("stopped", i);
            auto done = [&, task, at](std::exception_ptr error, auto&&...) {
                if (error) {
                    Outcome outcome;
                    note(outcome, error);
                    result.failed.push_back(task + ": " + outcome.what);
                } else {
                    result.succeeded.insert(task);
                }
                if (++result.completed == stop_after)
                    io.stop();
                next(at + static_cast<std::size_t>(workers));
            };
            if (publish)
                publisher.async_publish_ports(task, container_ip(i), ports_of(i), done);
            else
                publisher.async_unpublish_ports(task, done);
        };
        asio::post(io, [&] {
            for (int w = 0; w < workers; ++w)
                next(static_cast<std::size_t>(w));
        });
        io.run();  // until stopped
    }              // the publisher goes with requests queued, perhaps one transaction in flight
    return result;
}

// Checks that every task holds all its ports or none; returns the tasks that hold them.
std::set<std::string> all_or_nothing(int task_count)
{
    std::map<std::string, std::vector<KernelPort>> held;
    for (const auto& port : kernel_ports())
        held[port.comment.substr(std::string("task=").size())].push_back(port);
    std::set<std::string> whole;
    for (int i = 0; i < task_count; ++i) {
        const auto task = task_name("stopped", i);
        const auto found = held.find(task);
        if (found == held.end())
            continue;
        std::vector<KernelPort> expected;
        for (const auto& port : ports_of(i))
            expected.push_back(kernel_port(task, container_ip(i), port));
        INFO(task);
        CHECK(found->second == sorted(expected));
        whole.insert(task);
        held.erase(found);
    }
    CHECK(held.empty());  // no port of anything else
    return whole;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "an io_context stopped mid-burst leaves every task all or nothing", "[async]")
{
    constexpr int task_count = 640, workers = 16, stop_after = 200;
    std::vector<int> numbers(task_count);
    std::iota(numbers.begin(), numbers.end(), 0);

    const auto published = stop_mid_burst(true, numbers, workers, stop_after);
    // Handlers of the publisher's own executor are called as their transaction's answer is read, all
    // of that transaction's in one go: the stop takes effect after them.
    CHECK(published.completed >= stop_after);
    CHECK(published.failed.empty());
    const auto present = all_or_nothing(task_count);
    for (const auto& task : published.succeeded)
        CHECK(present.contains(task));
    CHECK(present.size() < task_count);  // stopped before the end: later requests were never sent

    // The same for unpublishing what was published, in a new publisher (which adopts the table).
    std::vector<int> present_numbers;
    for (int i = 0; i < task_count; ++i)
        if (present.contains(task_name("stopped", i)))
            present_numbers.push_back(i);
    const auto unpublished = stop_mid_burst(false, present_numbers, workers, stop_after / 2);
    CHECK(unpublished.failed.empty());
    const auto remaining = all_or_nothing(task_count);
    for (const auto& task : unpublished.succeeded)
        CHECK_FALSE(remaining.contains(task));
}

namespace {

// How a request ends, as its Outcome.
template <class Start>
asio::awaitable<Outcome> outcome_of(Start start)
{
    Outcome outcome;
    co_await recorded(outcome, std::move(start));
    co_return outcome;
}

asio::awaitable<void> reads_and_reconcile(AsyncHostPortPublisher& publisher)
{
    // Initializer lists are built outside co_await expressions: GCC 12 cannot keep their arrays
    // in the coroutine's frame ("array used as initializer").
    const std::vector<PortMapping> web = {tcp(10001, 80), udp(10002, 53)};
    const std::vector<PortMapping> old = {tcp(10003, 80)};
    co_await publisher.async_publish_ports("web", "10.88.0.2", web, asio::use_awaitable);
    co_await publisher.async_publish_ports("old", "10.88.0.3", old, asio::use_awaitable);
    const auto read_web = co_await publisher.async_published_ports("web", asio::use_awaitable);
    CHECK(read_web == web);
    const auto read_nobody = co_await publisher.async_published_ports("nobody", asio::use_awaitable);
    CHECK(read_nobody.empty());

    // Reconcile: "web" stays, "old" goes, "new" comes.
    const std::vector<TaskPorts> desired = {{"web", "10.88.0.2", web}, {"new", "10.88.0.4", {tcp(10004, 8080)}}};
    co_await publisher.async_reconcile(desired, asio::use_awaitable);
    CHECK(kernel_ports() == sorted({kernel_port("web", "10.88.0.2", web[0]), kernel_port("web", "10.88.0.2", web[1]),
                                    kernel_port("new", "10.88.0.4", tcp(10004, 8080))}));
    const auto read_old = co_await publisher.async_published_ports("old", asio::use_awaitable);
    CHECK(read_old.empty());

    // Bad input: invalid_argument, and the ruleset exactly as it was.
    const auto before = ruleset();
    const auto bad_address = co_await outcome_of(
        [&publisher] { return publisher.async_publish_ports("bad", "not-an-address", {tcp(10005, 80)}, asio::use_awaitable); });
    CHECK(bad_address.failed);
    CHECK(bad_address.code == errc::invalid_argument);
    const auto port_claimed_twice = co_await outcome_of([&publisher] {
        return publisher.async_reconcile({{"a", "10.88.0.5", {tcp(10006, 80)}}, {"b", "10.88.0.6", {tcp(10006, 80)}}},
                                         asio::use_awaitable);
    });
    CHECK(port_claimed_twice.failed);
    CHECK(port_claimed_twice.code == errc::invalid_argument);
    const auto empty_task_id =
        co_await outcome_of([&publisher] { return publisher.async_unpublish_ports("", asio::use_awaitable); });
    CHECK(empty_task_id.failed);
    CHECK(empty_task_id.code == errc::invalid_argument);
    CHECK(ruleset() == before);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "asynchronous reads and reconcile; bad input is invalid_argument and changes nothing", "[async]")
{
    asio::io_context io;
    AsyncHostPortPublisher publisher(io.get_executor());
    bool done = false;
    std::exception_ptr error;
    asio::co_spawn(io, reads_and_reconcile(publisher), [&](std::exception_ptr e) {
        error = e;
        done = true;
    });
    run_until(io, [&] { return done; });
    if (error)
        std::rethrow_exception(error);
}
