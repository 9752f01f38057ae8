// SPDX-License-Identifier: Apache-2.0
// Ingress mode (docs/ingress.md): a service's host ports, each new connection sent to one of the
// service's backends in proportion to their weights.
#pragma once

#include <warren/nft/export.hpp>
#include <warren/nft/port_mapping.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace warren::nft {

enum class BackendState { active, draining };

// One backend of an ingress service: where its share of the new connections goes.
struct IngressBackend {
    // The container's IPv4 or IPv6 address; a backend receives connections of its family only.
    std::string address;
    // The container port; nullopt takes each port mapping's container_port. Always set when read back.
    std::optional<std::uint16_t> port = std::nullopt;
    // Its share of the new connections relative to the other active backends: 1 to 256.
    std::uint32_t weight = 1;
    // Read back only (publish_ingress() takes active backends): a draining backend gets no new
    // connections, its established ones keep going.
    BackendState state = BackendState::active;
    // Of a draining backend, when one was given to drain_backend().
    std::optional<std::chrono::sys_seconds> deadline = std::nullopt;

    friend bool operator==(const IngressBackend&, const IngressBackend&) = default;
};

// One host port of an ingress service in one family, as read back from the kernel.
struct IngressPort {
    Protocol protocol = Protocol::tcp;
    std::uint16_t host_port = 0;
    AddressFamily family = AddressFamily::ipv4;
    // Ordered by address, then port.
    std::vector<IngressBackend> backends;

    friend bool operator==(const IngressPort&, const IngressPort&) = default;
};

struct IngressService {
    std::string service;
    // Ordered by protocol, host port, then family (IPv4 first).
    std::vector<IngressPort> ports;

    friend bool operator==(const IngressService&, const IngressService&) = default;
};

// "active", "draining"
WARREN_NFT_EXPORT std::string_view to_string(BackendState state) noexcept;

}  // namespace warren::nft
