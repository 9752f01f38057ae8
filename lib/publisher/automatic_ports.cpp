// SPDX-License-Identifier: Apache-2.0
#include "publisher/automatic_ports.hpp"

#include <warren/nft/error.hpp>

#include <algorithm>

namespace warren::nft {

namespace {

// The host addresses a port is published on: its host_ip, or every address of each family the
// container has an address of.
std::vector<layout::Address> host_addresses(const PortMapping& port, const validation::ContainerFamilies& addresses)
{
    if (!port.host_ip.empty())
        return {*layout::parse_address(port.host_ip)};  // validated
    std::vector<layout::Address> out;
    for (const auto& address : addresses)
        if (address)
            out.push_back(layout::any_address(address->family));
    return out;
}

}  // namespace

bool wants_automatic_ports(std::span<const PortMapping> ports) noexcept
{
    return std::any_of(ports.begin(), ports.end(), [](const PortMapping& port) { return port.host_port == 0; });
}

std::vector<PortMapping> choose_host_ports(std::span<const PortMapping> ports, const validation::ContainerFamilies& addresses,
                                           const std::vector<IndexEntry>& current, PublisherOptions::PortRange range,
                                           const std::function<bool(const layout::HostPort&)>& taken, std::uint32_t start)
{
    std::vector<PortMapping> out(ports.begin(), ports.end());
    // The host ports of the request so far: its explicit ones first, then each one chosen.
    std::vector<layout::HostPort> claimed;
    for (const auto& port : out)
        if (port.host_port != 0)
            for (const auto& host : host_addresses(port, addresses))
                claimed.push_back({port.protocol, port.host_port, host});
    const auto claimed_by_request = [&](const layout::HostPort& port) {
        return std::any_of(claimed.begin(), claimed.end(), [&](const layout::HostPort& c) { return layout::overlap(c, port); });
    };
    for (auto& port : out) {
        if (port.host_port != 0)
            continue;
        const auto hosts = host_addresses(port, addresses);
        const auto at = [&](std::uint16_t number, const layout::Address& host) {
            return layout::HostPort{port.protocol, number, host};
        };
        // The task's own port for the same container port, on each of the same addresses.
        const auto kept = [&](std::uint16_t number) {
            return std::all_of(hosts.begin(), hosts.end(), [&](const layout::Address& host) {
                return !claimed_by_request(at(number, host)) &&
                       std::any_of(current.begin(), current.end(), [&](const IndexEntry& entry) {
                           return entry.host_port() == at(number, host) && entry.mapping.container_port == port.container_port;
                       });
            });
        };
        const auto free = [&](std::uint16_t number) {
            return std::all_of(hosts.begin(), hosts.end(), [&](const layout::Address& host) {
                return !claimed_by_request(at(number, host)) && !taken(at(number, host));
            });
        };
        std::optional<std::uint16_t> chosen;
        for (const auto& entry : current)
            if (entry.mapping.protocol == port.protocol && kept(entry.mapping.host_port)) {
                chosen = entry.mapping.host_port;
                break;
            }
        const std::uint32_t size = range.last >= range.first ? range.last - range.first + 1u : 0u;
        for (std::uint32_t offset = 0; !chosen && offset < size; ++offset) {
            const auto number = static_cast<std::uint16_t>(range.first + (start + offset) % size);
            if (free(number))
                chosen = number;
        }
        if (!chosen)
            throw Error(errc::port_conflict,
                        "no free host port in " + std::to_string(range.first) + "-" + std::to_string(range.last) +
                            " for container port " + std::to_string(port.container_port) + "/" +
                            std::string(to_string(port.protocol)) +
                            ": every one is published or has a socket of the host on it; nothing was changed",
                        EADDRINUSE, "choose a host port");
        port.host_port = *chosen;
        for (const auto& host : hosts)
            claimed.push_back(at(*chosen, host));
    }
    return out;
}

}  // namespace warren::nft
