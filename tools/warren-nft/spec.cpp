// SPDX-License-Identifier: Apache-2.0
#include "spec.hpp"

#include "printable.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>

namespace warren::cli {

namespace {

using nft::quote;

constexpr std::string_view form =
    "use [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp], e.g. 8080:80/tcp, "
    "[2001:db8::10]:8080:80, 8000-8002:9000-9002/udp, or 80 or 127.0.0.1::80 for a free host port";

// The library tells the families apart the same way: only an IPv6 address has a ':'.
bool is_ipv6(std::string_view address) { return address.find(':') != std::string_view::npos; }

std::string_view family_name(std::string_view address) { return is_ipv6(address) ? "IPv6" : "IPv4"; }

[[noreturn]] void refuse(std::string_view spec, const std::string& problem)
{
    throw UsageError("-p " + quote(spec) + ": " + problem);
}

// A port number: digits only, at most 65535. Port 0 is left to the caller (a host port 0 asks for a
// free one) and to nft::validate_ports().
std::uint16_t parse_port(std::string_view spec, std::string_view what, std::string_view text)
{
    const auto fail = [&](std::string_view problem) {
        refuse(spec, std::string(what) + " " + quote(text) + " " + std::string(problem) + "; use a number from 1 to 65535");
    };
    if (text.empty())
        refuse(spec, "the " + std::string(what) + " is missing; " + std::string(form));
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

// PORT or FIRST-LAST.
struct PortRange {
    std::string_view text;
    std::uint16_t first = 0;
    std::uint16_t last = 0;

    std::size_t size() const { return std::size_t{last} - first + 1; }
};

PortRange parse_port_range(std::string_view spec, std::string_view what, std::string_view text)
{
    const auto dash = text.find('-');
    if (dash == std::string_view::npos) {
        const auto port = parse_port(spec, what, text);
        return {text, port, port};
    }
    const PortRange range{text, parse_port(spec, what, text.substr(0, dash)), parse_port(spec, what, text.substr(dash + 1))};
    if (range.last < range.first)
        refuse(spec, std::string(what) + " range " + quote(text) + " is reversed; give the lower port first, e.g. " +
                         std::to_string(range.last) + "-" + std::to_string(range.first));
    return range;
}

std::string port_count(const PortRange& range)
{
    return std::string(range.text) + " has " + std::to_string(range.size()) + (range.size() == 1 ? " port" : " ports");
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

bool parses_as_ipv6(std::string_view text)
{
    unsigned char address[16];
    const std::string copy(text);
    return copy.find('\0') == std::string::npos && inet_pton(AF_INET6, copy.c_str(), address) == 1;
}

// Splits `ports` ([[HOST_IP:]HOST:]CONTAINER, the protocol already gone) into the host address and
// the two port parts, as docker reads it: an IPv6 address in brackets, else the first of three
// ':'-separated parts. A container port alone leaves the host port empty: a free one is chosen.
struct SpecParts {
    std::string host_ip;
    std::string_view host_ports;
    std::string_view container_ports;
};

SpecParts split_spec(std::string_view spec, std::string_view ports)
{
    SpecParts parts;
    if (ports.starts_with('[')) {
        const auto close = ports.find(']');
        if (close == std::string_view::npos)
            refuse(spec, "the '[' of the host address has no ']'; " + std::string(form));
        if (close == 1)
            refuse(spec,
                   "the brackets hold no host address; leave HOST_IP out (8080:80) to publish on every "
                   "address, or give one, e.g. [2001:db8::10]:8080:80");
        if (ports.substr(close + 1, 1) != ":")
            refuse(spec, "a bracketed host address must be followed by ':'; " + std::string(form));
        parts.host_ip = ports.substr(1, close - 1);
        ports.remove_prefix(close + 2);
        const auto rest = split(ports, ':');
        if (rest.size() != 2)
            refuse(spec, "expected a host port (empty for a free one) and a container port after the host address; " +
                             std::string(form));
        parts.host_ports = rest[0];
        parts.container_ports = rest[1];
        return parts;
    }
    const auto fields = split(ports, ':');
    if (fields.size() > 3) {
        // Everything before the last two fields, read as one IPv6 address without its brackets.
        const auto end = ports.size() - fields[fields.size() - 1].size() - fields[fields.size() - 2].size() - 2;
        const auto address = ports.substr(0, end);
        if (parses_as_ipv6(address))
            refuse(spec, "the IPv6 host address " + quote(address) + " must be in brackets; use " +
                             quote("[" + std::string(address) + "]:" + std::string(fields[fields.size() - 2]) + ":" +
                                   std::string(fields.back()) + std::string(spec.substr(ports.size()))) +
                             " ([ADDRESS]:HOST_PORT:CONTAINER_PORT)");
        refuse(spec, "too many ':'; " + std::string(form) + " (an IPv6 HOST_IP goes in brackets)");
    }
    if (fields.size() == 3)
        parts.host_ip = fields[0];
    if (fields.size() >= 2)
        parts.host_ports = fields[fields.size() - 2];
    parts.container_ports = fields.back();
    return parts;
}

nft::Protocol parse_protocol(std::string_view spec, std::string_view protocol)
{
    if (protocol == "tcp")
        return nft::Protocol::tcp;
    if (protocol == "udp")
        return nft::Protocol::udp;
    if (protocol == "sctp")
        return nft::Protocol::sctp;
    refuse(spec, "unknown protocol " + quote(protocol) + "; use tcp, udp or sctp (or omit /PROTOCOL for tcp)");
}

// docker's forms for "any free host port": no host port (80, 127.0.0.1::80) or 0 (0:80).
bool is_automatic(std::string_view spec, std::string_view host_ports)
{
    if (host_ports.empty())
        return true;
    if (host_ports.find('-') != std::string_view::npos)
        return false;
    return parse_port(spec, "host port", host_ports) == 0;
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

std::vector<nft::PortMapping> parse_port_spec(std::string_view spec)
{
    nft::PortMapping mapping;
    std::string_view ports = spec;
    if (const auto slash = spec.rfind('/'); slash != std::string_view::npos) {
        mapping.protocol = parse_protocol(spec, spec.substr(slash + 1));
        ports = spec.substr(0, slash);
    }
    const auto parts = split_spec(spec, ports);
    // Judged once for the whole spec, before a range multiplies it.
    check_argument("-p " + quote(spec), [&] { nft::validate_host_ip(parts.host_ip); });
    mapping.host_ip = parts.host_ip;
    const auto container = parse_port_range(spec, "container port", parts.container_ports);
    const bool automatic = is_automatic(spec, parts.host_ports);
    const auto host = automatic ? PortRange{} : parse_port_range(spec, "host port", parts.host_ports);
    if (!automatic && host.first == 0)
        refuse(spec, "host port range " + quote(host.text) +
                         " starts at 0, which is no port; give a range from 1, or 0 alone for a free host port per "
                         "container port");
    if (!automatic && host.size() != container.size())
        refuse(spec, "host and container port ranges must have the same length: " + port_count(host) + ", " +
                         port_count(container) + "; each host port leads to the container port at its place");
    std::vector<nft::PortMapping> mappings;
    mappings.reserve(container.size());
    for (std::size_t i = 0; i < container.size(); ++i) {
        mapping.host_port = automatic ? 0 : static_cast<std::uint16_t>(host.first + i);
        mapping.container_port = static_cast<std::uint16_t>(container.first + i);
        mappings.push_back(mapping);
    }
    check_argument("-p " + quote(spec), [&] { nft::validate_ports(mappings); });
    return mappings;
}

NamedSpec split_port_name(std::string_view value)
{
    const auto equals = value.find('=');
    if (equals == std::string_view::npos)
        return {{}, value};
    NamedSpec named{std::string(value.substr(0, equals)), value.substr(equals + 1)};
    check_argument("-p " + quote(value), [&] { nft::validate_port_name(named.name); });
    if (named.name.empty())
        refuse(value, "the name before '=' is empty; give NAME=SPEC (web=8080:80), or the spec alone");
    return named;
}

std::vector<nft::PortMapping> parse_host_port_spec(std::string_view spec)
{
    try {
        nft::PortMapping mapping;
        std::string_view ports = spec;
        if (const auto slash = spec.rfind('/'); slash != std::string_view::npos) {
            mapping.protocol = parse_protocol(spec, spec.substr(slash + 1));
            ports = spec.substr(0, slash);
        }
        std::string_view host_ports = ports;
        if (ports.starts_with('[')) {
            const auto close = ports.find(']');
            if (close == std::string_view::npos || ports.substr(close + 1, 1) != ":")
                refuse(spec,
                       "a bracketed host address must be closed and followed by ':PORT'; use [HOST_IP:]HOST_PORT[/tcp|udp|sctp], "
                       "e.g. [2001:db8::10]:8080");
            mapping.host_ip = ports.substr(1, close - 1);
            host_ports = ports.substr(close + 2);
        } else if (const auto colon = ports.rfind(':'); colon != std::string_view::npos) {
            if (ports.find(':') != colon)
                refuse(
                    spec,
                    "too many ':'; use [HOST_IP:]HOST_PORT[/tcp|udp|sctp], e.g. 8080, 10.0.0.5:8080/udp or [2001:db8::10]:8080");
            mapping.host_ip = ports.substr(0, colon);
            host_ports = ports.substr(colon + 1);
        }
        check_argument("-p " + quote(spec), [&] { nft::validate_host_ip(mapping.host_ip); });
        const auto range = parse_port_range(spec, "host port", host_ports);
        if (range.first == 0)
            refuse(spec, "host port 0 is no port; give the host port to remove, from 1 to 65535");
        std::vector<nft::PortMapping> mappings;
        for (std::size_t i = 0; i < range.size(); ++i) {
            mapping.host_port = static_cast<std::uint16_t>(range.first + i);
            mappings.push_back(mapping);
        }
        return mappings;
    } catch (const UsageError& e) {
        // The helpers shared with -p name the spec as a -p: here it is a --port.
        const std::string_view message = e.what();
        throw UsageError("--port" + std::string(message.substr(std::string_view("-p").size())));
    }
}

nft::ContainerAddresses parse_container_addresses(std::span<const std::string> ips)
{
    nft::ContainerAddresses container;
    for (const auto& ip : ips) {
        check_argument("--ip", [&] { nft::validate_container_ip(ip); });
        auto& slot = is_ipv6(ip) ? container.ipv6 : container.ipv4;
        if (!slot.empty())
            throw UsageError("--ip: " + quote(slot) + " and " + quote(ip) + " are both " + std::string(family_name(ip)) +
                             " addresses; give the container's address of each family once (at most one IPv4 "
                             "and one IPv6 address)");
        slot = ip;
    }
    check_argument("--ip", [&] { nft::validate_container_addresses(container); });
    return container;
}

void check_host_family(std::string_view spec, const nft::PortMapping& mapping, const nft::ContainerAddresses& container)
{
    if (mapping.host_ip.empty())
        return;
    const bool ipv6 = is_ipv6(mapping.host_ip);
    if (!(ipv6 ? container.ipv6 : container.ipv4).empty())
        return;
    const auto family = family_name(mapping.host_ip);
    refuse(spec, "the host address " + quote(mapping.host_ip) + " is " + std::string(family) + ", but the container has no " +
                     std::string(family) + " address; give it with --ip, or " +
                     (ipv6 ? "an IPv4 host address" : "an IPv6 host address in brackets") +
                     ", or leave HOST_IP out to publish on every address of the container's families");
}

std::string format_port_spec(const nft::PortMapping& mapping)
{
    std::string host;
    if (!mapping.host_ip.empty())
        host = (is_ipv6(mapping.host_ip) ? "[" + mapping.host_ip + "]" : mapping.host_ip) + ":";
    // A free host port: docker's 80 and 127.0.0.1::80.
    if (mapping.host_port != 0)
        host += std::to_string(mapping.host_port) + ":";
    else if (!host.empty())
        host += ":";
    return host + std::to_string(mapping.container_port) + "/" + std::string(nft::to_string(mapping.protocol));
}

}  // namespace warren::cli
