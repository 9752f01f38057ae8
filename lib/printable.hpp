// SPDX-License-Identifier: Apache-2.0
// Text that another program chose (element comments, names of tables, chains and sets, process
// names) or that a user typed, made fit for a message, a log line or a terminal: one line of plain
// ASCII, of bounded length where it echoes a value. The library's messages and the command line's
// output use these, so that both escape and cut the same way.
//
// Header-only: the command line, which links only the library's public interface, uses it too.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace warren::nft {

// How many bytes of a value a message echoes: enough to recognise it, never a screenful.
inline constexpr std::size_t echo_limit = 64;

// Whether a backslash is written as \x5c (raw bytes: then no escape can be forged) or kept (text that
// was already made printable, whose backslashes start its escapes).
enum class Backslash { escape, keep };

// `text` with every byte outside printable ASCII written as \xNN: control characters (a newline that
// would start a line of its own, an ESC that starts a terminal sequence), bytes that are not UTF-8,
// and valid UTF-8 too, which has control and formatting characters of its own (C1 controls, which
// some terminals obey, bidirectional overrides). Nothing warren-nft writes itself is outside ASCII.
inline std::string printable(std::string_view text, Backslash backslash = Backslash::escape)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte < 0x7f && (byte != '\\' || backslash == Backslash::keep)) {
            out += c;
        } else {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    return out;
}

namespace detail {
inline std::string cut_note(std::size_t size) { return " (cut short, " + std::to_string(size) + " bytes)"; }
}  // namespace detail

// printable() of the first `limit` bytes of `text`, followed by " (cut short, N bytes)" when it is
// longer: at most 4 * limit + 32 bytes, however long the text.
inline std::string excerpt(std::string_view text, std::size_t limit = echo_limit)
{
    if (text.size() <= limit)
        return printable(text);
    return printable(text.substr(0, limit)) + detail::cut_note(text.size());
}

// A value echoed in a message: its excerpt in double quotes, a double quote in it written as \x22 so
// that the quotes show where it ends: "web-1", "a\x0ab", "xxx...x" (cut short, 300 bytes).
inline std::string quote(std::string_view text, std::size_t limit = echo_limit)
{
    const auto shown = text.substr(0, limit);
    std::string out = "\"";
    std::size_t from = 0;
    for (auto at = shown.find('"'); at != std::string_view::npos; at = shown.find('"', from)) {
        out += printable(shown.substr(from, at - from));
        out += "\\x22";
        from = at + 1;
    }
    out += printable(shown.substr(from));
    out += '"';
    if (text.size() > limit)
        out += detail::cut_note(text.size());
    return out;
}

}  // namespace warren::nft
