// SPDX-License-Identifier: Apache-2.0
// Checks every request before anything is sent to the kernel; each refusal is an Error with
// errc::invalid_argument that says which argument is wrong and what would be right.
#pragma once

#include "publisher/layout.hpp"

#include <warren/nft/port_mapping.hpp>

#include <span>
#include <string_view>
#include <vector>

namespace warren::nft::validation {

void check_task_id(std::string_view task_id);
layout::Ipv4 parse_container_ip(std::string_view container_ip);
// Returns the ports ordered by protocol and host port, the order published_ports() reports them in.
std::vector<PortMapping> check_ports(std::span<const PortMapping> ports);

}  // namespace warren::nft::validation
