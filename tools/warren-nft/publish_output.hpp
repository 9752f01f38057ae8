// SPDX-License-Identifier: Apache-2.0
// What `warren-nft publish` prints: the task's ports as the publisher published them, with the host
// ports it chose for those asked for as free ones.
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <string>
#include <vector>

namespace warren::cli {

// One line per port in -p's syntax with its host port ("32768:80/tcp", "127.0.0.1:32769:80/tcp"),
// then its access policy when it has one ("  allow=10.0.0.0/8 max-conn=10").
std::string format_published_text(const std::vector<nft::PortMapping>& ports);

// A JSON array (docs/cli.md) of objects {"protocol", "host_port", "container_port", "host_ip",
// "name", "access"}, one per port; ends with a newline.
std::string format_published_json(const std::vector<nft::PortMapping>& ports);

}  // namespace warren::cli
