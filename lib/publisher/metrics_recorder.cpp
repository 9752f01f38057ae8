// SPDX-License-Identifier: Apache-2.0
#include "publisher/metrics_recorder.hpp"

#include "metrics/errc_name.hpp"

#include <algorithm>

namespace warren::nft {

void MetricsRecorder::Histogram::observe(std::chrono::steady_clock::duration duration)
{
    const double seconds = std::chrono::duration<double>(duration).count();
    // The first bucket whose bound is at least the observation (Prometheus buckets are "le").
    const auto bucket = std::lower_bound(duration_buckets.begin(), duration_buckets.end(), seconds) - duration_buckets.begin();
    ++counts[static_cast<std::size_t>(bucket)];
    sum += seconds;
}

DurationHistogram MetricsRecorder::Histogram::snapshot() const
{
    DurationHistogram out;
    out.bounds.assign(duration_buckets.begin(), duration_buckets.end());
    out.cumulative.reserve(duration_buckets.size());
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < duration_buckets.size(); ++i)
        out.cumulative.push_back(total += counts[i]);
    out.count = total + counts.back();
    out.sum = sum;
    return out;
}

void MetricsRecorder::finished(Operation operation, std::chrono::steady_clock::duration duration, const std::error_code* error)
{
    std::lock_guard lock(mutex_);
    (operation == Operation::publish ? publish_ : unpublish_).observe(duration);
    if (error)
        ++errors_[std::string(error_label(*error))];
}

void MetricsRecorder::error(const std::error_code& code)
{
    std::lock_guard lock(mutex_);
    ++errors_[std::string(error_label(code))];
}

void MetricsRecorder::batch()
{
    std::lock_guard lock(mutex_);
    ++batches_;
}

void MetricsRecorder::retry()
{
    std::lock_guard lock(mutex_);
    ++retries_;
}

void MetricsRecorder::repair(std::chrono::steady_clock::duration duration, bool succeeded)
{
    std::lock_guard lock(mutex_);
    repair_.observe(duration);
    repairs_ += succeeded;
}

void MetricsRecorder::dump()
{
    std::lock_guard lock(mutex_);
    ++dumps_;
}

MetricsSnapshot MetricsRecorder::snapshot() const
{
    std::lock_guard lock(mutex_);
    MetricsSnapshot out;
    out.publish_duration = publish_.snapshot();
    out.unpublish_duration = unpublish_.snapshot();
    out.repair_duration = repair_.snapshot();
    out.errors = errors_;
    out.batches = batches_;
    out.retries = retries_;
    out.repairs = repairs_;
    out.dumps = dumps_;
    return out;
}

}  // namespace warren::nft
