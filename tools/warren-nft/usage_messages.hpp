// SPDX-License-Identifier: Apache-2.0
// What is wrong with a command line, in the words of docs/cli.md rather than CLI11's: an unknown
// option or argument named as such, a missing command or value named with what it takes.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace warren::cli {

// The commands, as the messages list them.
inline constexpr std::string_view command_list = "publish, unpublish, drain, list, metrics, flush, doctor or watch";

// "warren-nft publish --help" for the command given, else "warren-nft --help".
std::string help_command(const CLI::App& app);

// "-p/--publish", "--task": the option's names as --help lists them.
std::string option_names(const CLI::Option& option);

// The first argument CLI11 could not place (every option and subcommand accepts extras, so that
// this names them): "unknown option \"--all\" for warren-nft unpublish", "unexpected argument
// \"foo\"", "unknown command \"frobnicate\"", or "a command is required" when none was given; empty
// when the command line is well formed. Echoed values are quoted and escaped.
std::string misplaced_argument(const CLI::App& app);

// CLI11's refusal of an option's values (none given: "option -p needs a value, SPEC"; one given
// twice), in those words; what CLI11 says for anything else.
std::string refused_option(const CLI::App& app, const CLI::ParseError& error);

}  // namespace warren::cli
