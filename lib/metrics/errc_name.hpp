// SPDX-License-Identifier: Apache-2.0
// The names of error conditions as metrics label them: the enumerators' own names.
#pragma once

#include <warren/nft/error.hpp>

#include <string_view>
#include <system_error>

namespace warren::nft {

// "invalid_argument", "port_conflict", ...; "unknown" for a value outside the enumeration.
std::string_view errc_name(errc condition) noexcept;

// errc_name() of a warren-nft error code; "other" for a code of another category (an exception
// that is not an Error, e.g. std::bad_alloc, is counted by its caller as "other" too).
std::string_view error_label(const std::error_code& code) noexcept;

}  // namespace warren::nft
