// SPDX-License-Identifier: Apache-2.0
// What a publisher has done, counted as it happens, for metrics(): the counters and histograms of
// a MetricsSnapshot (its gauges are read from the table when asked for). Thread-safe: the caller's
// thread, the healing thread and an event loop all record into one.
#pragma once

#include <warren/nft/metrics.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

namespace warren::nft {

// The upper bounds of the duration histograms, in seconds: 100 µs (a small commit on an idle host)
// to 10 s (a very large table read and rewritten on a busy one), 1-2.5-5 per decade.
inline constexpr std::array<double, 16> duration_buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

class MetricsRecorder {
public:
    enum class Operation { publish, unpublish };

    // One publish or unpublish request, from its call to its result, validation errors included;
    // `error` is null on success, else also counted by error().
    void finished(Operation operation, std::chrono::steady_clock::duration duration, const std::error_code* error);
    // A request failed with `code` (errors_total by errc name).
    void error(const std::error_code& code);
    // A transaction was sent to the kernel.
    void batch();
    // A transaction was sent again, or planned again, after another writer's commit (ruleset_changed).
    void retry();
    // A self-healing publisher's repair attempt: every attempt is observed in repair_duration; only
    // those that committed count in repairs.
    void repair(std::chrono::steady_clock::duration duration, bool succeeded);
    // A table was read from the kernel.
    void dump();

    // The counters and histograms so far; the gauges (ports_published, destinations) left empty.
    MetricsSnapshot snapshot() const;

private:
    // Observations per bucket (not cumulative); the last one is +Inf.
    struct Histogram {
        std::array<std::uint64_t, duration_buckets.size() + 1> counts{};
        double sum = 0;

        void observe(std::chrono::steady_clock::duration duration);
        DurationHistogram snapshot() const;
    };

    mutable std::mutex mutex_;
    Histogram publish_;
    Histogram unpublish_;
    Histogram repair_;
    std::map<std::string, std::uint64_t> errors_;
    std::uint64_t batches_ = 0;
    std::uint64_t retries_ = 0;
    std::uint64_t repairs_ = 0;
    std::uint64_t dumps_ = 0;
};

}  // namespace warren::nft
