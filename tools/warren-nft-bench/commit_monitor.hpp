// SPDX-License-Identifier: Apache-2.0
// The kernel's announcement of every nf_tables commit in the calling thread's network namespace
// (NEWGEN on NFNLGRP_NFTABLES), timestamped as it arrives by a thread of its own. The heal mode's
// clock for "the damaging commit completed" and "the repair committed": it comes from the kernel and
// is read by the benchmark itself, not by the library under test.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bench {

struct Commit {
    std::chrono::steady_clock::time_point seen;  // when this process received the announcement
    std::uint32_t generation = 0;
    std::uint32_t pid = 0;  // of the committing task (a thread id when a thread committed)
    std::string process;    // its name (comm), e.g. "nft"
};

class CommitMonitor {
public:
    // Subscribes in the calling thread's network namespace and starts reading.
    CommitMonitor();
    ~CommitMonitor();
    CommitMonitor(const CommitMonitor&) = delete;
    CommitMonitor& operator=(const CommitMonitor&) = delete;

    // How many commits were announced so far: an index for wait_for().
    std::size_t count() const;
    // The first commit from index `from` on that satisfies `match`, waiting up to `timeout` for it.
    std::optional<Commit> wait_for(std::size_t from, const std::function<bool(const Commit&)>& match,
                                   std::chrono::milliseconds timeout) const;
    // Waits until no commit has been announced for `quiet` (counted from the call at the earliest),
    // for at most `timeout`.
    void wait_until_quiet(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const;
    // Whether the kernel dropped announcements because the socket's queue was full (ENOBUFS).
    bool lost_some() const;
    // Whether the reading thread got a real-time priority (it does where the process may set one).
    bool realtime() const { return realtime_; }

private:
    void read_loop();

    int socket_ = -1;
    int stop_ = -1;  // eventfd
    mutable std::mutex mutex_;
    mutable std::condition_variable announced_;
    std::vector<Commit> commits_;
    bool lost_ = false;
    std::thread thread_;
    bool realtime_ = false;
};

}  // namespace bench
