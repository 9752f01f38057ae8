// SPDX-License-Identifier: Apache-2.0
// The arguments of ingress mode (docs/cli.md): publish --ingress's --backend values, drain's
// --backend and --deadline, each checked before anything reaches the kernel.
#pragma once

#include <warren/nft/ingress.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace warren::cli {

// A backend's address and, when given, its port: ADDR, ADDR:PORT for IPv4, fd00::5 or [fd00::5] or
// [fd00::5]:PORT for IPv6 (an IPv6 address with a port goes in brackets). The address is checked
// with nft::validate_container_ip(). Throws UsageError naming `option` and the value.
struct BackendAddress {
    std::string address;
    std::optional<std::uint16_t> port;
};
BackendAddress parse_backend_address(std::string_view option, std::string_view text);

// A value of publish --backend: ADDR[:PORT][,weight=W], W from 1 to 256 (1 when left out); no other
// key. Throws UsageError naming --backend, the value and the bad part.
nft::IngressBackend parse_backend(std::string_view text);

// A value of drain --deadline: a whole number of seconds, minutes or hours with its unit (30s, 5m,
// 2h), from 1s to 8760h. Throws UsageError naming --deadline.
std::chrono::seconds parse_duration(std::string_view text);

}  // namespace warren::cli
