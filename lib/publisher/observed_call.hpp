// SPDX-License-Identifier: Apache-2.0
// A public call of a publisher as its metrics and log see it: how long a publish or unpublish took,
// how each failed call failed, and the kernel's reason when it refused a change.
#pragma once

#include "printable.hpp"
#include "publisher/log.hpp"
#include "publisher/metrics_recorder.hpp"

#include <warren/nft/error.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace warren::nft {

// Records how a call ended: its duration when it is a publish or unpublish (`operation`), its error
// by errc name when it failed (`error`). An Error that carries the kernel's errno is also logged as
// a warning, with the kernel's reason; not a port_conflict, which the publisher found in its view
// (and the caller gets as its result), nor an error found before anything was sent.
void record_outcome(MetricsRecorder& metrics, const Log& log, std::optional<MetricsRecorder::Operation> operation,
                    std::chrono::steady_clock::duration took, const std::exception_ptr& error);

// Runs `call` (validation included) and records it (record_outcome()); what it throws is rethrown
// as it is.
template <typename Call>
auto observed_call(MetricsRecorder& metrics, const Log& log, std::optional<MetricsRecorder::Operation> operation, Call&& call)
{
    const auto start = std::chrono::steady_clock::now();
    try {
        if constexpr (std::is_void_v<decltype(std::forward<Call>(call)())>) {
            std::forward<Call>(call)();
            record_outcome(metrics, log, operation, std::chrono::steady_clock::now() - start, nullptr);
        } else {
            auto result = std::forward<Call>(call)();
            record_outcome(metrics, log, operation, std::chrono::steady_clock::now() - start, nullptr);
            return result;
        }
    } catch (...) {
        record_outcome(metrics, log, operation, std::chrono::steady_clock::now() - start, std::current_exception());
        throw;
    }
}

}  // namespace warren::nft
