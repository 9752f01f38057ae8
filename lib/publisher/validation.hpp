// SPDX-License-Identifier: Apache-2.0
// The publisher's side of the public checks (<warren/nft/validation.hpp>): the same rules, returning
// what the publisher needs next (the parsed addresses, the ports in index order), so nothing is
// checked or parsed twice.
#pragma once

#include "publisher/layout.hpp"

#include <warren/nft/port_mapping.hpp>

#include <array>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace warren::nft::validation {

// Whether validate_task_id() and validate_port_name() accept the text, without a message: what
// adoption asks of every owner comment it reads back from the kernel.
bool valid_task_id(std::string_view task_id) noexcept;
bool valid_port_name(std::string_view name) noexcept;

// validate_container_ip(), returning the address.
layout::Address parse_container_ip(std::string_view container_ip);

// validate_container_addresses(), returning the address of each family (by layout::family_index),
// nullopt for a family the container has no address of.
using ContainerFamilies = std::array<std::optional<layout::Address>, 2>;
ContainerFamilies parse_container_addresses(const ContainerAddresses& container);
// One address of either family, as publish_ports(task, container_ip, ports) takes it.
ContainerFamilies parse_container_address(std::string_view container_ip);

struct CheckedPort {
    PortMapping mapping;
    // mapping.host_ip parsed: nullopt when empty (every address of each family the container has),
    // else the unspecified address of a family (0.0.0.0, ::) or one host address.
    std::optional<layout::Address> host;
};
// validate_ports(), returning the ports ordered by protocol and host port.
std::vector<CheckedPort> check_ports(std::span<const PortMapping> ports);

}  // namespace warren::nft::validation
