// SPDX-License-Identifier: Apache-2.0
#include "metrics/table_metrics.hpp"

#include <array>
#include <utility>

namespace warren::nft {

MetricsSnapshot table_metrics(std::span<const PublishedPort> ports, std::vector<DestinationCounters> destinations)
{
    constexpr std::array families{AddressFamily::ipv4, AddressFamily::ipv6};
    constexpr std::array protocols{Protocol::tcp, Protocol::udp, Protocol::sctp};
    MetricsSnapshot out;
    for (const auto family : families)
        for (const auto protocol : protocols)
            out.ports_published.push_back(PortCount{std::string(to_string(family)), protocol, 0});
    for (const auto& port : ports) {
        // A published port's container address is of its family (an ingress claim's is the family's
        // unspecified address): only IPv6 ones have a colon.
        const std::size_t family = port.container_ip.find(':') == std::string::npos ? 0 : 1;
        const auto protocol = static_cast<std::size_t>(port.mapping.protocol);
        if (protocol < protocols.size())
            ++out.ports_published[family * protocols.size() + protocol].ports;
    }
    out.destinations = std::move(destinations);
    return out;
}

}  // namespace warren::nft
