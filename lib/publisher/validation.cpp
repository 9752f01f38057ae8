// SPDX-License-Identifier: Apache-2.0
#include "publisher/validation.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/host_port_publisher.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace warren::nft::validation {
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

std::string describe(const PortMapping& port)
{
    return std::to_string(port.host_port) + "/" + std::string(to_string(port.protocol));
}

}  // namespace

void check_task_id(std::string_view task_id)
{
    if (task_id.empty())
        refuse("task id is empty");
    check_word("task id", task_id, HostPortPublisher::max_task_id_length);
}

layout::Ipv4 parse_container_ip(std::string_view container_ip)
{
    if (container_ip.find(':') != std::string_view::npos)
        refuse("container IP " + quoted(container_ip) + " is IPv6, which warren-nft does not publish yet; give an IPv4 address");
    layout::Ipv4 address{};
    const std::string text(container_ip);
    // inet_pton accepts exactly the dotted-quad form: no short forms, no octal, no trailing junk.
    if (text.find('\0') != std::string::npos || inet_pton(AF_INET, text.c_str(), address.data()) != 1)
        refuse("container IP " + quoted(container_ip) + " is not an IPv4 address like 10.88.0.5");
    const auto first = address[0];
    if (first == 0 || first == 127 || first >= 224)
        refuse("container IP " + quoted(container_ip) +
               " cannot receive forwarded traffic (unspecified, loopback, multicast or reserved); give the container's own address");
    return address;
}

std::vector<PortMapping> check_ports(std::span<const PortMapping> ports)
{
    if (ports.empty())
        refuse("no ports given; to remove a task's ports, call unpublish_ports");
    if (ports.size() > HostPortPublisher::max_ports_per_request)
        refuse(std::to_string(ports.size()) + " ports in one request; at most " +
               std::to_string(HostPortPublisher::max_ports_per_request) + " are allowed");
    std::vector<PortMapping> sorted(ports.begin(), ports.end());
    for (const auto& port : sorted) {
        if (port.protocol != Protocol::tcp && port.protocol != Protocol::udp && port.protocol != Protocol::sctp)
            refuse("protocol " + std::to_string(static_cast<int>(port.protocol)) + " is unknown; use tcp, udp or sctp");
        if (port.publish_mode == PublishMode::ingress)
            refuse("port " + describe(port) + " asks for ingress mode, which is not supported yet; use host mode");
        if (port.publish_mode != PublishMode::host)
            refuse("publish mode " + std::to_string(static_cast<int>(port.publish_mode)) + " is unknown; use host mode");
        if (port.host_port == 0)
            refuse("host port 0 is not a port; give 1-65535 (container port " + std::to_string(port.container_port) + ")");
        if (port.container_port == 0)
            refuse("container port 0 of host port " + describe(port) + " is not a port; give 1-65535");
        check_word("port name", port.name, HostPortPublisher::max_name_length);
    }
    auto by_host_port = [](const PortMapping& a, const PortMapping& b) {
        return std::pair(a.protocol, a.host_port) < std::pair(b.protocol, b.host_port);
    };
    std::sort(sorted.begin(), sorted.end(), by_host_port);
    const auto duplicate = std::adjacent_find(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
        return a.protocol == b.protocol && a.host_port == b.host_port;
    });
    if (duplicate != sorted.end())
        refuse("host port " + describe(*duplicate) + " appears twice in one request; each host port can lead to one container port");
    return sorted;
}

}  // namespace warren::nft::validation
