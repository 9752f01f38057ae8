// SPDX-License-Identifier: Apache-2.0
// The repairs a self-healing publisher reports, for a kernel test to wait on.
#pragma once

#include "support.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace kt {

// What a self-healing publisher reported, for a test to wait on.
class Reports {
public:
    PublisherOptions options()
    {
        return PublisherOptions{.self_heal = true, .on_repair = [this](const warren::nft::RepairReport& report) {
                                    std::lock_guard lock(mutex_);
                                    reports_.push_back(report);
                                    changed_.notify_all();
                                }};
    }
    // Waits until `count` reports arrived; returns them all.
    std::vector<warren::nft::RepairReport> wait_for(std::size_t count,
                                                    std::chrono::milliseconds timeout = std::chrono::seconds(5))
    {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, timeout, [&] { return reports_.size() >= count; });
        return reports_;
    }
    std::size_t size()
    {
        std::lock_guard lock(mutex_);
        return reports_.size();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<warren::nft::RepairReport> reports_;
};

}  // namespace kt
