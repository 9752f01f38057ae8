// SPDX-License-Identifier: Apache-2.0
#include "traffic.hpp"

#include "process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace sandbox {

namespace {

[[noreturn]] void throw_errno(const std::string& what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

sockaddr_in address(const std::string& ip, std::uint16_t port)
{
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1)
        throw std::invalid_argument("not an IPv4 address: " + ip);
    return sa;
}

std::string ip_of(const sockaddr_in& sa)
{
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &sa.sin_addr, text, sizeof text);
    return text;
}

int socket_type(Transport transport) { return transport == Transport::tcp ? SOCK_STREAM : SOCK_DGRAM; }

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
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

std::atomic<std::uint16_t> next_source_port{21000};

std::uint16_t fresh_source_port()
{
    const auto port = next_source_port.fetch_add(1);
    if (port >= 32000)  // below the ephemeral range; no caller needs this many
        throw std::runtime_error("out of unused source ports");
    return port;
}

struct Fd {
    int fd = -1;
    ~Fd()
    {
        if (fd >= 0)
            close(fd);
    }
};

}  // namespace

Topology::Topology() : host(Netns::current()), client(Netns::create()), container(Netns::create())
{
    // Host side: both veth pairs, their peers moved straight into the client and container namespaces.
    Command host_setup;
    host_setup.argv = {"ip", "-batch", "-"};
    host_setup.pass_fds = {client.fd(), container.fd()};
    host_setup.input = std::string("link add kt-client type veth peer name eth0 netns /proc/self/fd/3\n") +
                       "link add kt-ctr type veth peer name eth0 netns /proc/self/fd/4\n" +
                       "addr add " + host_client_side_ip + "/24 dev kt-client\n" +
                       "addr add " + host_container_side_ip + "/24 dev kt-ctr\n" +
                       "link set lo up\n"
                       "link set kt-client up\n"
                       "link set kt-ctr up\n";
    check_output(host_setup);
    write_net_sysctl("net/ipv4/ip_forward", "1");

    const auto setup_peer = [](const Netns& netns, const std::string& ip, const std::string& gateway) {
        Command peer;
        peer.argv = {"ip", "-batch", "-"};
        peer.netns = &netns;
        peer.input = "addr add " + ip + "/24 dev eth0\n" + "link set eth0 up\n" + "link set lo up\n" +
                     "route add default via " + gateway + "\n";
        check_output(peer);
    };
    setup_peer(client, client_ip, host_client_side_ip);
    setup_peer(container, container_ip, host_container_side_ip);
}

EchoServer::EchoServer(const Netns& netns, Transport transport, std::uint16_t port, std::string tag)
    : transport_(transport), tag_(std::move(tag))
{
    socket_ = netns.run([&] { return socket(AF_INET, socket_type(transport) | SOCK_CLOEXEC, 0); });
    if (socket_ < 0)
        throw_errno("echo server socket");
    const int one = 1;
    setsockopt(socket_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const auto sa = address("0.0.0.0", port);
    if (bind(socket_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
        throw_errno("echo server bind port " + std::to_string(port));
    if (transport == Transport::tcp && listen(socket_, 16) != 0)
        throw_errno("echo server listen");
    if (pipe2(stop_, O_CLOEXEC) != 0)
        throw_errno("pipe2");
    thread_ = std::thread([this] { serve(); });
}

EchoServer::~EchoServer()
{
    if (stop_[1] >= 0) {
        const char byte = 0;
        [[maybe_unused]] const auto ignored = write(stop_[1], &byte, 1);
    }
    if (thread_.joinable())
        thread_.join();
    for (const int fd : {socket_, stop_[0], stop_[1]})
        if (fd >= 0)
            close(fd);
}

std::vector<std::string> EchoServer::peers() const
{
    std::lock_guard lock(mutex_);
    return peers_;
}

void EchoServer::serve()
{
    for (;;) {
        pollfd fds[2] = {{socket_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (fds[1].revents)
            return;
        if (!fds[0].revents)
            continue;
        sockaddr_in peer{};
        socklen_t length = sizeof peer;
        if (transport_ == Transport::tcp) {
            const int connection = accept4(socket_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
            if (connection < 0)
                continue;
            {
                std::lock_guard lock(mutex_);
                peers_.push_back(ip_of(peer));
            }
            serve_tcp_connection(connection);
            close(connection);
        } else {
            char buffer[2048];
            const auto r = recvfrom(socket_, buffer, sizeof buffer, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer), &length);
            if (r < 0)
                continue;
            {
                std::lock_guard lock(mutex_);
                peers_.push_back(ip_of(peer));
            }
            const std::string reply = tag_ + ":" + std::string(buffer, static_cast<std::size_t>(r));
            sendto(socket_, reply.data(), reply.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&peer), length);
        }
    }
}

void EchoServer::serve_tcp_connection(int connection)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    if (!wait_for(connection, POLLIN, deadline))
        return;
    char buffer[2048];
    const auto r = recv(connection, buffer, sizeof buffer, 0);
    if (r <= 0)
        return;
    const std::string reply = tag_ + ":" + std::string(buffer, static_cast<std::size_t>(r));
    send(connection, reply.data(), reply.size(), MSG_NOSIGNAL);
    shutdown(connection, SHUT_WR);
}

Exchange exchange(const Netns& from, Transport transport, const std::string& ip, std::uint16_t port,
                  const std::string& message, std::chrono::milliseconds timeout)
{
    Exchange result;
    Fd sock;
    sock.fd = from.run([&] { return socket(AF_INET, socket_type(transport) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); });
    if (sock.fd < 0)
        throw_errno("client socket");
    const int one = 1;
    setsockopt(sock.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const auto source = address("0.0.0.0", fresh_source_port());
    if (bind(sock.fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) != 0)
        throw_errno("client bind");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto target = address(ip, port);
    if (connect(sock.fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0 && errno != EINPROGRESS) {
        result.error = std::string("connect: ") + std::strerror(errno);
        return result;
    }
    if (transport == Transport::tcp) {
        if (!wait_for(sock.fd, POLLOUT, deadline)) {
            result.error = "timeout while connecting";
            return result;
        }
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
            result.error = std::string("connect: ") + std::strerror(error);
            return result;
        }
    }
    if (send(sock.fd, message.data(), message.size(), MSG_NOSIGNAL) < 0) {
        result.error = std::string("send: ") + std::strerror(errno);
        return result;
    }
    std::string reply;
    for (;;) {
        if (!wait_for(sock.fd, POLLIN, deadline)) {
            result.error = "timeout waiting for the reply" + (reply.empty() ? std::string() : " (partial: " + reply + ")");
            return result;
        }
        char buffer[2048];
        const auto r = recv(sock.fd, buffer, sizeof buffer, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            result.error = std::string("recv: ") + std::strerror(errno);
            return result;
        }
        if (r == 0)
            break;  // TCP: the server closed after its reply
        reply.append(buffer, static_cast<std::size_t>(r));
        if (transport == Transport::udp)
            break;  // one datagram is the whole reply
    }
    result.replied = true;
    result.reply = reply;
    return result;
}

}  // namespace sandbox
