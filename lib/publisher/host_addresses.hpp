// SPDX-License-Identifier: Apache-2.0
// Which host addresses a port may be published on: those of the host's interfaces, and loopback.
#pragma once

#include "publisher/element_codec.hpp"

#include <warren/nft/error.hpp>

#include <span>
#include <string_view>
#include <vector>

namespace warren::nft::layout {

// Whether a port bound to `address` is published on an address the host must have on an
// interface: not every address (unspecified), and not loopback. Every 127.0.0.0/8 address is
// local whenever the loopback interface is up (the kernel's local route covers the whole /8, not
// only 127.0.0.1), and ::1 is loopback's own, so these are never read back.
bool needs_interface_address(const Address& address) noexcept;

// The addresses of `wanted` that needs_interface_address() and `present` (what the host was found
// to have among them) does not hold, each once.
std::vector<Address> absent_addresses(std::span<const Address> wanted, std::span<const Address> present);

// The invalid_argument a publish of `port` on an address the host does not have fails with.
Error absent_host_address(std::string_view task_id, const HostPort& port);

}  // namespace warren::nft::layout
