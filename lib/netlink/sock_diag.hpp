// SPDX-License-Identifier: Apache-2.0
// The host's sockets that receive what arrives for a local port, read over NETLINK_SOCK_DIAG:
// listening TCP and SCTP sockets and bound UDP sockets.
#pragma once

#include "netlink/socket.hpp"
#include "publisher/address.hpp"

#include <warren/nft/port_mapping.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace warren::nft::netlink {

// One socket, as sock_diag reports it.
struct SocketEntry {
    Protocol protocol = Protocol::tcp;
    // The local address: an IPv6 socket on ::ffff:a.b.c.d receives IPv4 traffic for a.b.c.d only,
    // so it has that IPv4 address here (ipv6_socket tells it apart).
    layout::Address address{};
    std::uint16_t port = 0;
    bool ipv6_socket = false;  // an AF_INET6 socket
    bool v6only = false;       // IPV6_V6ONLY: an AF_INET6 socket on :: that receives no IPv4
    std::uint32_t inode = 0;   // of the socket in sockfs: /proc/<pid>/fd/N links to socket:[inode]
    std::uint32_t uid = 0;

    friend bool operator==(const SocketEntry&, const SocketEntry&) = default;
};

// The local ports a dump keeps (any order); std::nullopt keeps every port.
using PortFilter = std::optional<std::span<const std::uint16_t>>;

// One NETLINK_SOCK_DIAG socket, kept open for the dumps of a publisher. Not thread-safe.
class SocketDiag {
public:
    SocketDiag();  // throws Error

    // The sockets of one address family (AF_INET sockets for Family::ip, AF_INET6 for Family::ip6)
    // that receive connections or datagrams for their local port: TCP and SCTP sockets in LISTEN
    // state, UDP sockets bound to a port (in any state). Throws Error naming the dump.
    std::vector<SocketEntry> receiving(Protocol protocol, layout::Family family, PortFilter ports = std::nullopt);
    // The same for each of `families`, with as few dumps as the kernel allows: each dump walks a
    // hash table of the whole host, empty or not, and that walk is what a dump costs. TCP sockets
    // of both families come in one dump; the other protocols take one dump per family.
    std::vector<SocketEntry> receiving(Protocol protocol, std::span<const layout::Family> families,
                                       PortFilter ports = std::nullopt);

private:
    // One dump of `address_family` (AF_UNSPEC: both, TCP only) into `out`; returns 0 or the errno
    // the kernel refused it with.
    int dump(Protocol protocol, int address_family, const std::vector<std::uint16_t>* ports, std::vector<SocketEntry>& out);
    std::vector<SocketEntry> dump_or_throw(Protocol protocol, layout::Family family, const std::vector<std::uint16_t>* ports);

    Socket socket_;
    bool both_families_refused_ = false;  // the kernel has no TCPDIAG_GETSOCK (inet_diag's older request)
};

// Whether the calling thread's network namespace can have SCTP sockets at all: the sctp module
// is loaded (its per-namespace /proc/net/sctp exists).
bool sctp_loaded();

}  // namespace warren::nft::netlink
