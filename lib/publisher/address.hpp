// SPDX-License-Identifier: Apache-2.0
// An IPv4 or IPv6 address as the layout keeps it: the family and the address in network order.
#pragma once

#include "ruleset/objects.hpp"

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace warren::nft::layout {

using ruleset::Family;

struct Address {
    Family family = Family::ip;
    std::array<std::uint8_t, 16> bytes{};  // the first size() are used, the rest stay 0

    std::size_t size() const noexcept { return family == Family::ip ? 4 : 16; }
    std::span<const std::uint8_t> view() const noexcept { return {bytes.data(), size()}; }
    // 0.0.0.0 or ::, which stands for every address of the family.
    bool unspecified() const noexcept;
    friend auto operator<=>(const Address&, const Address&) = default;
};

// The unspecified address of the family.
inline Address any_address(Family family) { return Address{family, {}}; }
// An address from `size()` bytes in network order (a key or value read back from the kernel).
Address address_from(Family family, std::span<const std::uint8_t> bytes);
// The address with the bits after the first `prefix` cleared, or with `set` set: the first or last
// address of its CIDR of that length.
Address masked(Address address, unsigned prefix, bool set);
// The first four bytes of an IPv4 address.
std::array<std::uint8_t, 4> ipv4_bytes(const Address& address);

// "10.0.0.1", "2001:db8::10" (RFC 5952, as inet_ntop writes it).
std::string to_string(const Address& address);
// As messages name a host address: IPv6 in brackets, "[2001:db8::10]".
std::string display(const Address& address);
// inet_pton of either family: exactly a dotted quad, or an IPv6 address without brackets or zone.
std::optional<Address> parse_address(std::string_view text);

// "IPv4", "IPv6".
std::string_view family_name(Family family) noexcept;

}  // namespace warren::nft::layout
