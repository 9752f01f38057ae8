// SPDX-License-Identifier: Apache-2.0
// A container port to publish on the host, as Warren's scheduler describes it.
#pragma once

#include <warren/nft/export.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace warren::nft {

enum class Protocol { tcp, udp, sctp };
enum class PublishMode { host, ingress };
// The IP version of an address, a table (ip warren, ip6 warren) and what it publishes.
enum class AddressFamily { ipv4, ipv6 };

// The unit of AccessPolicy::rate.
enum class RateUnit { second, minute, hour };

// Who may open connections to a published port, and how many; each part optional, all of them
// unset (the default) meaning anyone, any number. Enforced by the kernel on each new connection
// (its first packet), whether from another machine, a container or the host itself; connections
// refused are dropped, as if nothing listened. See validate_access_policy().
struct AccessPolicy {
    // Source addresses allowed to connect, as CIDRs ("10.0.0.0/8", "2001:db8::/32") or single
    // addresses ("192.0.2.7"); empty: every source. A port published in a family needs at least
    // one source of that family when the list is not empty. Read back in canonical form: network
    // address and prefix length, those contained in another left out, in order.
    std::vector<std::string> allow = {};
    // At most this many connections to the port open at once (nft's `ct count`); 0: no limit.
    std::uint32_t max_connections = 0;
    // At most this many new connections per rate_unit, with up to `rate` at once (nft's `limit
    // rate N/unit burst N packets`); 0: no limit.
    std::uint32_t rate = 0;
    RateUnit rate_unit = RateUnit::second;

    bool empty() const noexcept { return allow.empty() && max_connections == 0 && rate == 0; }
    friend bool operator==(const AccessPolicy&, const AccessPolicy&) = default;
};

struct PortMapping {
    // 0 asks the publisher to choose a free host port (PublisherOptions::automatic_ports); the
    // mappings publish_ports() returns and published_ports() say which it chose.
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
    // Who may connect, and how many (enforced for every host address the port is published on).
    AccessPolicy access = {};

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
// "ipv4", "ipv6": the family label of the metrics and of `warren-nft list`
WARREN_NFT_EXPORT std::string_view to_string(AddressFamily family) noexcept;
// "second", "minute", "hour"
WARREN_NFT_EXPORT std::string_view to_string(RateUnit unit) noexcept;

}  // namespace warren::nft
