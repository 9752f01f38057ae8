// SPDX-License-Identifier: Apache-2.0
#include "list_filter.hpp"

#include "printable.hpp"
#include "spec.hpp"

#include <warren/nft/validation.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace warren::cli {

namespace {

using nft::quote;

// The address in network order, 16 bytes with the family first, to compare spellings ("::0" and
// "::"); nullopt when it is no address.
std::optional<std::array<unsigned char, 17>> canonical(const std::string& text)
{
    std::array<unsigned char, 17> out{};
    if (text.find('\0') != std::string::npos)
        return std::nullopt;
    if (inet_pton(AF_INET, text.c_str(), out.data() + 1) == 1)
        return out;
    out[0] = 6;
    if (inet_pton(AF_INET6, text.c_str(), out.data() + 1) == 1)
        return out;
    return std::nullopt;
}

bool is_ipv6(const std::string& text) { return text.find(':') != std::string::npos; }

}  // namespace

bool ListFilter::matches(const nft::PublishedPort& port) const
{
    if (task && port.task_id != *task)
        return false;
    if (host_port && port.mapping.host_port != *host_port)
        return false;
    if (protocol && port.mapping.protocol != *protocol)
        return false;
    if (!address)
        return true;
    const auto wanted = canonical(*address);
    // A port on every address has no host address: 0.0.0.0 or :: of its family name it.
    const auto host =
        port.mapping.host_ip.empty() ? std::string(is_ipv6(port.container_ip) ? "::" : "0.0.0.0") : port.mapping.host_ip;
    return canonical(host) == wanted || canonical(port.container_ip) == wanted;
}

bool ListFilter::matches(const ListedIngressPort& listed) const
{
    const auto& port = listed.port;
    if (task && listed.service != *task)
        return false;
    if (host_port && port.host_port != *host_port)
        return false;
    if (protocol && port.protocol != *protocol)
        return false;
    if (!address)
        return true;
    const auto wanted = canonical(*address);
    if (canonical(port.family == nft::AddressFamily::ipv6 ? "::" : "0.0.0.0") == wanted)
        return true;
    return std::any_of(port.backends.begin(), port.backends.end(),
                       [&](const nft::IngressBackend& backend) { return canonical(backend.address) == wanted; });
}

ListFilter parse_list_filter(const ListOptions& options)
{
    ListFilter filter;
    if (options.task) {
        check_argument("--task", [&] { nft::validate_task_id(*options.task); });
        filter.task = *options.task;
    }
    if (options.port) {
        const auto& text = *options.port;
        const bool digits = !text.empty() && text.size() <= 5 &&
                            std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits || std::stoul(text) < 1 || std::stoul(text) > 65535)
            throw UsageError("--port: " + quote(text) + " is no host port; use a number from 1 to 65535");
        filter.host_port = static_cast<std::uint16_t>(std::stoul(text));
    }
    if (options.protocol) {
        const auto& text = *options.protocol;
        if (text == "tcp")
            filter.protocol = nft::Protocol::tcp;
        else if (text == "udp")
            filter.protocol = nft::Protocol::udp;
        else if (text == "sctp")
            filter.protocol = nft::Protocol::sctp;
        else
            throw UsageError("--protocol: " + quote(text) + " is no protocol; use tcp, udp or sctp");
    }
    if (options.address) {
        if (!canonical(*options.address))
            throw UsageError("--address: " + quote(*options.address) +
                             " is no IPv4 or IPv6 address; give one without brackets or prefix, e.g. 10.0.0.5 or fd00::5");
        filter.address = *options.address;
    }
    return filter;
}

}  // namespace warren::cli
