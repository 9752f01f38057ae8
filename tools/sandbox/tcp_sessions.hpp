// SPDX-License-Identifier: Apache-2.0
// Long-lived TCP connections: a server that keeps every connection open and answers each message on
// it, and a client connection to hold across a change and exchange data on later. EchoServer
// answers one message per connection and closes it, which cannot show that an established
// connection survives.
#pragma once

#include "netns.hpp"
#include "owned_fd.hpp"
#include "server_thread.hpp"
#include "traffic.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace sandbox {

// Accepts TCP connections on `port` (both families, one dual-stack socket) in `netns` and answers
// every message received on each as "<tag>:<message>", until the peer closes it. Serves any number
// of connections at once, on one thread.
class SessionServer {
public:
    // The tag of a server whose answers name the local address each connection reached
    // ("10.201.0.7:<message>", "fd00:201::7:<message>"): tells apart the addresses of one namespace.
    struct LocalAddressTag {};

    SessionServer(const Netns& netns, std::uint16_t port, std::string tag);
    SessionServer(const Netns& netns, std::uint16_t port, LocalAddressTag);
    SessionServer(const SessionServer&) = delete;
    SessionServer& operator=(const SessionServer&) = delete;

    std::uint64_t accepted() const;

private:
    void serve(int stop);
    std::string tag_of(int connection) const;

    std::optional<std::string> tag_;  // nullopt: the connection's local address
    OwnedFd socket_;
    mutable std::mutex mutex_;
    std::uint64_t accepted_ = 0;
    ServerThread thread_;  // last: stopped before the members it uses are destroyed
};

// A TCP connection from `from` to ip:port, with a source port the kernel picks. connected() says
// whether the handshake completed within the timeout; error() why not.
class TcpSession {
public:
    TcpSession(const Netns& from, const std::string& ip, std::uint16_t port,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));
    ~TcpSession();
    TcpSession(const TcpSession&) = delete;
    TcpSession& operator=(const TcpSession&) = delete;

    bool connected() const { return connected_; }
    const std::string& error() const { return error_; }
    // Sends `message` and waits for one answer (a SessionServer's "<tag>:<message>").
    Exchange exchange(const std::string& message, std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));

private:
    int socket_ = -1;
    bool connected_ = false;
    std::string error_;
};

}  // namespace sandbox
