// SPDX-License-Identifier: Apache-2.0
// The rules of <warren/nft/validation.hpp>, and the publisher's parsing variants of them.
#include "publisher/validation.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace warren::nft {
namespace {

[[noreturn]] void refuse(std::string message) { throw Error(errc::invalid_argument, std::move(message)); }

// Task ids and names end up in element comments that `nft list` prints inside quotes and that we
// parse back on adoption, so they are restricted to characters that need no quoting.
bool allowed(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && std::strchr("-_.:@/+", c) != nullptr);
}

std::string quoted(std::string_view text)
{
    std::string out = "\"";
    for (const char c : text) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += c;
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
            out += escaped;
        }
    }
    return out + "\"";
}

void check_word(std::string_view what, std::string_view text, std::size_t max_length)
{
    if (text.size() > max_length)
        refuse(std::string(what) + " is " + std::to_string(text.size()) + " characters long; at most " +
               std::to_string(max_length) + " are allowed");
    const auto bad = std::find_if_not(text.begin(), text.end(), allowed);
    if (bad != text.end())
        refuse(std::string(what) + " " + quoted(text) + " contains " +
               quoted(std::string_view(&*bad, 1)) +
               "; only letters, digits and - _ . : @ / + are allowed");
}

// A dotted-quad IPv4 address that can be a connection's endpoint; `what` names it in messages and
// `unusable` says what to give instead of an unspecified, loopback, multicast or reserved one.
layout::Ipv4 parse_unicast(std::string_view what, std::string_view text, std::string_view unusable)
{
    if (text.find(':') != std::string_view::npos)
        refuse(std::string(what) + " " + quoted(text) + " is IPv6, which warren-nft does not publish yet; give an IPv4 address");
    layout::Ipv4 address{};
    const std::string copy(text);
    // inet_pton accepts exactly the dotted-quad form: no short forms, no octal, no trailing junk.
    if (copy.find('\0') != std::string::npos || inet_pton(AF_INET, copy.c_str(), address.data()) != 1)
        refuse(std::string(what) + " " + quoted(text) + " is not an IPv4 address like 10.88.0.5");
    const auto first = address[0];
    if (first == 0 || first == 127 || first >= 224)
        refuse(std::string(what) + " " + quoted(text) + " " + std::string(unusable));
    return address;
}

// PortMapping::host_ip; empty is 0.0.0.0, all addresses.
layout::Ipv4 parse_host_ip(std::string_view what, std::string_view host_ip)
{
    if (host_ip.empty())
        return {};
    return parse_unicast(what, host_ip,
                         "is not an address ports can be published on (unspecified, loopback, multicast or "
                         "reserved); give one of the host's own addresses, or leave it empty to publish on all of them");
}

}  // namespace

void validate_task_id(std::string_view task_id)
{
    if (task_id.empty())
        refuse("task id is empty; give the task's id, e.g. web-1");
    check_word("task id", task_id, max_task_id_length);
}

void validate_port_name(std::string_view name) { check_word("port name", name, max_name_length); }

void validate_container_ip(std::string_view container_ip) { validation::parse_container_ip(container_ip); }

void validate_ports(std::span<const PortMapping> ports) { validation::check_ports(ports); }

void validate_host_ip(std::string_view host_ip) { parse_host_ip("host IP", host_ip); }

layout::Ipv4 validation::parse_container_ip(std::string_view container_ip)
{
    return parse_unicast("container IP", container_ip,
                         "cannot receive forwarded traffic (unspecified, loopback, multicast or reserved); give the "
                         "container's own address");
}

std::vector<validation::CheckedPort> validation::check_ports(std::span<const PortMapping> ports)
{
    if (ports.empty())
        refuse("no ports given; to remove a task's ports, call unpublish_ports");
    if (ports.size() > max_ports_per_request)
        refuse(std::to_string(ports.size()) + " ports in one request; at most " + std::to_string(max_ports_per_request) +
               " are allowed");
    std::vector<CheckedPort> checked;
    checked.reserve(ports.size());
    for (const auto& port : ports) {
        if (port.protocol != Protocol::tcp && port.protocol != Protocol::udp && port.protocol != Protocol::sctp)
            refuse("protocol " + std::to_string(static_cast<int>(port.protocol)) + " is unknown; use tcp, udp or sctp");
        layout::HostPort host_port{port.protocol, port.host_port};
        if (!port.host_ip.empty())  // the message is only built when there is an address to check
            host_port.address = parse_host_ip("host port " + layout::describe(host_port) + ": host IP", port.host_ip);
        if (port.publish_mode == PublishMode::ingress)
            refuse("port " + layout::describe(host_port) + " asks for ingress mode, which is not supported yet; use host mode");
        if (port.publish_mode != PublishMode::host)
            refuse("publish mode " + std::to_string(static_cast<int>(port.publish_mode)) + " is unknown; use host mode");
        if (port.host_port == 0)
            refuse("host port 0 is not a port; give 1-65535 (container port " + std::to_string(port.container_port) + ")");
        if (port.container_port == 0)
            refuse("container port 0 of host port " + layout::describe(host_port) + " is not a port; give 1-65535");
        validate_port_name(port.name);
        checked.push_back(CheckedPort{port, host_port});
    }
    std::sort(checked.begin(), checked.end(),
              [](const CheckedPort& a, const CheckedPort& b) { return a.host_port < b.host_port; });
    // Sorted, a port on all addresses comes right before the same port bound to an address.
    const auto clash = std::adjacent_find(checked.begin(), checked.end(), [](const auto& a, const auto& b) {
        return layout::overlap(a.host_port, b.host_port);
    });
    if (clash != checked.end()) {
        const auto& next = *std::next(clash);
        if (clash->host_port == next.host_port)
            refuse("host port " + layout::describe(clash->host_port) +
                   " appears twice in one request; each host port can lead to one container port");
        refuse("host port " + layout::describe(clash->host_port) + " is asked for both on all addresses and on " +
               layout::to_string(next.host_port.address) +
               " in one request; a port on all addresses includes every address, so give one or the other");
    }
    return checked;
}

}  // namespace warren::nft
