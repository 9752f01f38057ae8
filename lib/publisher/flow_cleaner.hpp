// SPDX-License-Identifier: Apache-2.0
// Deletes stale connection tracking entries on a thread of its own. The kernel can only find the
// entries to a port by walking its whole conntrack table, which takes tens of milliseconds at
// 100,000 tracked connections: a publish must not wait for that. Clients see the same either way,
// since until the entries are gone their packets follow the old ones.
// Deletions may also be asked for at a time (a drained ingress backend's deadline): the thread
// carries them out when they are due, after asking whether they still should be.
#pragma once

#include "ruleset/backend.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace warren::nft {

class FlowCleaner {
public:
    using Clock = std::chrono::system_clock;
    // What to do with timed requests that are due: which flows to delete now, which to ask again
    // later (at the time given), the rest dropped.
    struct Due {
        std::vector<ruleset::FlowMatch> now;
        std::vector<std::pair<ruleset::FlowMatch, Clock::time_point>> later;
    };
    // Called on the cleaner's thread with the timed requests that are due; may throw (they are asked
    // again a little later). Without one, every due request is carried out.
    using Confirm = std::function<Due(std::vector<ruleset::FlowMatch>)>;

    // `backend.forget_flows()` is called only from the cleaner's thread; `warn` gets one line when it fails.
    FlowCleaner(ruleset::Backend& backend, std::function<void(const std::string&)> warn, Confirm confirm = {});
    // Finishes the requests made and the timed ones due by now, then stops; the other timed ones are
    // dropped.
    ~FlowCleaner();
    FlowCleaner(const FlowCleaner&) = delete;
    FlowCleaner& operator=(const FlowCleaner&) = delete;

    // Asks for the entries of `flows` to be deleted, after those asked for before. The thread starts
    // with the first request.
    void forget(std::vector<ruleset::FlowMatch> flows);
    // Asks for the entries of `flow` to be deleted at `when` (at once if it has passed), instead of
    // at the time asked for it before.
    void forget_at(const ruleset::FlowMatch& flow, Clock::time_point when);
    // Drops the timed request for `flow`, if there is one and it is not being carried out.
    void cancel(const ruleset::FlowMatch& flow);
    // Waits until every request made so far, and every timed one due by now, has been carried out
    // (or has failed and been reported).
    void wait();

private:
    void start();
    void run();
    bool due_now(Clock::time_point now) const;
    std::optional<Clock::time_point> earliest() const;
    // Outside the lock: deletes `flows`; a failure is reported as `what` failed, with its `consequence`.
    void carry_out(const std::vector<ruleset::FlowMatch>& flows, const char* what, const char* consequence);
    Due confirm(std::vector<ruleset::FlowMatch> due);
    // Passes `message` to warn_; a logger that throws is ignored.
    void report(const std::string& message) noexcept;

    ruleset::Backend& backend_;
    std::function<void(const std::string&)> warn_;
    Confirm confirm_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<ruleset::FlowMatch> pending_;
    std::map<ruleset::FlowMatch, Clock::time_point> timed_;  // a flow has at most one time
    bool busy_ = false;
    bool stopping_ = false;
    std::thread thread_;  // last: started when the rest exists
};

}  // namespace warren::nft
