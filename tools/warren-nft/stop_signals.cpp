// SPDX-License-Identifier: Apache-2.0
#include "stop_signals.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <system_error>

namespace warren::cli {

sigset_t block_stop_signals()
{
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    if (const int error = pthread_sigmask(SIG_BLOCK, &signals, nullptr); error != 0)
        throw std::system_error(error, std::generic_category(), "block SIGINT and SIGTERM");
    return signals;
}

int wait_for_stop(const sigset_t& signals)
{
    int signal = 0;
    if (const int error = sigwait(&signals, &signal); error != 0)
        throw std::system_error(error, std::generic_category(), "wait for SIGINT or SIGTERM");
    return signal;
}

std::optional<int> wait_for_stop_until(const sigset_t& signals, std::chrono::system_clock::time_point deadline)
{
    // In slices of at most a second, measured against the wall clock each time: the deadline is a
    // time of day, which a clock step moves closer or further.
    for (;;) {
        const auto left = deadline - std::chrono::system_clock::now();
        if (left <= std::chrono::system_clock::duration::zero())
            return std::nullopt;
        const auto slice = std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::min<std::chrono::system_clock::duration>(left, std::chrono::seconds(1)));
        const timespec timeout{static_cast<time_t>(slice.count() / 1'000'000'000),
                               static_cast<long>(slice.count() % 1'000'000'000)};
        const int signal = sigtimedwait(&signals, nullptr, &timeout);
        if (signal > 0)
            return signal;
        if (errno != EAGAIN && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "wait for SIGINT or SIGTERM");
    }
}

const char* stop_signal_name(int signal) noexcept { return signal == SIGINT ? "SIGINT" : "SIGTERM"; }

}  // namespace warren::cli
