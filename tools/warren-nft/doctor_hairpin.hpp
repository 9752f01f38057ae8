// SPDX-License-Identifier: Apache-2.0
// The hairpin check of `warren-nft doctor`: a container that connects to its own published port
// through the host's address needs hairpin mode on its bridge port (a bridge never sends a frame back
// out of the port it came in on otherwise). /sys/class/net would show the bridges of the namespace
// sysfs was mounted in, not necessarily the doctor's, so the ports are read with iproute2's bridge.
// An ingress port's backends need it alike: a backend's connection to its service's port may be
// sent to itself.
#pragma once

#include "doctor_addresses.hpp"
#include "doctor_report.hpp"

#include <warren/nft.hpp>

#include <optional>
#include <string>
#include <vector>

namespace warren::cli::doctor {

struct BridgePort {
    std::string name;  // "veth1a2b"
    bool hairpin = false;
};

struct Bridge {
    std::string name;                        // "br0"
    std::vector<InterfaceAddress> networks;  // its own addresses, whose prefixes hold its containers'
    std::vector<BridgePort> ports;
};

// The bridges with ports, from `bridge -j -d link show` (iproute2: its ports with their "master" and
// "hairpin"), with their addresses from `addresses`; nullopt (with the reason in `error`) when the
// text is no such JSON array.
std::optional<std::vector<Bridge>> parse_bridge_links(const std::string& output, const std::vector<InterfaceAddress>& addresses,
                                                      std::string& error);

// Runs `bridge -j -d link show` (over rtnetlink, so in the doctor's own network namespace) and parses it.
std::optional<std::vector<Bridge>> read_bridges(const std::vector<InterfaceAddress>& addresses, std::string& error);

// The containers published ports lead to, as ports: a task's ports as they are; for an ingress
// port, instead of its claim (whose value, the family's unspecified address, is no container), one
// per backend of the port in `services`, active or draining, container_ip its address.
std::vector<nft::PublishedPort> published_containers(const std::vector<nft::PublishedPort>& published,
                                                     const std::vector<nft::IngressService>& services);

// One WARN line per bridge whose networks hold a published container's IPv4 or IPv6 address
// (`published`: published_containers()) and that has ports without hairpin mode, naming those ports
// and the containers; one OK line otherwise.
void check_hairpin(Report& report, const std::vector<nft::PublishedPort>& published, const std::vector<Bridge>& bridges);

}  // namespace warren::cli::doctor
