// SPDX-License-Identifier: Apache-2.0
// What a failure to reach nf_tables means for an operator, in docs/cli.md's words: the capability
// the command lacks, or the kernel's missing nf_tables, each with its fix, instead of the library's
// name for the step that failed.
#pragma once

#include <warren/nft/error.hpp>

#include <string>
#include <string_view>

namespace warren::cli {

// The message for `error` thrown by `command` ("list", "publish", ...): permission_denied and
// kernel_unsupported say what is missing and how to get it; any other error is its own message.
std::string operator_message(std::string_view command, const nft::Error& error);

}  // namespace warren::cli
