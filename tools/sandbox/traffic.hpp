// SPDX-License-Identifier: Apache-2.0
// Real traffic between network namespaces: a client / host / container topology joined by veth
// pairs, echo servers, and clients with short timeouts, over IPv4 and IPv6 (dual_stack_topology.hpp
// has the topology with IPv6 and two containers).
#pragma once

#include "netns.hpp"
#include "owned_fd.hpp"
#include "server_thread.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace sandbox {

//   client ns                 host ns (the caller's)                  container ns
//   eth0 10.200.1.2/24 <-veth-> kt-client 10.200.1.1/24
//                               kt-ctr    10.200.2.1/24 <-veth-> eth0 10.200.2.2/24
// Client and container route everything via the host; the host forwards (ip_forward=1).
struct Topology {
    static constexpr const char* client_ip = "10.200.1.2";
    static constexpr const char* host_client_side_ip = "10.200.1.1";
    static constexpr const char* host_container_side_ip = "10.200.2.1";
    static constexpr const char* container_ip = "10.200.2.2";

    Topology();  // builds it around the calling thread's namespace, which becomes the host

    Netns host;
    Netns client;
    Netns container;
};

enum class Transport { tcp, udp };
enum class Family { ipv4, ipv6 };

// An echo server in a namespace, on every address of both families (one dual-stack socket): answers
// each TCP connection / UDP datagram with "<tag>:<data>" and remembers the peer address it saw.
class EchoServer {
public:
    EchoServer(const Netns& netns, Transport transport, std::uint16_t port, std::string tag);
    EchoServer(const EchoServer&) = delete;
    EchoServer& operator=(const EchoServer&) = delete;

    // Peer addresses in order of arrival: "10.200.1.2" for IPv4 peers, "fd00:200:1::2" for IPv6.
    std::vector<std::string> peers() const;

private:
    void serve(int stop);
    void serve_tcp_connection(int connection);

    Transport transport_;
    std::string tag_;
    OwnedFd socket_;
    mutable std::mutex mutex_;
    std::vector<std::string> peers_;
    ServerThread thread_;  // last: stopped before the members it uses are destroyed
};

struct Exchange {
    bool replied = false;
    std::string reply;
    std::string error;  // why there was no reply ("connection refused", "timeout", ...)
};

// How long a client waits for an answer it expects. Generous: the answer comes within milliseconds,
// but a loaded machine (the sanitizer builds' suites beside a compile) can delay an IPv6 neighbour
// resolution or the echo server's thread by more than a second. Callers that expect no answer
// pass a short timeout of their own.
inline constexpr std::chrono::milliseconds reply_timeout{5000};

// Sends `message` from a socket created in `from` (bound to a source port never used before in this
// process, so that every exchange is a new conntrack flow) and waits up to `timeout` for the reply.
// `ip` is IPv4 or IPv6 text; the socket is of its family.
Exchange exchange(const Netns& from, Transport transport, const std::string& ip, std::uint16_t port, const std::string& message,
                  std::chrono::milliseconds timeout = reply_timeout);

// A UDP client socket in a namespace that keeps one source port for all its datagrams, so that the
// datagrams it sends to one destination are one conntrack flow (how a real UDP client behaves, and
// what a stale conntrack entry keeps sending to the wrong place).
class UdpFlow {
public:
    UdpFlow(const Netns& from, Family family, std::uint16_t source_port);
    ~UdpFlow();
    UdpFlow(const UdpFlow&) = delete;
    UdpFlow& operator=(const UdpFlow&) = delete;

    std::uint16_t source_port() const { return source_port_; }
    // Sends one datagram and expects no answer.
    void send(const std::string& ip, std::uint16_t port, const std::string& message);
    // Sends one datagram and waits for the answer from ip:port (late answers to earlier datagrams
    // are discarded first).
    Exchange exchange(const std::string& ip, std::uint16_t port, const std::string& message,
                      std::chrono::milliseconds timeout = reply_timeout);

private:
    int socket_ = -1;
    std::uint16_t source_port_ = 0;
};

// The server side of a connection-rate measurement: accepts TCP connections on `port` in `netns` on
// one thread, writes one byte to each and closes it. The byte lets the client prove that the whole
// path works both ways, not only the handshake.
class ConnectionSink {
public:
    ConnectionSink(const Netns& netns, std::uint16_t port);
    ConnectionSink(const ConnectionSink&) = delete;
    ConnectionSink& operator=(const ConnectionSink&) = delete;

    std::uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }

private:
    void serve(int stop);

    OwnedFd socket_;
    std::atomic<std::uint64_t> accepted_{0};
    ServerThread thread_;  // last: stopped before the members it uses are destroyed
};

struct ConnectionRate {
    std::uint64_t completed = 0;  // connections that delivered the sink's byte, in the measured interval
    std::uint64_t failed = 0;     // refused, reset, closed without the byte or timed out, same interval
    double seconds = 0;           // length of the measured interval
    std::string first_error;      // of the first failure (also one during warm-up), empty if none

    double per_second() const { return seconds > 0 ? static_cast<double>(completed) / seconds : 0; }
};

// Opens new TCP connections from `from` to ip:port (a ConnectionSink) as fast as it can, keeping
// `in_flight` of them in progress at a time on the calling thread; each ends when the sink's byte
// arrives and is closed with RST (SO_LINGER 0), so no client port waits in TIME_WAIT. Counts only
// what completes after `warmup`, for `duration`. A connection that has not finished after
// `timeout` counts as failed (a lost SYN would otherwise stall its slot until the retransmission).
ConnectionRate measure_connection_rate(const Netns& from, const std::string& ip, std::uint16_t port,
                                       std::chrono::milliseconds warmup, std::chrono::milliseconds duration,
                                       std::size_t in_flight, std::chrono::milliseconds timeout = std::chrono::milliseconds(500));

}  // namespace sandbox
