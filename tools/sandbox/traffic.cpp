// SPDX-License-Identifier: Apache-2.0
#include "traffic.hpp"

#include "process.hpp"
#include "socket_address.hpp"
#include "system_calls.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace sandbox {

namespace {

int socket_type(Transport transport) { return transport == Transport::tcp ? SOCK_STREAM : SOCK_DGRAM; }

// A server thread's wait: true when `socket` has input, false when `stop` was signalled (or poll
// failed, which also ends the server).
bool input_before_stop(int socket, int stop)
{
    for (;;) {
        pollfd fds[2] = {{socket, POLLIN, 0}, {stop, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (fds[1].revents)
            return false;
        if (fds[0].revents)
            return true;
    }
}

// An EchoServer's socket: one dual-stack socket serves both families; where IPv6 is disabled, an
// IPv4 one.
OwnedFd echo_socket(const Netns& netns, Transport transport, std::uint16_t port)
{
    int family = AF_INET6;
    OwnedFd server(netns.run([&] { return socket(AF_INET6, socket_type(transport) | SOCK_CLOEXEC, 0); }));
    if (server.get() < 0 && errno == EAFNOSUPPORT) {
        family = AF_INET;
        server = OwnedFd(netns.run([&] { return socket(AF_INET, socket_type(transport) | SOCK_CLOEXEC, 0); }));
    }
    if (server.get() < 0)
        throw_errno("echo server socket");
    const int one = 1, zero = 0;
    setsockopt(server.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6 && setsockopt(server.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0)
        throw_errno("echo server IPV6_V6ONLY off");
    const auto sa = any_address(family, port);
    if (bind(server.get(), sa.get(), sa.length) != 0)
        throw_errno("echo server bind port " + std::to_string(port));
    if (transport == Transport::tcp && listen(server.get(), 16) != 0)
        throw_errno("echo server listen");
    return server;
}

// A ConnectionSink's listening socket (IPv4).
OwnedFd sink_socket(const Netns& netns, std::uint16_t port)
{
    OwnedFd listener(netns.run([] { return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }));
    if (listener.get() < 0)
        throw_errno("connection sink socket");
    // The port may still have TIME_WAIT connections of an earlier server (e.g. an EchoServer probe).
    const int one = 1;
    setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const auto sa = any_address(AF_INET, port);
    if (bind(listener.get(), sa.get(), sa.length) != 0)
        throw_errno("connection sink bind port " + std::to_string(port));
    // Far more than any client keeps in flight, so a full accept queue never drops a handshake;
    // the kernel caps it at the namespace's net.core.somaxconn (4096 by default).
    if (listen(listener.get(), 4096) != 0)
        throw_errno("connection sink listen");
    return listener;
}

std::atomic<std::uint16_t> next_source_port{21000};

std::uint16_t fresh_source_port()
{
    const auto port = next_source_port.fetch_add(1);
    if (port >= 32000)  // below the ephemeral range; no caller needs this many
        throw std::runtime_error("out of unused source ports");
    return port;
}

}  // namespace

Topology::Topology() : host(Netns::current()), client(Netns::create()), container(Netns::create())
{
    // Host side: both veth pairs, their peers moved straight into the client and container namespaces.
    Command host_setup;
    host_setup.argv = {"ip", "-batch", "-"};
    host_setup.pass_fds = {client.fd(), container.fd()};
    host_setup.input = std::string("link add kt-client type veth peer name eth0 netns /proc/self/fd/3\n") +
                       "link add kt-ctr type veth peer name eth0 netns /proc/self/fd/4\n" + "addr add " + host_client_side_ip +
                       "/24 dev kt-client\n" + "addr add " + host_container_side_ip + "/24 dev kt-ctr\n" +
                       "link set lo up\n"
                       "link set kt-client up\n"
                       "link set kt-ctr up\n";
    check_output(host_setup);
    write_net_sysctl("net/ipv4/ip_forward", "1");

    const auto setup_peer = [](const Netns& netns, const std::string& ip, const std::string& gateway) {
        Command peer;
        peer.argv = {"ip", "-batch", "-"};
        peer.netns = &netns;
        peer.input = "addr add " + ip + "/24 dev eth0\n" + "link set eth0 up\n" + "link set lo up\n" + "route add default via " +
                     gateway + "\n";
        check_output(peer);
    };
    setup_peer(client, client_ip, host_client_side_ip);
    setup_peer(container, container_ip, host_container_side_ip);
}

EchoServer::EchoServer(const Netns& netns, Transport transport, std::uint16_t port, std::string tag)
    : transport_(transport),
      tag_(std::move(tag)),
      socket_(echo_socket(netns, transport, port)),
      thread_([this](int stop) { serve(stop); })
{
}

std::vector<std::string> EchoServer::peers() const
{
    std::lock_guard lock(mutex_);
    return peers_;
}

void EchoServer::serve(int stop)
{
    while (input_before_stop(socket_.get(), stop)) {
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        if (transport_ == Transport::tcp) {
            const int connection = accept4(socket_.get(), reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
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
            const auto r =
                recvfrom(socket_.get(), buffer, sizeof buffer, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer), &length);
            if (r < 0)
                continue;
            {
                std::lock_guard lock(mutex_);
                peers_.push_back(ip_of(peer));
            }
            const std::string reply = tag_ + ":" + std::string(buffer, static_cast<std::size_t>(r));
            sendto(socket_.get(), reply.data(), reply.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&peer), length);
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

Exchange exchange(const Netns& from, Transport transport, const std::string& ip, std::uint16_t port, const std::string& message,
                  std::chrono::milliseconds timeout)
{
    Exchange result;
    const auto target = socket_address(ip, port);
    const OwnedFd sock(
        from.run([&] { return socket(target.family(), socket_type(transport) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); }));
    if (sock.get() < 0)
        throw_errno("client socket");
    const int one = 1;
    setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const auto source = any_address(target.family(), fresh_source_port());
    if (bind(sock.get(), source.get(), source.length) != 0)
        throw_errno("client bind");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (connect(sock.get(), target.get(), target.length) != 0 && errno != EINPROGRESS) {
        result.error = std::string("connect: ") + std::strerror(errno);
        return result;
    }
    if (transport == Transport::tcp) {
        if (!wait_for(sock.get(), POLLOUT, deadline)) {
            result.error = "timeout while connecting";
            return result;
        }
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
            result.error = std::string("connect: ") + std::strerror(error);
            return result;
        }
    }
    if (send(sock.get(), message.data(), message.size(), MSG_NOSIGNAL) < 0) {
        result.error = std::string("send: ") + std::strerror(errno);
        return result;
    }
    std::string reply;
    for (;;) {
        if (!wait_for(sock.get(), POLLIN, deadline)) {
            result.error = "timeout waiting for the reply" + (reply.empty() ? std::string() : " (partial: " + reply + ")");
            return result;
        }
        char buffer[2048];
        const auto r = recv(sock.get(), buffer, sizeof buffer, 0);
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

UdpFlow::UdpFlow(const Netns& from, Family family, std::uint16_t source_port) : source_port_(source_port)
{
    const int domain = family == Family::ipv6 ? AF_INET6 : AF_INET;
    socket_ = from.run([&] { return socket(domain, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); });
    if (socket_ < 0)
        throw_errno("UDP flow socket");
    const auto source = any_address(domain, source_port);
    if (bind(socket_, source.get(), source.length) != 0) {
        const int saved = errno;
        close(socket_);
        errno = saved;
        throw_errno("UDP flow bind port " + std::to_string(source_port));
    }
}

UdpFlow::~UdpFlow() { close(socket_); }

void UdpFlow::send(const std::string& ip, std::uint16_t port, const std::string& message)
{
    const auto target = socket_address(ip, port);
    if (sendto(socket_, message.data(), message.size(), MSG_NOSIGNAL, target.get(), target.length) < 0)
        throw_errno("UDP flow sendto " + ip + ":" + std::to_string(port));
}

Exchange UdpFlow::exchange(const std::string& ip, std::uint16_t port, const std::string& message,
                           std::chrono::milliseconds timeout)
{
    // A late reply to an earlier datagram must not pass for the answer to this one.
    char buffer[2048];
    while (recv(socket_, buffer, sizeof buffer, MSG_DONTWAIT) >= 0) {
    }
    Exchange result;
    send(ip, port, message);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!wait_for(socket_, POLLIN, deadline)) {
            result.error = "timeout waiting for the reply";
            return result;
        }
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        const auto r = recvfrom(socket_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &length);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            result.error = std::string("recvfrom: ") + std::strerror(errno);
            return result;
        }
        // Only the address the datagram went to answers it (NAT translates the reply's source back).
        if (ip_of(peer) != ip_of(socket_address(ip, port).storage) || port_of(peer) != port)
            continue;
        result.replied = true;
        result.reply.assign(buffer, static_cast<std::size_t>(r));
        return result;
    }
}

ConnectionSink::ConnectionSink(const Netns& netns, std::uint16_t port)
    : socket_(sink_socket(netns, port)), thread_([this](int stop) { serve(stop); })
{
}

void ConnectionSink::serve(int stop)
{
    while (input_before_stop(socket_.get(), stop)) {
        // Drain the whole accept queue per wake-up: under load one poll serves many connections.
        for (;;) {
            const int connection = accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC);
            if (connection < 0)
                break;  // EAGAIN: queue empty; ECONNABORTED & co.: the client gave up, its failure is counted there
            accepted_.fetch_add(1, std::memory_order_relaxed);
            const char byte = 'x';
            [[maybe_unused]] const auto sent = send(connection, &byte, 1, MSG_NOSIGNAL);
            close(connection);
        }
    }
}

ConnectionRate measure_connection_rate(const Netns& from, const std::string& ip, std::uint16_t port,
                                       std::chrono::milliseconds warmup, std::chrono::milliseconds duration,
                                       std::size_t in_flight, std::chrono::milliseconds timeout)
{
    using clock = std::chrono::steady_clock;
    if (in_flight == 0)
        throw std::invalid_argument("measure_connection_rate: in_flight must be at least 1");
    const auto target = socket_address(ip, port);

    // Entered once for the whole loop: switching namespaces per socket would cost more than the
    // connection being measured.
    return from.run([&] {
        const OwnedFd epoll(epoll_create1(EPOLL_CLOEXEC));
        if (epoll.get() < 0)
            throw_errno("epoll_create1");

        struct Slot {
            OwnedFd socket;
            clock::time_point started;
        };
        std::vector<Slot> slots(in_flight);
        ConnectionRate result;
        std::uint64_t completed = 0;
        std::uint64_t failed = 0;
        const auto fail = [&](const std::string& why) {
            ++failed;
            if (result.first_error.empty())
                result.first_error = why;
        };

        // A refused connect fails the slot and it is opened again on the next round, so a dead
        // path shows up as failures, not as a busy loop that never waits.
        const auto open_slot = [&](std::size_t index, clock::time_point now) {
            auto& slot = slots[index];
            slot.socket = OwnedFd(socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            if (slot.socket.get() < 0)
                throw_errno("connection-rate client socket");
            // Closing with RST leaves no TIME_WAIT socket behind to hold the client port.
            const linger abort_on_close{1, 0};
            if (setsockopt(slot.socket.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) != 0)
                throw_errno("setsockopt SO_LINGER");
            slot.started = now;
            if (connect(slot.socket.get(), target.get(), target.length) != 0 && errno != EINPROGRESS) {
                if (errno == EADDRNOTAVAIL)
                    throw std::runtime_error("connection-rate client: out of local ports (EADDRNOTAVAIL)");
                fail(std::string("connect: ") + std::strerror(errno));
                slot.socket.reset();
                return;
            }
            epoll_event event{};
            event.events = EPOLLIN;
            event.data.u64 = index;
            if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, slot.socket.get(), &event) != 0)
                throw_errno("epoll_ctl");
        };

        auto now = clock::now();
        const auto measure_from = now + warmup;
        const auto measure_until = measure_from + duration;
        bool measuring = false;
        clock::time_point started_measuring;
        for (std::size_t i = 0; i < slots.size(); ++i)
            open_slot(i, now);

        std::vector<epoll_event> events(slots.size());
        auto next_timeout_check = now + timeout / 4;
        for (;;) {
            const int ready = epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), 10);
            if (ready < 0 && errno != EINTR)
                throw_errno("epoll_wait");
            now = clock::now();
            if (!measuring && now >= measure_from) {
                // Whatever completed during warm-up is discarded.
                measuring = true;
                started_measuring = now;
                completed = 0;
                failed = 0;
            }
            if (measuring && now >= measure_until)
                break;
            for (int i = 0; i < ready; ++i) {
                const auto index = static_cast<std::size_t>(events[i].data.u64);
                auto& slot = slots[index];
                char byte = 0;
                const auto r = recv(slot.socket.get(), &byte, 1, 0);
                if (r == 1) {
                    ++completed;
                } else if (r == 0) {
                    fail("closed without the server's byte");
                } else if (errno == EAGAIN || errno == EINTR) {
                    continue;  // spurious wake-up: keep waiting for the byte
                } else {
                    fail(std::string("connection: ") + std::strerror(errno));
                }
                slot.socket.reset();  // RST, and out of the epoll set
                open_slot(index, now);
            }
            if (now >= next_timeout_check) {
                next_timeout_check = now + timeout / 4;
                for (std::size_t i = 0; i < slots.size(); ++i) {
                    if (slots[i].socket.get() >= 0 && now - slots[i].started < timeout)
                        continue;
                    if (slots[i].socket.get() >= 0)
                        fail("no answer within " + std::to_string(timeout.count()) + " ms");
                    slots[i].socket.reset();
                    open_slot(i, now);
                }
            }
        }
        result.completed = completed;
        result.failed = failed;
        result.seconds = std::chrono::duration<double>(now - started_measuring).count();
        return result;
    });
}

}  // namespace sandbox
