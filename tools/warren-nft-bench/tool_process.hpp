// SPDX-License-Identifier: Apache-2.0
// The forking methods' common ground: find the tool, run it, fail loudly when it fails.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace bench {

// Why `program` cannot be used ("`iptables` not found ..."), or nothing when it can.
std::optional<std::string> missing_program(const std::string& program);

// Runs argv (argv[0] looked up like sandbox::find_program) with `input` on stdin, capturing its
// output as Warren's original package did; throws std::runtime_error with its stderr unless it exits 0.
void run_tool(std::vector<std::string> argv, const std::string& input = {});

}  // namespace bench
