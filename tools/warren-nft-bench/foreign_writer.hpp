// SPDX-License-Identifier: Apache-2.0
// Another program committing to a table of its own, as Docker, kube-proxy or firewalld do all day on
// a node: a forked process that adds an element to a set of `table ip foreign` and deletes it again,
// one commit every period. It never touches table ip warren, but every commit moves the ruleset
// generation, which a publisher that guards its commits with the generation id (or re-reads the
// ruleset whenever it moved) has to cope with.
#pragma once

#include "process.hpp"

#include <chrono>
#include <cstdint>
#include <memory>

namespace bench {

class ForeignWriter {
public:
    // Forks the writer into the calling thread's network namespace, where it waits for start(). The
    // caller must still be single-threaded (sandbox::ForkedChild).
    explicit ForeignWriter(std::chrono::microseconds period);
    ~ForeignWriter();  // a writer still running is killed
    ForeignWriter(const ForeignWriter&) = delete;
    ForeignWriter& operator=(const ForeignWriter&) = delete;

    // Creates its table (one commit), then commits once per period until stop().
    void start();

    struct Stats {
        std::uint64_t commits = 0;  // including the one that created its table
        double seconds = 0;         // from start() to stop()
    };
    // Stops it and returns what it did; throws std::runtime_error when it failed.
    Stats stop();

private:
    int control_ = -1;  // write end of the pipe the writer waits on
    std::unique_ptr<sandbox::ForkedChild> child_;
};

}  // namespace bench
