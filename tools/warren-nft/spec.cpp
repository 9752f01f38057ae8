// SPDX-License-Identifier: Apache-2.0
#include "spec.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace warren::cli {

namespace {

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// A port number: 1 to 65535, digits only.
std::uint16_t parse_port(std::string_view spec, std::string_view what, std::string_view text)
{
    const auto fail = [&](const std::string& problem) {
        throw UsageError("-p " + quoted(spec) + ": " + std::string(what) + " " + quoted(text) + " " + problem +
                         "; use a number from 1 to 65535");
    };
    if (text.empty())
        throw UsageError("-p " + quoted(spec) + ": the " + std::string(what) +
                         " is missing; use [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp|sctp], e.g. 8080:80/tcp");
    if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        fail("is not a number");
    unsigned long value = 0;
    for (const char c : text) {
        value = value * 10 + static_cast<unsigned long>(c - '0');
        if (value > 65535)
            fail("is out of range");
    }
    if (value == 0)
        fail("is out of range");
    return static_cast<std::uint16_t>(value);
}

std::vector<std::string_view> split(std::string_view text, char separator)
{
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const auto end = text.find(separator, start);
        parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos)
            return parts;
        start = end + 1;
    }
}

bool allowed_identifier_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-_.:@/+").find(c) != std::string_view::npos;
}

}  // namespace

nft::PortMapping parse_port_spec(std::string_view spec)
{
    const std::string form = "use [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp|sctp], e.g. 8080:80/tcp";
    nft::PortMapping mapping;
    std::string_view ports = spec;
    if (const auto slash = spec.rfind('/'); slash != std::string_view::npos) {
        const auto protocol = spec.substr(slash + 1);
        ports = spec.substr(0, slash);
        if (protocol == "tcp")
            mapping.protocol = nft::Protocol::tcp;
        else if (protocol == "udp")
            mapping.protocol = nft::Protocol::udp;
        else if (protocol == "sctp")
            mapping.protocol = nft::Protocol::sctp;
        else
            throw UsageError("-p " + quoted(spec) + ": unknown protocol " + quoted(protocol) +
                             "; use tcp, udp or sctp (or omit /PROTOCOL for tcp)");
    }
    if (ports.starts_with('['))
        throw UsageError("-p " + quoted(spec) +
                         ": IPv6 host addresses are not supported yet; omit the host address to publish on all IPv4 "
                         "addresses, e.g. 8080:80/tcp");
    const auto parts = split(ports, ':');
    if (parts.size() < 2 || parts.size() > 3)
        throw UsageError("-p " + quoted(spec) + ": expected a host port and a container port separated by ':'; " +
                         form);
    if (parts.size() == 3) {
        const auto host_ip = parts[0];
        in_addr address{};
        const std::string ip(host_ip);
        if (inet_pton(AF_INET, ip.c_str(), &address) != 1)
            throw UsageError("-p " + quoted(spec) + ": host address " + quoted(host_ip) +
                             " is not an IPv4 address; omit it (or use 0.0.0.0) to publish on all host addresses");
        if (address.s_addr != 0)
            throw UsageError("-p " + quoted(spec) + ": binding to one host address (" + ip +
                             ") is not supported yet; omit it (or use 0.0.0.0) to publish on all host addresses");
    }
    mapping.host_port = parse_port(spec, "host port", parts[parts.size() - 2]);
    mapping.container_port = parse_port(spec, "container port", parts[parts.size() - 1]);
    return mapping;
}

std::string format_port_spec(const nft::PortMapping& mapping)
{
    return std::to_string(mapping.host_port) + ":" + std::to_string(mapping.container_port) + "/" +
           std::string(nft::to_string(mapping.protocol));
}

void check_task_id(std::string_view option, std::string_view task_id)
{
    const auto max = nft::HostPortPublisher::max_task_id_length;
    if (task_id.empty())
        throw UsageError(std::string(option) + " is empty; give the task's id, e.g. " + std::string(option) +
                         " web-1");
    if (task_id.size() > max)
        throw UsageError(std::string(option) + " " + quoted(task_id) + " is " + std::to_string(task_id.size()) +
                         " characters long; use at most " + std::to_string(max));
    if (!std::all_of(task_id.begin(), task_id.end(), allowed_identifier_char))
        throw UsageError(std::string(option) + " " + quoted(task_id) +
                         " contains a character that is not allowed; use letters, digits and - _ . : @ / +");
}

void check_port_name(std::string_view option, std::string_view name)
{
    const auto max = nft::HostPortPublisher::max_name_length;
    if (name.size() > max)
        throw UsageError(std::string(option) + " " + quoted(name) + " is " + std::to_string(name.size()) +
                         " characters long; use at most " + std::to_string(max));
    if (!std::all_of(name.begin(), name.end(), allowed_identifier_char))
        throw UsageError(std::string(option) + " " + quoted(name) +
                         " contains a character that is not allowed; use letters, digits and - _ . : @ / +");
}

void check_container_ip(std::string_view option, std::string_view ip)
{
    const std::string text(ip);
    in_addr address{};
    in6_addr address6{};
    if (inet_pton(AF_INET6, text.c_str(), &address6) == 1)
        throw UsageError(std::string(option) + " " + quoted(ip) +
                         ": IPv6 container addresses are not supported yet; use the container's IPv4 address, "
                         "e.g. 172.17.0.2");
    if (inet_pton(AF_INET, text.c_str(), &address) != 1)
        throw UsageError(std::string(option) + " " + quoted(ip) +
                         " is not an IPv4 address; use the container's dotted-quad address, e.g. 172.17.0.2");
    const std::uint32_t host_order = ntohl(address.s_addr);
    const unsigned first = host_order >> 24;
    if (host_order == 0 || first == 0 || first == 127 || first >= 224)
        throw UsageError(std::string(option) + " " + quoted(ip) +
                         " is an unspecified, loopback, multicast or reserved address; use the container's own "
                         "IPv4 address, e.g. 172.17.0.2");
}

}  // namespace warren::cli
