// SPDX-License-Identifier: Apache-2.0
// Bytes read back from the kernel (names, comments, process names) are whatever their writer chose:
// this renders them safe to put into messages and logs.
#pragma once

#include <string>
#include <string_view>

namespace warren::nft {

// `text` with every byte outside printable ASCII, and the backslash, written as \xNN.
inline std::string printable(std::string_view text)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
            out += c;
        } else {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    return out;
}

}  // namespace warren::nft
