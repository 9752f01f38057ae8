// SPDX-License-Identifier: Apache-2.0
// How warren-nft shows ingress services (list, publish --ingress, drain --json): a table of their
// backends for people, JSON objects in list --json's format for scripts.
#pragma once

#include <warren/nft/ingress.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace warren::cli {

// A time as the CLI shows deadlines: UTC, 2026-12-04T22:05:00Z (the number of seconds when gmtime
// cannot show it).
std::string utc_time(std::chrono::sys_seconds time);

// One ingress port of one family, as list shows it.
struct ListedIngressPort {
    std::string service;
    nft::IngressPort port;
};

// Every port of every service, in list's order: by protocol, host port, then family (IPv4 first).
std::vector<ListedIngressPort> ingress_ports(const std::vector<nft::IngressService>& services);

// One header line and one line per backend of each port: SERVICE, FAMILY, PORT (port/protocol),
// BACKEND (ip:port, [ip]:port for IPv6), WEIGHT (right-aligned), STATE (active or draining),
// DEADLINE (a draining backend's deadline in UTC, 2026-12-04T22:05:00Z; "-" without one). A port
// without backends is one line with "-" for them. Empty when `ports` is.
std::string format_ingress_table(const std::vector<ListedIngressPort>& ports);

// The object list --json has for the port (docs/cli.md): list's members, container_ip "" and
// container_port 0, mode "ingress", and its backends as {"address", "port", "weight", "state",
// "deadline"} (deadline: Unix seconds, or null).
nlohmann::ordered_json ingress_port_json(const ListedIngressPort& port);

// A JSON array of ingress_port_json() of each port, ending with a newline.
std::string format_ingress_json(const std::vector<ListedIngressPort>& ports);

}  // namespace warren::cli
