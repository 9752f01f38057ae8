// SPDX-License-Identifier: Apache-2.0
// Short layout::Address constructors for tests.
#pragma once

#include "publisher/address.hpp"

#include <cstdint>
#include <string_view>

namespace warren::nft::test {

inline layout::Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
{
    return layout::Address{ruleset::Family::ip, {a, b, c, d}};
}

inline layout::Address address(std::string_view text) { return layout::parse_address(text).value(); }

}  // namespace warren::nft::test
