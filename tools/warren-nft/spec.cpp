// SPDX-License-Identifier: Apache-2.0
#include "spec.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace warren::cli {

namespace {

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// A port number: digits only, at most 65535. Port 0 is left to nft::validate_ports().
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

}  // namespace

void check_argument(std::string_view argument, const std::function<void()>& check)
{
    try {
        check();
    } catch (const nft::Error& e) {
        if (e.code() != nft::errc::invalid_argument)
            throw;
        throw UsageError(std::string(argument) + ": " + e.what());
    }
}

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
    // [HOST_IP:] as docker reads it: an IPv6 address in brackets, else the first of three
    // ':'-separated parts. The library checks the address (and refuses IPv6 for now).
    if (ports.starts_with('[')) {
        const auto close = ports.find("]:");
        if (close == std::string_view::npos)
            throw UsageError("-p " + quoted(spec) + ": a bracketed host address must be followed by ':'; " + form);
        mapping.host_ip = ports.substr(1, close - 1);
        ports.remove_prefix(close + 2);
    }
    auto parts = split(ports, ':');
    if (parts.size() == 3 && !spec.starts_with('[')) {
        mapping.host_ip = parts.front();
        parts.erase(parts.begin());
    }
    if (parts.size() != 2)
        throw UsageError("-p " + quoted(spec) + ": expected a host port and a container port separated by ':'; " +
                         form);
    // docker's spelling of "every address"; the library's is an empty host_ip.
    if (mapping.host_ip == "0.0.0.0")
        mapping.host_ip.clear();
    mapping.host_port = parse_port(spec, "host port", parts[0]);
    mapping.container_port = parse_port(spec, "container port", parts[1]);
    check_argument("-p " + quoted(spec), [&] { nft::validate_ports({&mapping, 1}); });
    return mapping;
}

std::string format_port_spec(const nft::PortMapping& mapping)
{
    return (mapping.host_ip.empty() ? std::string() : mapping.host_ip + ":") + std::to_string(mapping.host_port) +
           ":" + std::to_string(mapping.container_port) + "/" + std::string(nft::to_string(mapping.protocol));
}

}  // namespace warren::cli
