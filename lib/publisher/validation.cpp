// SPDX-License-Identifier: Apache-2.0
// The rules of <warren/nft/validation.hpp>, and the publisher's parsing variants of them.
#include "publisher/validation.hpp"

#include "printable.hpp"
#include "publisher/access_policy.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <algorithm>
#include <cstring>
#include <tuple>

namespace warren::nft {
namespace {

using layout::Address;
using layout::Family;

[[noreturn]] void refuse(std::string message) { throw Error(errc::invalid_argument, std::move(message)); }

// Task ids and names end up in element comments that `nft list` prints inside quotes and that we
// parse back on adoption, so they are restricted to characters that need no quoting.
bool allowed(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && std::strchr("-_.:@/+", c) != nullptr);
}

bool valid_word(std::string_view text, std::size_t max_length) noexcept
{
    return text.size() <= max_length && std::all_of(text.begin(), text.end(), allowed);
}

void check_word(std::string_view what, std::string_view text, std::size_t max_length)
{
    if (text.size() > max_length)
        refuse(std::string(what) + " is " + std::to_string(text.size()) + " characters long; at most " +
               std::to_string(max_length) + " are allowed");
    const auto bad = std::find_if_not(text.begin(), text.end(), allowed);
    if (bad != text.end())
        refuse(std::string(what) + " " + quote(text) + " contains " + quote(std::string_view(&*bad, 1)) +
               "; only letters, digits and - _ . : @ / + are allowed");
}

bool in_prefix(const Address& address, std::initializer_list<std::uint8_t> prefix, unsigned bits)
{
    auto byte = prefix.begin();
    for (unsigned i = 0; i < bits; i += 8, ++byte) {
        const unsigned take = std::min(8u, bits - i);
        const auto mask = static_cast<std::uint8_t>(0xff << (8 - take));
        if ((address.bytes[i / 8] & mask) != (*byte & mask))
            return false;
    }
    return true;
}

// Why an address cannot be a connection's endpoint, or nullptr. `loopback` may be fine (a host
// address on IPv4), so it is told apart.
enum class Kind { usable, unspecified, loopback, ipv6_loopback, mapped, link_local, multicast_or_reserved };

Kind kind_of(const Address& address)
{
    if (address.family == Family::ip) {
        const auto first = address.bytes[0];
        if (first == 0)
            return Kind::unspecified;
        if (first == 127)
            return Kind::loopback;
        if (first >= 224)
            return Kind::multicast_or_reserved;
        return Kind::usable;
    }
    if (address.unspecified())
        return Kind::unspecified;
    if (in_prefix(address, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128))
        return Kind::ipv6_loopback;
    if (in_prefix(address, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96))
        return Kind::mapped;
    if (in_prefix(address, {0xfe, 0x80}, 10))
        return Kind::link_local;
    if (in_prefix(address, {0xff}, 8))
        return Kind::multicast_or_reserved;
    return Kind::usable;
}

bool all_of(std::string_view text, const char* characters)
{
    return !text.empty() && text.find_first_not_of(characters) == std::string_view::npos;
}

constexpr const char* digits = "0123456789";

// "10.88.0.5:80": an IPv4 address and a port, as a URL or `ss` writes them.
bool ipv4_with_port(std::string_view text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || !all_of(text.substr(colon + 1), digits))
        return false;
    const auto address = layout::parse_address(text.substr(0, colon));
    return address && address->family == Family::ip;
}

// Why `text` is no address, by the family it looks like it was meant to be: one sentence that says
// what is wrong with it, after "<what> <text> ".
std::string not_an_address(std::string_view text)
{
    if (text.empty())
        return "is empty; give an IPv4 address like 10.88.0.5 or an IPv6 address like fd00::5";
    if (ipv4_with_port(text))
        return "is an IPv4 address with a port; give the address alone (" + printable(text.substr(0, text.rfind(':'))) +
               "): ports are given with each port mapping";
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close != std::string_view::npos && close + 1 < text.size())
            return "has brackets and a port; give the IPv6 address alone, without brackets: ports are given with "
                   "each port mapping";
        return "is in brackets; give the IPv6 address without brackets";
    }
    if (text.find('%') != std::string_view::npos)
        return "has an IPv6 zone (%interface), which cannot be given; give the address alone";
    if (text.find(':') != std::string_view::npos)
        return "has a ':' but is not a valid IPv6 address like fd00::5 or 2001:db8::10";
    if (all_of(text, "0123456789."))
        return "is not a valid IPv4 address: four numbers from 0 to 255 separated by dots, like 10.88.0.5";
    return "is not an IPv4 address like 10.88.0.5 or an IPv6 address like fd00::5";
}

// An address of either family in the form inet_pton takes; `what` names it in messages.
Address parse(std::string_view what, std::string_view text)
{
    if (const auto address = layout::parse_address(text))
        return *address;
    refuse(std::string(what) + " " + quote(text) + " " + not_an_address(text));
}

// The host address a port is published on: the unspecified address of a family for every address
// of it, one address of the host's, or an IPv4 loopback address.
Address parse_host_ip(std::string_view what, std::string_view host_ip)
{
    const auto address = parse(what, host_ip);
    switch (kind_of(address)) {
        case Kind::usable:
        case Kind::loopback: return address;
        case Kind::unspecified:
            if (host_ip == "0.0.0.0" || address.family == Family::ip6)
                return address;
            break;
        case Kind::ipv6_loopback:
            refuse(std::string(what) + " " + quote(host_ip) +
                   " is the IPv6 loopback address: the kernel cannot NAT a connection to ::1 to another host (IPv6 has no "
                   "route_localnet), so nothing could reach the container there; publish on 127.0.0.1 for the host's own "
                   "processes, or on one of the host's IPv6 addresses");
        case Kind::mapped:
            refuse(std::string(what) + " " + quote(host_ip) + " is an IPv4-mapped IPv6 address; give the IPv4 address itself");
        case Kind::link_local:
            refuse(std::string(what) + " " + quote(host_ip) +
                   " is an IPv6 link-local address, which is only unique together with an interface; publish on one of the "
                   "host's global or unique local addresses, or on [::]");
        case Kind::multicast_or_reserved: break;
    }
    refuse(std::string(what) + " " + quote(host_ip) +
           " is not an address ports can be published on (unspecified, multicast or reserved); give one of the "
           "host's own addresses, 0.0.0.0 or :: for every address of that family, or leave it empty for every address");
}

}  // namespace

void validate_task_id(std::string_view task_id)
{
    if (task_id.empty())
        refuse("task id is empty; give the task's id, e.g. web-1");
    check_word("task id", task_id, max_task_id_length);
}

void validate_port_name(std::string_view name) { check_word("port name", name, max_name_length); }

bool validation::valid_task_id(std::string_view task_id) noexcept
{
    return !task_id.empty() && valid_word(task_id, max_task_id_length);
}

bool validation::valid_port_name(std::string_view name) noexcept { return valid_word(name, max_name_length); }

void validate_container_ip(std::string_view container_ip) { validation::parse_container_ip(container_ip); }

void validate_container_addresses(const ContainerAddresses& container) { validation::parse_container_addresses(container); }

void validate_ports(std::span<const PortMapping> ports) { validation::check_ports(ports); }

void validate_host_ip(std::string_view host_ip)
{
    if (!host_ip.empty())
        parse_host_ip("host IP", host_ip);
}

Address validation::parse_container_ip(std::string_view container_ip)
{
    const auto address = parse("container IP", container_ip);
    if (kind_of(address) != Kind::usable)
        refuse("container IP " + quote(container_ip) +
               " cannot receive forwarded traffic (unspecified, loopback, link-local, IPv4-mapped, multicast or "
               "reserved); give the container's own address");
    return address;
}

validation::ContainerFamilies validation::parse_container_address(std::string_view container_ip)
{
    const auto address = parse_container_ip(container_ip);
    ContainerFamilies out;
    out[layout::family_index(address.family)] = address;
    return out;
}

validation::ContainerFamilies validation::parse_container_addresses(const ContainerAddresses& container)
{
    if (container.ipv4.empty() && container.ipv6.empty())
        refuse("no container address given; give the container's IPv4 address, its IPv6 address, or both");
    ContainerFamilies out;
    for (const auto& [text, family] : {std::pair{&container.ipv4, Family::ip}, std::pair{&container.ipv6, Family::ip6}}) {
        if (text->empty())
            continue;
        const auto address = parse_container_ip(*text);
        if (address.family != family)
            refuse("container IP " + quote(*text) + " is " + std::string(layout::family_name(address.family)) +
                   ", given as the container's " + std::string(layout::family_name(family)) + " address");
        out[layout::family_index(family)] = address;
    }
    return out;
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
        std::optional<Address> host;
        if (!port.host_ip.empty())  // the message is only built when there is an address to check
            host = host_port.address = parse_host_ip("host port " + layout::describe(host_port) + ": host IP", port.host_ip);
        if (port.publish_mode == PublishMode::ingress)
            refuse("port " + layout::describe(host_port) +
                   " asks for ingress mode; publish_ports() publishes host-mode ports, publish ingress ports with "
                   "publish_ingress()");
        if (port.publish_mode != PublishMode::host)
            refuse("publish mode " + std::to_string(static_cast<int>(port.publish_mode)) + " is unknown; use host mode");
        if (port.container_port == 0)
            refuse("container port 0 of host port " + layout::describe(host_port) + " is not a port; give 1-65535");
        validate_port_name(port.name);
        // A task's ports usually share one policy: it is checked once.
        const bool checked_before = !checked.empty() && checked.back().mapping.access == port.access;
        if (const auto problem = checked_before ? std::nullopt : layout::policy_problem(port.access))
            refuse("host port " + layout::describe(host_port) + ": " + *problem);
        checked.push_back(CheckedPort{port, host});
    }
    // Each port as the host ports it may become (an empty host_ip: every address of both
    // families), sorted: a port on every address of a family comes right before the same port
    // bound to an address of that family.
    std::vector<std::pair<layout::HostPort, const CheckedPort*>> keys;
    for (const auto& port : checked) {
        if (port.mapping.host_port == 0)
            continue;  // chosen by the publisher, never twice
        if (port.host) {
            keys.emplace_back(layout::HostPort{port.mapping.protocol, port.mapping.host_port, *port.host}, &port);
            continue;
        }
        for (const auto family : layout::families)
            keys.emplace_back(layout::HostPort{port.mapping.protocol, port.mapping.host_port, layout::any_address(family)},
                              &port);
    }
    std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
        const auto& [a, first] = keys[i];
        for (std::size_t j = i + 1; j < keys.size() && keys[j].first.protocol == a.protocol && keys[j].first.port == a.port;
             ++j) {
            const auto& [b, second] = keys[j];
            if (!layout::overlap(a, b))
                continue;
            if (first->mapping.host_ip == second->mapping.host_ip)
                refuse("host port " + layout::describe(b) +
                       " appears twice in one request; each host port can lead to one container port");
            const auto spelled = [](const CheckedPort* port) {
                return port->mapping.host_ip.empty() ? std::string("every address") : quote(port->mapping.host_ip);
            };
            refuse("host port " + std::to_string(a.port) + "/" + std::string(to_string(a.protocol)) + " is asked for on " +
                   spelled(first) + " and on " + spelled(second) +
                   " in one request; a port on every address (of a family) includes each of its addresses, so give one or the "
                   "other");
        }
    }
    std::sort(checked.begin(), checked.end(), [](const CheckedPort& a, const CheckedPort& b) {
        const auto host_a = a.host.value_or(Address{}), host_b = b.host.value_or(Address{});
        return std::tie(a.mapping.protocol, a.mapping.host_port, host_a) <
               std::tie(b.mapping.protocol, b.mapping.host_port, host_b);
    });
    return checked;
}

}  // namespace warren::nft
