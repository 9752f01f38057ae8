// SPDX-License-Identifier: Apache-2.0
#include "system_calls.hpp"

#include <poll.h>

#include <cerrno>
#include <system_error>

namespace sandbox {

void throw_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0)
            return false;
        pollfd pfd{fd, events, 0};
        const int ready = poll(&pfd, 1, static_cast<int>(left));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            throw_errno("poll");
        if (ready > 0)
            return true;
    }
}

}  // namespace sandbox
