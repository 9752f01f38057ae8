// SPDX-License-Identifier: Apache-2.0
#include "agent_log.hpp"

#include "printable.hpp"

#include <iostream>
#include <string>

namespace warren::agent {

void log_line(std::string_view message)
{
    // Messages echo what others chose (process names, task ids) already escaped: their backslashes stay.
    std::cerr << "warren-nft-agent: " + nft::printable(message, nft::Backslash::keep) + "\n" << std::flush;
}

}  // namespace warren::agent
