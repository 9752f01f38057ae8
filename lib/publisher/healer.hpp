// SPDX-License-Identifier: Apache-2.0
// The thread of a self-healing publisher: waits until the kernel announces a change (the feed's
// descriptor polls readable) and lets the publisher look at it, until the publisher stops it.
#pragma once

#include <functional>
#include <thread>

namespace warren::nft {

class Healer {
public:
    // Calls `on_change` on its own thread whenever `feed_fd` polls readable. When `on_change`
    // returns true (a repair failed and should be tried again), it is called again after a pause
    // even if nothing else changes.
    Healer(int feed_fd, std::function<bool()> on_change);
    // Makes the thread call `on_change` soon, as if the feed were readable: for damage that another
    // thread's read of the feed came across first.
    void wake();
    // Stops the thread and waits for it: `on_change` is not running and is never called again.
    ~Healer();
    Healer(const Healer&) = delete;
    Healer& operator=(const Healer&) = delete;

private:
    void run();

    int feed_fd_;
    std::function<bool()> on_change_;
    int stop_fd_;  // an eventfd, written once to stop
    int wake_fd_;  // an eventfd, written by wake()
    std::thread thread_;
};

}  // namespace warren::nft
