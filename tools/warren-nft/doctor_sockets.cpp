// SPDX-License-Identifier: Apache-2.0
#include "doctor_sockets.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace warren::cli::doctor {

namespace {

std::optional<std::uint32_t> hex32(const std::string& text)
{
    if (text.size() != 8)
        return std::nullopt;
    std::uint32_t value = 0;
    for (const char c : text) {
        const int digit = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                 : -1;
        if (digit < 0)
            return std::nullopt;
        value = value << 4 | static_cast<std::uint32_t>(digit);
    }
    return value;
}

// "0100007F:1F90": the kernel prints the address as 32-bit words in host byte order, the port as a
// number.
std::optional<std::pair<std::string, std::uint16_t>> endpoint(const std::string& text, bool ipv6)
{
    const auto colon = text.find(':');
    const std::size_t words = ipv6 ? 4 : 1;
    if (colon != words * 8 || text.size() != colon + 5)
        return std::nullopt;
    const auto port = hex32("0000" + text.substr(colon + 1));
    if (!port)
        return std::nullopt;
    std::array<unsigned char, 16> bytes{};
    for (std::size_t i = 0; i < words; ++i) {
        const auto word = hex32(text.substr(i * 8, 8));
        if (!word)
            return std::nullopt;
        std::memcpy(bytes.data() + i * 4, &*word, 4);
    }
    std::array<char, INET6_ADDRSTRLEN> address{};
    if (inet_ntop(ipv6 ? AF_INET6 : AF_INET, bytes.data(), address.data(), address.size()) == nullptr)
        return std::nullopt;
    return std::pair{std::string(address.data()), static_cast<std::uint16_t>(*port)};
}

bool unspecified(const std::string& address) { return address == "0.0.0.0" || address == "::"; }

// Whether the socket receives what `port` takes: the same address, or either on every address. An
// IPv6 socket on :: may receive IPv4 (without IPV6_V6ONLY, which /proc does not show), and one on
// ::ffff:a.b.c.d receives a.b.c.d. A port on every address is on every address of its table's
// family (that of its container address; an ingress claim's is the family's unspecified address):
// an IPv4 socket receives nothing of the IPv6 half of a dual-stack port.
bool receives(const HostSocket& socket, const nft::PublishedPort& port)
{
    if (socket.protocol != nft::to_string(port.mapping.protocol) || socket.port != port.mapping.host_port)
        return false;
    const auto host = !port.mapping.host_ip.empty()                      ? port.mapping.host_ip
                      : port.container_ip.find(':') != std::string::npos ? std::string("::")
                                                                         : std::string("0.0.0.0");
    const bool socket_ipv6 = socket.address.find(':') != std::string::npos;
    const bool port_ipv6 = host.find(':') != std::string::npos;
    if (port_ipv6 && !socket_ipv6)
        return false;
    if (!port_ipv6 && socket_ipv6)  // only through :: or the IPv4-mapped address
        return socket.address == "::" ||
               (socket.address.starts_with("::ffff:") && (unspecified(host) || socket.address.substr(7) == host));
    if (unspecified(host) || unspecified(socket.address))
        return true;
    std::array<unsigned char, 16> a{}, b{};
    const int family = socket_ipv6 ? AF_INET6 : AF_INET;
    return inet_pton(family, host.c_str(), a.data()) == 1 && inet_pton(family, socket.address.c_str(), b.data()) == 1 && a == b;
}

}  // namespace

std::vector<HostSocket> parse_proc_net(const std::string& text, const std::string& protocol, bool ipv6)
{
    const std::string wanted = protocol == "tcp" ? "0A" : "07";
    std::vector<HostSocket> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        std::string slot, local, remote, state;
        if (!(fields >> slot >> local >> remote >> state) || !slot.ends_with(":") || state != wanted)
            continue;
        if (const auto e = endpoint(local, ipv6))
            out.push_back({protocol, e->first, e->second});
    }
    return out;
}

std::vector<HostSocket> read_host_sockets(std::string& error)
{
    std::vector<HostSocket> out;
    struct Source {
        const char* file;
        const char* protocol;
        bool ipv6;
    };
    constexpr std::array<Source, 4> sources{
        {{"tcp", "tcp", false}, {"tcp6", "tcp", true}, {"udp", "udp", false}, {"udp6", "udp", true}}};
    for (const auto& [file, protocol, ipv6] : sources) {
        const std::string path = std::string("/proc/net/") + file;
        std::ifstream in(path);
        if (!in) {
            if (ipv6)
                continue;  // absent without IPv6
            error += (error.empty() ? "" : ", ") + path;
            continue;
        }
        std::stringstream text;
        text << in.rdbuf();
        auto sockets = parse_proc_net(text.str(), protocol, ipv6);
        out.insert(out.end(), sockets.begin(), sockets.end());
    }
    return out;
}

void check_shadowed_sockets(Report& report, const std::vector<nft::PublishedPort>& published,
                            const std::vector<HostSocket>& sockets)
{
    bool warned = false;
    for (const auto& port : published) {
        std::vector<std::string> shadowed;
        for (const auto& socket : sockets)
            if (receives(socket, port))
                shadowed.push_back(socket.protocol + (socket.protocol == "tcp" ? " socket listening on " : " socket bound to ") +
                                   (socket.address.find(':') == std::string::npos ? socket.address : "[" + socket.address + "]") +
                                   ":" + std::to_string(socket.port));
        if (shadowed.empty())
            continue;
        warned = true;
        const auto& m = port.mapping;
        report.warn(std::string(nft::to_string(m.protocol)) + " port " + std::to_string(m.host_port) +
                    (m.host_ip.empty() ? "" : " on " + m.host_ip) + " (" + owner_of(port) + ")" +
                    " is published over the host's " + joined(shadowed) +
                    ", so connections from other hosts go to the container and never reach that socket; fix: stop the "
                    "program that listens there (ss -lntup shows it), or publish " +
                    movable_owner({&port}) + " on another host port");
    }
    if (!warned)
        report.ok("no published port takes the connections of a listening socket of the host");
}

}  // namespace warren::cli::doctor
