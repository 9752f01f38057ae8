// SPDX-License-Identifier: Apache-2.0
// How warren-nft reports an error on stderr: one line, "warren-nft: " and the message; with --json
// one JSON object, {"error": {"code": CODE, "message": MESSAGE}} (docs/cli.md).
#pragma once

#include <warren/nft/error.hpp>

#include <ostream>
#include <string_view>

namespace warren::cli {

// The code of a usage error: the library's name for a request it refuses (exit status 2 either way).
inline constexpr std::string_view usage_code = "invalid_argument";
// The code of a failure that is no warren-nft error (exit status 1).
inline constexpr std::string_view other_code = "failed";

// "invalid_argument", "port_conflict", ...: the errc's own name.
std::string_view error_code_name(nft::errc condition) noexcept;

// Writes the error to `err`: `message` is made one line of plain ASCII first (its echoed values are
// already escaped and cut short where it was made).
void report_error(std::ostream& err, bool json, std::string_view code, std::string_view message);

}  // namespace warren::cli
