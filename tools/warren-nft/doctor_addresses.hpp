// SPDX-License-Identifier: Apache-2.0
// The host address check of `warren-nft doctor`: a port published on one address receives nothing
// when no interface of the host has that address (published with --skip-address-check, or the
// address was removed since).
#pragma once

#include "doctor_report.hpp"

#include <warren/nft.hpp>

#include <string>
#include <vector>

namespace warren::cli::doctor {

// An address of an interface: "br0", "10.88.0.1", 16.
struct InterfaceAddress {
    std::string interface;
    std::string address;  // as inet_ntop writes it
    int prefix = 0;
};

// The IPv4 and IPv6 addresses of this namespace's interfaces (getifaddrs); `error` says why when they
// cannot be read (then none).
std::vector<InterfaceAddress> interface_addresses(std::string& error);

// One WARN line per host address of `published` that is not every address, not loopback
// (127.0.0.0/8, ::1: the kernel's local routes) and not among `local`, naming its ports; one OK line
// when every port bound to one address has it.
void check_host_addresses(Report& report, const std::vector<nft::PublishedPort>& published,
                          const std::vector<InterfaceAddress>& local);

}  // namespace warren::cli::doctor
