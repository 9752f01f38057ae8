// SPDX-License-Identifier: Apache-2.0
// Short PortMapping constructors for tests (aggregate init with omitted fields trips -Wextra).
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <string>
#include <utility>

namespace warren::nft::test {

inline PortMapping port(std::uint16_t host, std::uint16_t container, Protocol protocol = Protocol::tcp, std::string name = {})
{
    PortMapping mapping;
    mapping.host_port = host;
    mapping.container_port = container;
    mapping.protocol = protocol;
    mapping.name = std::move(name);
    return mapping;
}

// The mapping, published on one host address only.
inline PortMapping on(std::string host_ip, PortMapping mapping)
{
    mapping.host_ip = std::move(host_ip);
    return mapping;
}

}  // namespace warren::nft::test
