// SPDX-License-Identifier: Apache-2.0
// SIGINT and SIGTERM as requests to stop waiting: commands that wait (watch, drain --deadline) block
// them before any thread starts, so that they end a wait and never the process in the middle of a
// change.
#pragma once

#include <signal.h>

#include <chrono>
#include <optional>

namespace warren::cli {

// Blocks SIGINT and SIGTERM in the calling thread, and in the threads it starts from now on; returns
// them. Must be called while the process has a single thread. Throws std::system_error.
sigset_t block_stop_signals();
// Waits for one of `signals`; returns it. Throws std::system_error.
int wait_for_stop(const sigset_t& signals);
// Waits for one of `signals` until `deadline`; returns it, or nullopt once the deadline passed.
std::optional<int> wait_for_stop_until(const sigset_t& signals, std::chrono::system_clock::time_point deadline);
// "SIGINT" or "SIGTERM".
const char* stop_signal_name(int signal) noexcept;

}  // namespace warren::cli
