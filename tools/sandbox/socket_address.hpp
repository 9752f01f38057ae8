// SPDX-License-Identifier: Apache-2.0
// Socket addresses of either family, from and to the text the tests use ("10.200.1.2", "fd00::2").
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace sandbox {

struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const { return storage.ss_family; }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

// AF_INET6 when `ip` contains a colon, else AF_INET (the text is checked by socket_address()).
int family_of(const std::string& ip);

// ip:port; throws std::invalid_argument when ip is neither an IPv4 nor an IPv6 address.
SocketAddress socket_address(const std::string& ip, std::uint16_t port);

// The unspecified address of the family (0.0.0.0 or ::) at `port`.
SocketAddress any_address(int family, std::uint16_t port);

// The address as text; an IPv4-mapped IPv6 address (a dual-stack socket's IPv4 peer) as IPv4.
std::string ip_of(const sockaddr_storage& address);
std::uint16_t port_of(const sockaddr_storage& address);

}  // namespace sandbox
