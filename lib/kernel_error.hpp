// SPDX-License-Identifier: Apache-2.0
// Turns a kernel errno into warren::nft::Error, naming the operation that failed.
#pragma once

#include <warren/nft/error.hpp>
#include <warren/nft/port_mapping.hpp>

#include <string_view>

namespace warren::nft {

errc errc_from_kernel(int err) noexcept;

// "<operation>: <strerror> (errno N)[, <detail>]", classified by errc_from_kernel().
Error kernel_error(int err, std::string_view operation, std::string_view detail = {});

}  // namespace warren::nft
