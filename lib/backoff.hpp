// SPDX-License-Identifier: Apache-2.0
// Retry pacing for optimistic concurrency: when another writer's commit invalidates our view, wait a
// random, growing while before the next attempt, so that two busy writers take turns instead of
// invalidating each other forever.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <thread>

namespace warren::nft {

class Backoff {
public:
    // Attempts allowed in all; with the waits below they span about half a second of contention.
    static constexpr int max_attempts = 64;

    // Returns false when the attempts are used up; otherwise waits (not before the second attempt)
    // and returns true.
    bool next()
    {
        const auto wait = next_wait();
        if (wait && wait->count() > 0)
            std::this_thread::sleep_for(*wait);
        return wait.has_value();
    }

    // The same for callers that must not sleep: how long to wait before the next attempt (zero
    // before the second), std::nullopt when the attempts are used up.
    std::optional<std::chrono::microseconds> next_wait()
    {
        if (++attempt_ >= max_attempts)
            return std::nullopt;
        if (attempt_ == 1)
            return std::chrono::microseconds(0);
        const auto ceiling = std::min<long>(max_wait_us, first_wait_us << std::min(attempt_, 16));
        std::uniform_int_distribution<long> wait(ceiling / 2, ceiling);
        return std::chrono::microseconds(wait(engine()));
    }

    int attempts() const noexcept { return attempt_; }

private:
    static constexpr long first_wait_us = 25;
    static constexpr long max_wait_us = 8000;
    // Seeded once per thread, on the first wait: a std::random_device per call cost a publish
    // about a tenth of its time (warren-nft-bench), and most calls never wait.
    static std::minstd_rand& engine()
    {
        thread_local std::minstd_rand random{std::random_device{}()};
        return random;
    }

    int attempt_ = 0;
};

}  // namespace warren::nft
