// SPDX-License-Identifier: Apache-2.0
// A container port to publish on the host, as Warren's scheduler describes it.
#pragma once

#include <warren/nft/export.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace warren::nft {

enum class Protocol { tcp, udp, sctp };
enum class PublishMode { host, ingress };

struct PortMapping {
    std::uint16_t host_port = 0;
    std::uint16_t container_port = 0;
    Protocol protocol = Protocol::tcp;
    PublishMode publish_mode = PublishMode::host;
    std::string name;  // optional, shown in `nft list`
    // The host address the port is published on (see validate_host_ip()): empty for every address
    // of the host in each family the container has an address of; "0.0.0.0" for every IPv4 address
    // only, "::" for every IPv6 address only (docker's semantics); or one address of either family,
    // as "10.0.0.1" or "2001:db8::10". A 127.0.0.0/8 address publishes the port for the host's own
    // processes only. Last, and with an initializer, so that aggregate initialisations written
    // before it existed still compile without -Wmissing-field-initializers warnings.
    std::string host_ip = {};

    friend bool operator==(const PortMapping&, const PortMapping&) = default;
};

// A task's container addresses: an IPv4 address, an IPv6 address, or both (either may be empty,
// not both). A port is published for each family the container has an address of, on the host
// addresses its PortMapping::host_ip names.
struct ContainerAddresses {
    std::string ipv4;
    std::string ipv6;

    friend bool operator==(const ContainerAddresses&, const ContainerAddresses&) = default;
};

// "tcp", "udp", "sctp"
WARREN_NFT_EXPORT std::string_view to_string(Protocol protocol) noexcept;
// "host", "ingress"
WARREN_NFT_EXPORT std::string_view to_string(PublishMode mode) noexcept;

}  // namespace warren::nft
