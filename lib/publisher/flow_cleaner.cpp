// SPDX-License-Identifier: Apache-2.0
#include "publisher/flow_cleaner.hpp"

#include "printable.hpp"

#include <algorithm>
#include <utility>

namespace warren::nft {

FlowCleaner::FlowCleaner(ruleset::Backend& backend, std::function<void(const std::string&)> warn)
    : backend_(backend), warn_(std::move(warn))
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
        if (!thread_.joinable())
            thread_ = std::thread([this] { run(); });
    }
    changed_.notify_all();
}

void FlowCleaner::wait()
{
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return pending_.empty() && !busy_; });
}

void FlowCleaner::run()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
        if (pending_.empty())
            return;  // stopping, with nothing left to do
        auto flows = std::exchange(pending_, {});
        busy_ = true;
        lock.unlock();
        std::string failure;
        try {
            backend_.forget_flows(flows);
        } catch (const std::exception& e) {
            failure = printable(e.what());
        }
        if (!failure.empty()) {
            try {
                warn_("a change was committed, but deleting the connection tracking entries it made stale failed (" + failure +
                      "): existing UDP or SCTP flows keep their old destination until they idle out");
            } catch (...) {
                // A logger's failure changes nothing.
            }
        }
        lock.lock();
        busy_ = false;
        changed_.notify_all();
    }
}

}  // namespace warren::nft
