// SPDX-License-Identifier: Apache-2.0
// Which published ports `warren-nft list` shows: --task, --port, --protocol and --address, each
// checked before the kernel is asked.
#pragma once

#include "ingress_output.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace warren::cli {

// The values given, each null when its option was left out.
struct ListOptions {
    const std::string* task = nullptr;
    const std::string* port = nullptr;
    const std::string* protocol = nullptr;
    const std::string* address = nullptr;
};

struct ListFilter {
    std::optional<std::string> task;
    std::optional<std::uint16_t> host_port;
    std::optional<nft::Protocol> protocol;
    // Compared as parsed addresses: "0.0.0.0" or "::" for the ports on every address of a family.
    std::optional<std::string> address;

    // Every filter given holds for the port (all of them: they narrow the list together).
    bool matches(const nft::PublishedPort& port) const;
    // The same for an ingress port: on every address of its family, leading to its backends.
    bool matches(const ListedIngressPort& listed) const;
};

// Throws UsageError naming the option, what is wrong and what would be right.
ListFilter parse_list_filter(const ListOptions& options);

}  // namespace warren::cli
