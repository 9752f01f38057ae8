// SPDX-License-Identifier: Apache-2.0
// What the CLI tests share: running the warren-nft binary under test (its path in WARREN_NFT, which
// meson test sets) in the calling thread's network namespace, which the test's FreshNetns made, and
// asking a published port for an answer.
#pragma once

#include "process.hpp"
#include "traffic.hpp"

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

// What a client of `net` gets back from the echo server behind host port `port` (one new TCP
// connection to the host): the reply, or "no reply: " and why.
std::string answer(const sandbox::Topology& net, std::uint16_t port, const std::string& payload);

}  // namespace kt
