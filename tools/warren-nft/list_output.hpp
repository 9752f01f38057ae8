// SPDX-License-Identifier: Apache-2.0
// How `warren-nft list` prints published ports: an aligned table for people, JSON for scripts.
#pragma once

#include <warren/nft/host_port_publisher.hpp>

#include <string>
#include <vector>

namespace warren::cli {

// Each port is shown with the counters of its destination (container ip, protocol, container port)
// from `counters`; ports whose destination has none show "-" and null. That is every port when the
// table does not count at all (the default; `publish --counters` turns counting on, and `counters`
// is then empty), and otherwise a port whose backends element was deleted by hand, or was published
// after the counters were read.

// One header line and one line per port: TASK, HOST ([host ip:]port/protocol), CONTAINER (ip:port),
// NAME, PACKETS, BYTES (right-aligned).
std::string format_table(const std::vector<nft::PublishedPort>& ports, const std::vector<nft::DestinationCounters>& counters);

// A JSON array (docs/cli.md) of objects {"task", "protocol", "host_port", "container_ip",
// "container_port", "name", "packets", "bytes", "host_ip"}, one per port, in the order given; ends
// with a newline.
std::string format_json(const std::vector<nft::PublishedPort>& ports, const std::vector<nft::DestinationCounters>& counters);

}  // namespace warren::cli
