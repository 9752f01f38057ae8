// SPDX-License-Identifier: Apache-2.0
#include "server_thread.hpp"

#include "system_calls.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <utility>

namespace sandbox {

ServerThread::ServerThread(std::function<void(int stop)> serve) : stop_(eventfd(0, EFD_CLOEXEC))
{
    if (stop_.get() < 0)
        throw_errno("eventfd");
    thread_ = std::thread([serve = std::move(serve), stop = stop_.get()] { serve(stop); });
}

void ServerThread::stop()
{
    if (!thread_.joinable())
        return;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto ignored = write(stop_.get(), &one, sizeof one);
    thread_.join();
}

}  // namespace sandbox
