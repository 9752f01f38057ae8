// SPDX-License-Identifier: Apache-2.0
// The agent's log: one line per event on standard error, "warren-nft-agent: MESSAGE", made printable
// (the library never prints; the agent writes what it is told through PublisherOptions).
#pragma once

#include <string_view>

namespace warren::agent {

void log_line(std::string_view message);

}  // namespace warren::agent
