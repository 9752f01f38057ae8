// SPDX-License-Identifier: Apache-2.0
#include "publisher/healer.hpp"

#include "kernel_error.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace warren::nft {

namespace {
// How long a failed repair waits before it is tried again without any new change: long enough not
// to spin against a kernel that keeps refusing, short enough that ports do not stay dead for long.
constexpr int retry_after_ms = 1000;
}  // namespace

Healer::Healer(int feed_fd, std::function<bool()> on_change)
    : feed_fd_(feed_fd), on_change_(std::move(on_change)), stop_fd_(eventfd(0, EFD_CLOEXEC))
{
    if (stop_fd_ < 0)
        throw kernel_error(errno, "create the healing thread's stop event");
    thread_ = std::thread([this] { run(); });
}

Healer::~Healer()
{
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = write(stop_fd_, &one, sizeof one);
    thread_.join();
    close(stop_fd_);
}

void Healer::run()
{
    bool retry = false;
    for (;;) {
        pollfd waiting[2] = {{feed_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
        const int ready = poll(waiting, 2, retry ? retry_after_ms : -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (waiting[1].revents)
            return;
        retry = on_change_();
    }
}

}  // namespace warren::nft
