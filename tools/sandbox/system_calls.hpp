// SPDX-License-Identifier: Apache-2.0
// What the sandbox's system-call wrappers share: errors as exceptions, and waiting on one descriptor.
#pragma once

#include <chrono>
#include <string>

namespace sandbox {

// Throws std::system_error with errno and `what`, the call that failed.
[[noreturn]] void throw_errno(const std::string& what);

// Waits for `events` on fd until the deadline; false on timeout. Restarts after a signal.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline);

}  // namespace sandbox
