// SPDX-License-Identifier: Apache-2.0
// The host's routing, as far as publishing on a loopback address needs it (rtnetlink).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

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

}  // namespace warren::nft::netlink
