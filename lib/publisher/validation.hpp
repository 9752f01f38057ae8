// SPDX-License-Identifier: Apache-2.0
// The publisher's side of the public checks (<warren/nft/validation.hpp>): the same rules, returning
// what the publisher needs next (the parsed address, the ports in index order), so nothing is
// checked or parsed twice.
#pragma once

#include "publisher/layout.hpp"

#include <warren/nft/port_mapping.hpp>

#include <span>
#include <string_view>
#include <vector>

namespace warren::nft::validation {

// validate_container_ip(), returning the address.
layout::Ipv4 parse_container_ip(std::string_view container_ip);

struct CheckedPort {
    PortMapping mapping;
    layout::HostPort host_port;  // with the address of mapping.host_ip parsed (0.0.0.0 when empty)
};
// validate_ports(), returning the ports ordered by host port (protocol, port, host address), the
// order published_ports() reports them in.
std::vector<CheckedPort> check_ports(std::span<const PortMapping> ports);

}  // namespace warren::nft::validation
