// SPDX-License-Identifier: Apache-2.0
#include "publisher/flow_cleaner.hpp"

#include "printable.hpp"

#include <algorithm>
#include <utility>

namespace warren::nft {

namespace {

// How long a timed request whose confirmation failed waits before it is asked again.
constexpr std::chrono::seconds confirm_retry{10};

}  // namespace

FlowCleaner::FlowCleaner(ruleset::Backend& backend, std::function<void(const std::string&)> warn, Confirm confirm)
    : backend_(backend), warn_(std::move(warn)), confirm_(std::move(confirm))
{
}

FlowCleaner::~FlowCleaner()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void FlowCleaner::forget(std::vector<ruleset::FlowMatch> flows)
{
    if (flows.empty())
        return;
    {
        std::lock_guard lock(mutex_);
        for (auto& flow : flows)
            if (std::find(pending_.begin(), pending_.end(), flow) == pending_.end())
                pending_.push_back(std::move(flow));
        start();
    }
    changed_.notify_all();
}

void FlowCleaner::forget_at(const ruleset::FlowMatch& flow, Clock::time_point when)
{
    {
        std::lock_guard lock(mutex_);
        timed_.insert_or_assign(flow, when);
        start();
    }
    changed_.notify_all();
}

void FlowCleaner::cancel(const ruleset::FlowMatch& flow)
{
    std::lock_guard lock(mutex_);
    timed_.erase(flow);
}

void FlowCleaner::wait()
{
    std::unique_lock lock(mutex_);
    const auto asked_by = Clock::now();
    changed_.wait(lock, [&] { return pending_.empty() && !busy_ && !due_now(asked_by); });
}

// The lock is held.
void FlowCleaner::start()
{
    if (!thread_.joinable())
        thread_ = std::thread([this] { run(); });
}

// The lock is held.
bool FlowCleaner::due_now(Clock::time_point now) const
{
    const auto first = earliest();
    return first && *first <= now;
}

// The lock is held.
std::optional<FlowCleaner::Clock::time_point> FlowCleaner::earliest() const
{
    std::optional<Clock::time_point> first;
    for (const auto& [flow, when] : timed_)
        if (!first || when < *first)
            first = when;
    return first;
}

void FlowCleaner::run()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        // Woken by a new request, by the first timed one coming due, and when the first time changes.
        const auto first_due = earliest();
        const auto woken = [&] { return stopping_ || !pending_.empty() || earliest() != first_due || due_now(Clock::now()); };
        if (first_due)
            changed_.wait_until(lock, *first_due, woken);
        else
            changed_.wait(lock, woken);
        if (stopping_ && pending_.empty() && !due_now(Clock::now()))
            return;  // timed requests not due are dropped: the tables keep their deadlines
        auto flows = std::exchange(pending_, {});
        std::vector<ruleset::FlowMatch> due;
        const auto now = Clock::now();
        for (auto request = timed_.begin(); request != timed_.end();)
            if (request->second <= now) {
                due.push_back(request->first);
                request = timed_.erase(request);
            } else {
                ++request;
            }
        if (flows.empty() && due.empty())
            continue;
        busy_ = true;
        lock.unlock();
        carry_out(flows, "a change was committed, but deleting the connection tracking entries it made stale failed",
                  "existing UDP or SCTP flows keep their old destination until they idle out");
        Due confirmed;
        if (!due.empty()) {
            confirmed = confirm(std::move(due));
            carry_out(confirmed.now,
                      "deleting the connection tracking entries of a drained ingress backend at its deadline failed",
                      "its connections go on until they end");
        }
        lock.lock();
        // A request made meanwhile for the same flow stands instead.
        for (auto& [flow, when] : confirmed.later)
            timed_.emplace(std::move(flow), when);
        busy_ = false;
        changed_.notify_all();
    }
}

FlowCleaner::Due FlowCleaner::confirm(std::vector<ruleset::FlowMatch> due)
{
    if (!confirm_)
        return Due{std::move(due), {}};
    std::string failure;
    try {
        return confirm_(due);
    } catch (const std::exception& e) {
        failure = printable(e.what());
    }
    Due retry;
    const auto later = Clock::now() + confirm_retry;
    for (auto& flow : due)
        retry.later.emplace_back(std::move(flow), later);
    report("could not check whether drained backends' connections are still due for deletion (" + failure +
           "): asking again in " + std::to_string(confirm_retry.count()) + " s");
    return retry;
}

void FlowCleaner::carry_out(const std::vector<ruleset::FlowMatch>& flows, const char* what, const char* consequence)
{
    if (flows.empty())
        return;
    std::string failure;
    try {
        backend_.forget_flows(flows);
    } catch (const std::exception& e) {
        failure = printable(e.what());
    }
    if (!failure.empty())
        report(std::string(what) + " (" + failure + "): " + consequence);
}

void FlowCleaner::report(const std::string& message) noexcept
{
    try {
        warn_(message);
    } catch (...) {
        // A logger's failure changes nothing.
    }
}

}  // namespace warren::nft
