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
    : feed_fd_(feed_fd),
      on_change_(std::move(on_change)),
      stop_fd_(eventfd(0, EFD_CLOEXEC)),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
    if (stop_fd_ < 0 || wake_fd_ < 0) {
        const int error = errno;
        close(stop_fd_);
        close(wake_fd_);
        throw kernel_error(error, "create the healing thread's events");
    }
    thread_ = std::thread([this] { run(); });
}

void Healer::wake()
{
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = write(wake_fd_, &one, sizeof one);
}

Healer::~Healer()
{
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = write(stop_fd_, &one, sizeof one);
    thread_.join();
    close(stop_fd_);
    close(wake_fd_);
}

void Healer::run()
{
    bool retry = false;
    for (;;) {
        pollfd waiting[3] = {{feed_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        const int ready = poll(waiting, 3, retry ? retry_after_ms : -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (waiting[1].revents)
            return;
        if (waiting[2].revents) {
            std::uint64_t count = 0;
            [[maybe_unused]] const auto drained = read(wake_fd_, &count, sizeof count);
        }
        retry = on_change_();
    }
}

}  // namespace warren::nft
