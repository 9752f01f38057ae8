// SPDX-License-Identifier: Apache-2.0
#include "publisher/address.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace warren::nft::layout {

bool Address::unspecified() const noexcept
{
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

Address address_from(Family family, std::span<const std::uint8_t> bytes)
{
    Address address{family, {}};
    std::copy_n(bytes.begin(), std::min(bytes.size(), address.size()), address.bytes.begin());
    return address;
}

Address masked(Address address, unsigned prefix, bool set)
{
    for (std::size_t byte = prefix / 8; byte < address.size(); ++byte) {
        // The bits of this byte after the prefix: all of them past the prefix's byte.
        const unsigned kept = byte == prefix / 8 ? prefix % 8 : 0;
        const auto after = static_cast<std::uint8_t>(0xff >> kept);
        address.bytes[byte] = static_cast<std::uint8_t>(set ? address.bytes[byte] | after : address.bytes[byte] & ~after);
    }
    return address;
}

std::array<std::uint8_t, 4> ipv4_bytes(const Address& address)
{
    return {address.bytes[0], address.bytes[1], address.bytes[2], address.bytes[3]};
}

std::string to_string(const Address& address)
{
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(address.family == Family::ip ? AF_INET : AF_INET6, address.bytes.data(), text, sizeof text);
    return text;
}

std::string display(const Address& address)
{
    return address.family == Family::ip ? to_string(address) : "[" + to_string(address) + "]";
}

std::optional<Address> parse_address(std::string_view text)
{
    const std::string copy(text);
    if (copy.find('\0') != std::string::npos)
        return std::nullopt;
    Address address;
    for (const Family family : {Family::ip, Family::ip6}) {
        address.family = family;
        if (inet_pton(family == Family::ip ? AF_INET : AF_INET6, copy.c_str(), address.bytes.data()) == 1)
            return address;
    }
    return std::nullopt;
}

std::string_view family_name(Family family) noexcept { return family == Family::ip ? "IPv4" : "IPv6"; }

}  // namespace warren::nft::layout
