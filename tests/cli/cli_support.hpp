// SPDX-License-Identifier: Apache-2.0
// What the CLI tests share: running the warren-nft binary under test (its path in WARREN_NFT, which
// meson test sets) in the calling thread's network namespace, which the test's FreshNetns made, and
// asking a published port for an answer.
#pragma once

#include "process.hpp"
#include "traffic.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kt {

// The binary's path; fails the test when WARREN_NFT is not set.
std::string warren_nft_path();

// Runs `warren-nft args...` to completion.
sandbox::CommandResult cli(std::vector<std::string> args);

// Runs it and requires exit status 0 and nothing on stderr; returns stdout.
std::string cli_ok(std::vector<std::string> args);

// `warren-nft list --json` with `extra` arguments, parsed; requires an array.
nlohmann::json list_json(std::vector<std::string> extra = {});

// A refused command: the status, nothing on stdout, and one line on stderr that contains every one
// of `words`.
void require_refused(const std::vector<std::string>& args, int status, const std::vector<std::string>& words);

// The words of the line of `text` that contains `needle` (empty when none does): columns whatever
// their widths.
std::vector<std::string> line_words(const std::string& text, const std::string& needle);

// What a client of `net` gets back from the echo server behind host port `port` (one new TCP
// connection to the host): the reply, or "no reply: " and why.
std::string answer(const sandbox::Topology& net, std::uint16_t port, const std::string& payload);

}  // namespace kt
