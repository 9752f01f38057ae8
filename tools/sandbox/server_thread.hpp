// SPDX-License-Identifier: Apache-2.0
// The thread of a server in the sandbox, and how it ends: the serving function polls a stop
// descriptor beside its sockets and returns once it is readable; stop() makes it readable and joins
// the thread. A server declares its ServerThread after everything the thread uses (its sockets
// among them), so that the thread has ended before any of that is destroyed.
#pragma once

#include "owned_fd.hpp"

#include <functional>
#include <thread>

namespace sandbox {

class ServerThread {
public:
    // Runs `serve` on a thread of its own; its argument is the stop descriptor (an eventfd).
    explicit ServerThread(std::function<void(int stop)> serve);
    ~ServerThread() { stop(); }
    ServerThread(const ServerThread&) = delete;
    ServerThread& operator=(const ServerThread&) = delete;

    // Signals the serving function to return and waits until it has; later calls do nothing.
    void stop();

private:
    OwnedFd stop_;
    std::thread thread_;
};

}  // namespace sandbox
