// SPDX-License-Identifier: Apache-2.0
// A public call of a publisher as its metrics and log see it: how long a publish or unpublish took,
// how each failed call failed, and the kernel's reason when it refused a change.
#pragma once

#include "printable.hpp"
#include "publisher/log.hpp"
#include "publisher/metrics_recorder.hpp"

#include <warren/nft/error.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace warren::nft {

// Runs `call` (validation included) and records it: its duration when it is a publish or unpublish
// (`operation`), its error by errc name when it throws (then rethrown as it is). An Error that
// carries the kernel's errno is also logged as a warning, with the kernel's reason; not a
// port_conflict, which the publisher found in its view (and the caller gets as its result), nor an
// error found before anything was sent.
template <typename Call>
auto observed_call(MetricsRecorder& metrics, const Log& log, std::optional<MetricsRecorder::Operation> operation, Call&& call)
{
    const auto start = std::chrono::steady_clock::now();
    const auto failed = [&](const std::error_code& code) {
        if (operation)
            metrics.finished(*operation, std::chrono::steady_clock::now() - start, &code);
        else
            metrics.error(code);
    };
    try {
        if constexpr (std::is_void_v<decltype(std::forward<Call>(call)())>) {
            std::forward<Call>(call)();
            if (operation)
                metrics.finished(*operation, std::chrono::steady_clock::now() - start, nullptr);
        } else {
            auto result = std::forward<Call>(call)();
            if (operation)
                metrics.finished(*operation, std::chrono::steady_clock::now() - start, nullptr);
            return result;
        }
    } catch (const Error& e) {
        failed(e.code());
        if (e.kernel_errno() != 0 && e.code() != errc::port_conflict && log.enabled())
            log(LogLevel::warning, "refused by the kernel: " + printable(e.what(), Backslash::keep));
        throw;
    } catch (const std::system_error& e) {
        failed(e.code());
        throw;
    } catch (...) {
        failed(std::error_code());  // not an Error (out of memory): counted as "other"
        throw;
    }
}

}  // namespace warren::nft
