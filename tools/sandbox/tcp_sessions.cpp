// SPDX-License-Identifier: Apache-2.0
#include "tcp_sessions.hpp"

#include "socket_address.hpp"
#include "system_calls.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

namespace sandbox {

namespace {

// A SessionServer's listening socket: dual-stack, so one socket serves both families.
OwnedFd listening_socket(const Netns& netns, std::uint16_t port)
{
    OwnedFd listener(netns.run([] { return socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); }));
    if (listener.get() < 0)
        throw_errno("session server socket");
    const int one = 1, zero = 0;
    setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(listener.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0)
        throw_errno("session server IPV6_V6ONLY off");
    const auto sa = any_address(AF_INET6, port);
    if (bind(listener.get(), sa.get(), sa.length) != 0)
        throw_errno("session server bind port " + std::to_string(port));
    if (listen(listener.get(), 512) != 0)
        throw_errno("session server listen");
    return listener;
}

}  // namespace

SessionServer::SessionServer(const Netns& netns, std::uint16_t port, std::string tag)
    : tag_(std::move(tag)), socket_(listening_socket(netns, port)), thread_([this](int stop) { serve(stop); })
{
}

SessionServer::SessionServer(const Netns& netns, std::uint16_t port, LocalAddressTag)
    : socket_(listening_socket(netns, port)), thread_([this](int stop) { serve(stop); })
{
}

std::string SessionServer::tag_of(int connection) const
{
    if (tag_)
        return *tag_;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (getsockname(connection, reinterpret_cast<sockaddr*>(&local), &length) != 0)
        return std::string("getsockname: ") + std::strerror(errno);
    return ip_of(local);
}

std::uint64_t SessionServer::accepted() const
{
    std::lock_guard lock(mutex_);
    return accepted_;
}

void SessionServer::serve(int stop)
{
    // fds[0] the stop eventfd, fds[1] the listening socket, then one per open connection.
    std::vector<pollfd> fds{{stop, POLLIN, 0}, {socket_.get(), POLLIN, 0}};
    for (;;) {
        if (poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[0].revents)
            break;
        std::vector<pollfd> next(fds.begin(), fds.begin() + 2);
        for (std::size_t i = 2; i < fds.size(); ++i) {
            const int connection = fds[i].fd;
            if (!fds[i].revents) {
                next.push_back({connection, POLLIN, 0});
                continue;
            }
            char buffer[2048];
            const auto r = recv(connection, buffer, sizeof buffer, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                next.push_back({connection, POLLIN, 0});
                continue;
            }
            if (r <= 0) {  // closed or reset by the peer
                close(connection);
                continue;
            }
            const std::string reply = tag_of(connection) + ":" + std::string(buffer, static_cast<std::size_t>(r));
            send(connection, reply.data(), reply.size(), MSG_NOSIGNAL);
            next.push_back({connection, POLLIN, 0});
        }
        if (fds[1].revents)
            for (;;) {
                const int connection = accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (connection < 0)
                    break;
                next.push_back({connection, POLLIN, 0});
                std::lock_guard lock(mutex_);
                ++accepted_;
            }
        fds = std::move(next);
    }
    for (std::size_t i = 2; i < fds.size(); ++i)
        close(fds[i].fd);
}

TcpSession::TcpSession(const Netns& from, const std::string& ip, std::uint16_t port, std::chrono::milliseconds timeout)
{
    const auto target = socket_address(ip, port);
    socket_ = from.run([&] { return socket(target.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); });
    if (socket_ < 0)
        throw_errno("session socket");
    if (connect(socket_, target.get(), target.length) != 0 && errno != EINPROGRESS) {
        error_ = std::string("connect: ") + std::strerror(errno);
        return;
    }
    if (!wait_for(socket_, POLLOUT, std::chrono::steady_clock::now() + timeout)) {
        error_ = "timeout while connecting";
        return;
    }
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(socket_, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
        error_ = std::string("connect: ") + std::strerror(error);
        return;
    }
    connected_ = true;
}

TcpSession::~TcpSession() { close(socket_); }

Exchange TcpSession::exchange(const std::string& message, std::chrono::milliseconds timeout)
{
    Exchange result;
    if (!connected_) {
        result.error = "not connected: " + error_;
        return result;
    }
    if (send(socket_, message.data(), message.size(), MSG_NOSIGNAL) < 0) {
        result.error = std::string("send: ") + std::strerror(errno);
        return result;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string reply;
    // The answer ends with the message; it may arrive in more than one segment.
    while (reply.size() < message.size() || reply.compare(reply.size() - message.size(), message.size(), message) != 0) {
        if (!wait_for(socket_, POLLIN, deadline)) {
            result.error = "timeout waiting for the reply" + (reply.empty() ? std::string() : " (partial: " + reply + ")");
            return result;
        }
        char buffer[2048];
        const auto r = recv(socket_, buffer, sizeof buffer, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0) {
            result.error = std::string("recv: ") + std::strerror(errno);
            return result;
        }
        if (r == 0) {
            result.error = "closed by the peer" + (reply.empty() ? std::string() : " (partial: " + reply + ")");
            return result;
        }
        reply.append(buffer, static_cast<std::size_t>(r));
    }
    result.replied = true;
    result.reply = std::move(reply);
    return result;
}

}  // namespace sandbox
