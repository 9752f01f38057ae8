// SPDX-License-Identifier: Apache-2.0
#include "publisher/healer.hpp"

#include "kernel_error.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace warren::nft {

Event::Event() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
    if (fd_ < 0)
        throw kernel_error(errno, "create an eventfd for the healing thread");
}

Event::~Event() { close(fd_); }

void Event::signal() const noexcept
{
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = write(fd_, &one, sizeof one);
}

void Event::clear() const noexcept
{
    std::uint64_t count = 0;
    [[maybe_unused]] const auto drained = read(fd_, &count, sizeof count);
}

Healer::Healer(int feed_fd, const Event& wake, std::function<bool()> on_change)
    : feed_fd_(feed_fd), wake_(wake), on_change_(std::move(on_change)), thread_([this] { run(); })
{
}

Healer::~Healer()
{
    stop_.signal();
    thread_.join();
}

void Healer::run()
{
    bool retry = false;
    for (;;) {
        // After a failed repair only the stop event and the pause count.
        pollfd waiting[3] = {{stop_.fd(), POLLIN, 0}, {wake_.fd(), POLLIN, 0}, {feed_fd_, POLLIN, 0}};
        const int ready = poll(waiting, retry ? 1 : 3, retry ? static_cast<int>(repair_retry_pause.count()) : -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (waiting[0].revents)
            return;
        wake_.clear();
        retry = on_change_();
    }
}

}  // namespace warren::nft
