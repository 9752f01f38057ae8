// SPDX-License-Identifier: Apache-2.0
#include "publisher/listening_sockets.hpp"

#include "publisher/socket_owner.hpp"

#include <algorithm>
#include <tuple>

namespace warren::nft::layout {
namespace {

auto order(const SocketEntry& e) { return std::tie(e.protocol, e.port, e.address, e.ipv6_socket, e.inode); }

// An IPv6 socket on :: that also takes IPv4 (IPV6_V6ONLY off).
bool dual_stack(const SocketEntry& socket) noexcept
{
    return socket.ipv6_socket && socket.address.family == Family::ip6 && socket.address.unspecified() && !socket.v6only;
}

bool receives(const SocketEntry& socket, const HostPort& host_port) noexcept
{
    if (host_port.family() == Family::ip && dual_stack(socket))
        return true;
    if (socket.address.family != host_port.family())
        return false;
    return !host_port.bound() || socket.address.unspecified() || socket.address == host_port.address;
}

// The sockets of the protocol and port, in entries sorted by order().
std::span<const SocketEntry> on_port(const std::vector<SocketEntry>& entries, Protocol protocol, std::uint16_t port)
{
    const auto key = std::pair{protocol, port};
    const auto first = std::partition_point(entries.begin(), entries.end(), [&](const SocketEntry& e) {
        return std::pair{e.protocol, e.port} < key;
    });
    const auto last = std::partition_point(first, entries.end(), [&](const SocketEntry& e) {
        return std::pair{e.protocol, e.port} == key;
    });
    return {first, last};
}

std::string endpoint(const SocketEntry& socket)
{
    const auto port = ":" + std::to_string(socket.port);
    if (socket.ipv6_socket && socket.address.family == Family::ip)
        return "[::ffff:" + to_string(socket.address) + "]" + port;
    return display(socket.address) + port;
}

}  // namespace

ListeningSockets::ListeningSockets(std::vector<SocketEntry> entries) : entries_(std::move(entries))
{
    std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) { return order(a) < order(b); });
}

ListeningSockets ListeningSockets::read(netlink::SocketDiag& diag, std::span<const Protocol> protocols,
                                        std::span<const Family> families, netlink::PortFilter ports)
{
    return read([&](Protocol protocol, std::span<const Family> dumped,
                    netlink::PortFilter filter) { return diag.receiving(protocol, dumped, filter); },
                protocols, families, ports);
}

ListeningSockets ListeningSockets::read_for(netlink::SocketDiag& diag, std::span<const HostPort> host_ports)
{
    return read_for([&](Protocol protocol, std::span<const Family> dumped,
                        netlink::PortFilter filter) { return diag.receiving(protocol, dumped, filter); },
                    host_ports);
}

ListeningSockets ListeningSockets::read(const Dump& dump, std::span<const Protocol> protocols, std::span<const Family> families,
                                        netlink::PortFilter ports)
{
    if (families.empty())
        return {};
    // IPv6 sockets may take IPv4 traffic too: an IPv4 port needs the sockets of both families.
    static constexpr Family both[] = {Family::ip, Family::ip6};
    const bool ipv4 = std::find(families.begin(), families.end(), Family::ip) != families.end();
    const auto dumped = ipv4 ? std::span<const Family>(both) : std::span<const Family>(both).subspan(1);
    std::vector<SocketEntry> entries;
    for (const Protocol protocol : protocols) {
        auto found = dump(protocol, dumped, ports);
        entries.insert(entries.end(), found.begin(), found.end());
    }
    return ListeningSockets(std::move(entries));
}

ListeningSockets ListeningSockets::read_for(const Dump& dump, std::span<const HostPort> host_ports)
{
    std::vector<Protocol> protocols;
    std::vector<Family> families;
    std::vector<std::uint16_t> ports;
    bool every_port = false;
    const auto add = [](auto& values, auto value) {
        if (std::find(values.begin(), values.end(), value) == values.end())
            values.push_back(value);
    };
    for (const auto& host_port : host_ports) {
        add(protocols, host_port.protocol);
        add(families, host_port.family());
        every_port = every_port || host_port.port == 0;
        ports.push_back(host_port.port);
    }
    if (every_port)
        return read(dump, protocols, families);
    return read(dump, protocols, families, ports);
}

std::optional<SocketEntry> ListeningSockets::blocking(const HostPort& host_port) const
{
    for (const auto& socket : on_port(entries_, host_port.protocol, host_port.port))
        if (receives(socket, host_port))
            return socket;
    return std::nullopt;
}

bool ListeningSockets::free(std::uint16_t port, std::span<const HostPort> host_ports) const
{
    return std::none_of(host_ports.begin(), host_ports.end(), [&](HostPort host_port) {
        host_port.port = port;
        return blocking(host_port).has_value();
    });
}

std::string describe(const SocketEntry& socket)
{
    std::string text = std::string(to_string(socket.protocol)) +
                       (socket.protocol == Protocol::udp ? " socket bound to " : " socket listening on ") + endpoint(socket);
    if (const auto owner = socket_owner(socket.inode)) {
        text += " (";
        if (!owner->name.empty())
            text += "process " + owner->name + ", ";
        text += "pid " + std::to_string(owner->pid) + ")";
    }
    return text;
}

}  // namespace warren::nft::layout
