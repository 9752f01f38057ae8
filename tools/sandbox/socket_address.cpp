// SPDX-License-Identifier: Apache-2.0
#include "socket_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <stdexcept>

namespace sandbox {

int family_of(const std::string& ip) { return ip.find(':') == std::string::npos ? AF_INET : AF_INET6; }

SocketAddress socket_address(const std::string& ip, std::uint16_t port)
{
    SocketAddress address;
    if (family_of(ip) == AF_INET) {
        auto& sa = reinterpret_cast<sockaddr_in&>(address.storage);
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1)
            throw std::invalid_argument("not an IPv4 address: " + ip);
        address.length = sizeof sa;
    } else {
        auto& sa = reinterpret_cast<sockaddr_in6&>(address.storage);
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(port);
        if (inet_pton(AF_INET6, ip.c_str(), &sa.sin6_addr) != 1)
            throw std::invalid_argument("not an IPv6 address: " + ip);
        address.length = sizeof sa;
    }
    return address;
}

SocketAddress any_address(int family, std::uint16_t port) { return socket_address(family == AF_INET6 ? "::" : "0.0.0.0", port); }

std::string ip_of(const sockaddr_storage& address)
{
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof text);
        return text;
    }
    if (address.ss_family != AF_INET6)
        return "(family " + std::to_string(address.ss_family) + ")";
    const auto& ip6 = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&ip6)) {
        in_addr ip4{};
        std::memcpy(&ip4, &ip6.s6_addr[12], sizeof ip4);
        inet_ntop(AF_INET, &ip4, text, sizeof text);
        return text;
    }
    inet_ntop(AF_INET6, &ip6, text, sizeof text);
    return text;
}

std::uint16_t port_of(const sockaddr_storage& address)
{
    if (address.ss_family == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
}

}  // namespace sandbox
