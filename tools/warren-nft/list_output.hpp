// SPDX-License-Identifier: Apache-2.0
// How `warren-nft list` prints published ports: an aligned table for people, JSON for scripts.
#pragma once

#include "ingress_output.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace warren::cli {

// Each port is shown with the counters of its destination (container ip, protocol, container port)
// from `counters`; ports whose destination has none show "-" and null. That is every port when the
// table does not count at all (the default; `publish --counters` turns counting on, and `counters`
// is then empty), and otherwise a port whose backends element was deleted by hand, or was published
// after the counters were read.

// A port is one family's: all_published_ports() gives a port published on every address of a
// dual-stack task as two, one per family. Its family is that of its container address.

// Puts ports in the order list shows them: by protocol, host port and family (IPv4 first), so that
// a port's two families stand together; the library's order otherwise (every address of a family
// before its single addresses).
void sort_for_listing(std::vector<nft::PublishedPort>& ports);

// What list shows as the task of an element of the ports maps that no task owns (added by another
// program, or whose comment is not one warren-nft writes); the library gives it an empty task id.
inline constexpr std::string_view foreign_task = "(foreign)";

// One header line and one line per port: TASK (foreign_task for an element no task owns, whose
// comment, escaped, is then its NAME, in double quotes), FAMILY (ipv4 or ipv6), HOST (the address the port is
// bound to, * for every address of the family), PORT (port/protocol), CONTAINER (ip:port, [ip]:port
// for IPv6), NAME, PACKETS, BYTES (right-aligned), ACCESS (the port's access policy, as
// format_access() writes it: "-" for none).
std::string format_table(const std::vector<nft::PublishedPort>& ports, const std::vector<nft::DestinationCounters>& counters);

// A JSON array (docs/cli.md) of objects {"task", "protocol", "host_port", "container_ip",
// "container_port", "name", "packets", "bytes", "host_ip", "family", "access", "mode", "backends"}
// (access as access_json() writes it; mode "host" and backends [] for these ports), one per port, in
// the order given, with the objects of the ingress ports (ingress_port_json()) merged in by protocol,
// host port and family; ends with a newline. host_ip is "" for every address of the family; task is
// "" for an element no task owns, and name then its comment, escaped. Never fails on what the
// kernel holds.
std::string format_json(const std::vector<nft::PublishedPort>& ports, const std::vector<nft::DestinationCounters>& counters,
                        const std::vector<ListedIngressPort>& ingress);

// list -q: the task id of each port, once each, in the order of their first port, then each ingress
// service's id not printed yet; an element no task owns has none and is left out. One per line.
std::string format_task_ids(const std::vector<nft::PublishedPort>& ports, const std::vector<ListedIngressPort>& ingress);

}  // namespace warren::cli
