// SPDX-License-Identifier: Apache-2.0
// The host's routing and addresses, as far as publishing needs them (rtnetlink).
#pragma once

#include "publisher/address.hpp"

#include <linux/netlink.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace warren::nft::netlink {

// The index of the output interface named by the kernel's answer to RTM_GETROUTE (one datagram),
// 0 when it names none. Throws Error (naming `what`) when it is a refusal or does not parse.
std::uint32_t output_interface(std::span<const std::uint8_t> answer, const std::string& what);

// The name of the interface the host routes `destination` (an IPv4 address) through. Throws Error.
std::string interface_towards(const std::array<std::uint8_t, 4>& destination);

// Sets net.ipv4.conf.<interface>.route_localnet to 1 on the interface towards `container` (nothing
// else), unless it is set already: connections the host makes from a 127.0.0.0/8 address may then
// leave through it once DNAT sent them to the container (the masquerade rule gives them the
// interface's address). Throws Error.
void enable_route_localnet(const std::array<std::uint8_t, 4>& container);

// The local address one RTM_NEWADDR message of an address dump carries (IFA_LOCAL, else
// IFA_ADDRESS: on a point-to-point interface IFA_ADDRESS is the peer's); std::nullopt for a message
// of another family or without an address. Throws Error (EPROTO) when the message does not parse or
// its address is not as long as its family's.
std::optional<layout::Address> interface_address(const nlmsghdr* message);

// The IPv4 and IPv6 addresses configured on the interfaces of the calling thread's network
// namespace (one RTM_GETADDR dump), in the kernel's order. Throws Error.
std::vector<layout::Address> host_addresses();

}  // namespace warren::nft::netlink
