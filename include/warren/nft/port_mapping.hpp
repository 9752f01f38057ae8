// SPDX-License-Identifier: Apache-2.0
// A container port to publish on the host, as Warren's scheduler describes it.
#pragma once

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
    std::string name; // optional, shown in `nft list`
    // The host address the port is published on: empty for every address of the host (docker's
    // 0.0.0.0), or one of its IPv4 addresses, as "10.0.0.1" (see validate_host_ip()). Last, and with
    // an initializer, so that aggregate initialisations written before it existed still compile
    // without -Wmissing-field-initializers warnings.
    std::string host_ip = {};

    friend bool operator==(const PortMapping&, const PortMapping&) = default;
};

// "tcp", "udp", "sctp"
std::string_view to_string(Protocol protocol) noexcept;
// "host", "ingress"
std::string_view to_string(PublishMode mode) noexcept;

} // namespace warren::nft
