// SPDX-License-Identifier: Apache-2.0
// The host's sockets a published port would shadow: a snapshot of the listening TCP and SCTP
// sockets and bound UDP sockets, and which of them would receive what a port takes.
#pragma once

#include "netlink/sock_diag.hpp"
#include "publisher/element_codec.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace warren::nft::layout {

using netlink::SocketEntry;

class ListeningSockets {
public:
    ListeningSockets() = default;

    // The sockets of `protocols` that could receive traffic for a port of `families` (for IPv4 also
    // the IPv6 sockets, which receive IPv4 on :: without IPV6_V6ONLY and on ::ffff:a.b.c.d), on
    // `ports` or on any port. Throws Error when a dump fails.
    // `dump` reads one protocol, of some families, as SocketDiag::receiving() does; it is called
    // once per protocol.
    using Dump = std::function<std::vector<SocketEntry>(Protocol, std::span<const Family>, netlink::PortFilter)>;
    static ListeningSockets read(const Dump& dump, std::span<const Protocol> protocols, std::span<const Family> families,
                                 netlink::PortFilter ports = std::nullopt);
    static ListeningSockets read(netlink::SocketDiag& diag, std::span<const Protocol> protocols, std::span<const Family> families,
                                 netlink::PortFilter ports = std::nullopt);

    // read() of what publishing `host_ports` needs: their protocols and families, on their ports,
    // or on every port when one of them is 0 (to be chosen: automatic ports).
    static ListeningSockets read_for(const Dump& dump, std::span<const HostPort> host_ports);
    static ListeningSockets read_for(netlink::SocketDiag& diag, std::span<const HostPort> host_ports);

    // A socket that would receive what `host_port` takes once published: of its protocol and port,
    // on its address or on the unspecified address of its family, or on any address of its family
    // when it is published on every address; for IPv4 also an IPv6 socket on :: without
    // IPV6_V6ONLY. Only as far as read() looked (its protocols, families and ports).
    std::optional<SocketEntry> blocking(const HostPort& host_port) const;

    // Whether port number `port` meets no socket for any of `host_ports` (their own port numbers
    // ignored): the question automatic port selection asks of each candidate.
    bool free(std::uint16_t port, std::span<const HostPort> host_ports) const;

    // Ordered by protocol, port, address.
    const std::vector<SocketEntry>& entries() const noexcept { return entries_; }

private:
    explicit ListeningSockets(std::vector<SocketEntry> entries);

    std::vector<SocketEntry> entries_;
};

// "tcp socket listening on 0.0.0.0:8080 (process nginx, pid 1234)", "udp socket bound to
// [::]:53": the owner, looked up in /proc (slow: only for messages), left out when not found.
std::string describe(const SocketEntry& socket);

}  // namespace warren::nft::layout
