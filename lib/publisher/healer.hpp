// SPDX-License-Identifier: Apache-2.0
// The thread of a self-healing publisher: waits until the kernel announces a change (the feed's
// descriptor polls readable) or the publisher asks it to look, and lets the publisher look, until
// the publisher stops it.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace warren::nft {

// How long a failed repair waits before it is tried again: long enough not to spin against a kernel
// that keeps refusing, short enough that ports do not stay dead for long.
constexpr std::chrono::milliseconds repair_retry_pause{1000};

// An eventfd: any thread signals it, a polling thread sees it readable until it clears it.
class Event {
public:
    Event();  // throws Error
    ~Event();
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    int fd() const noexcept { return fd_; }
    void signal() const noexcept;
    void clear() const noexcept;

private:
    int fd_;
};

class Healer {
public:
    // Calls `on_change` on its own thread whenever `feed_fd` polls readable or `wake` is signalled
    // (damage that another thread's read of the feed came across first). When `on_change` returns
    // true (a repair failed), it is called again after a pause, and not before, even if the feed
    // stays readable: a kernel that keeps refusing is not asked again and again.
    Healer(int feed_fd, const Event& wake, std::function<bool()> on_change);
    // Stops the thread and waits for it: `on_change` is not running and is never called again.
    ~Healer();
    Healer(const Healer&) = delete;
    Healer& operator=(const Healer&) = delete;

private:
    void run();

    int feed_fd_;
    const Event& wake_;
    std::function<bool()> on_change_;
    Event stop_;
    std::thread thread_;
};

}  // namespace warren::nft
