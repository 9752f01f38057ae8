// SPDX-License-Identifier: Apache-2.0
// Deletes stale connection tracking entries on a thread of its own. The kernel can only find the
// entries to a port by walking its whole conntrack table, which takes tens of milliseconds at
// 100,000 tracked connections: a publish must not wait for that. Clients see the same either way,
// since until the entries are gone their packets follow the old ones.
#pragma once

#include "ruleset/backend.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace warren::nft {

class FlowCleaner {
public:
    // `backend.forget_flows()` is called only from the cleaner's thread; `warn` gets one line when it fails.
    FlowCleaner(ruleset::Backend& backend, std::function<void(const std::string&)> warn);
    // Finishes what was asked for, then stops.
    ~FlowCleaner();
    FlowCleaner(const FlowCleaner&) = delete;
    FlowCleaner& operator=(const FlowCleaner&) = delete;

    // Asks for the entries of `flows` to be deleted, after those asked for before. The thread starts
    // with the first request.
    void forget(std::vector<ruleset::FlowMatch> flows);
    // Waits until every request made so far has been carried out (or has failed and been reported).
    void wait();

private:
    void run();

    ruleset::Backend& backend_;
    std::function<void(const std::string&)> warn_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<ruleset::FlowMatch> pending_;
    bool busy_ = false;
    bool stopping_ = false;
    std::thread thread_;  // last: started when the rest exists
};

}  // namespace warren::nft
