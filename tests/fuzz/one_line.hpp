// SPDX-License-Identifier: Apache-2.0
// Checks shared by the fuzz targets: what a refusal may look like, and how a target fails.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace warren::fuzz {

// Stops the run with `why`: libFuzzer saves the input that got here as a crash.
[[noreturn]] inline void fail(std::string_view why, std::string_view detail = {})
{
    std::fprintf(stderr, "fuzz check failed: %.*s: %.*s\n", static_cast<int>(why.size()), why.data(),
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

// A message for people: one line of printable ASCII (UTF-8 "…" allowed), of bounded length, whatever
// the input was.
inline void check_message(std::string_view message)
{
    constexpr std::size_t longest = 2048;
    if (message.empty() || message.size() > longest)
        fail("a message is empty or longer than 2048 bytes", message.substr(0, 200));
    for (const char c : message)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            fail("a message holds a control character", message);
}

}  // namespace warren::fuzz
