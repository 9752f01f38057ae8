// SPDX-License-Identifier: Apache-2.0
// How `warren-nft list` prints published ports: an aligned table for people, JSON for scripts.
#pragma once

#include <warren/nft/host_port_publisher.hpp>

#include <string>
#include <vector>

namespace warren::cli {

// One header line and one line per port: TASK, HOST (port/protocol), CONTAINER (ip:port), NAME.
std::string format_table(const std::vector<nft::PublishedPort>& ports);

// A JSON array (docs/cli.md) of objects {"task", "protocol", "host_port", "container_ip",
// "container_port", "name"}, one per port, in the order given; ends with a newline.
std::string format_json(const std::vector<nft::PublishedPort>& ports);

}  // namespace warren::cli
