// SPDX-License-Identifier: Apache-2.0
// The aligned plain-text tables of `list`: each column as wide as its widest cell, two spaces
// between columns, no trailing spaces.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace warren::cli {

// `rows` (the header first), one line each; a column marked in `right_aligned` is padded on the left.
template <std::size_t Columns>
std::string text_table(const std::vector<std::array<std::string, Columns>>& rows, const std::array<bool, Columns>& right_aligned)
{
    std::array<std::size_t, Columns> widths{};
    for (const auto& row : rows)
        for (std::size_t i = 0; i < Columns; ++i)
            widths[i] = std::max(widths[i], row[i].size());
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < Columns; ++i) {
            const std::string padding(widths[i] - row[i].size(), ' ');
            line += right_aligned[i] ? padding + row[i] : row[i] + padding;
            if (i + 1 < Columns)
                line += "  ";
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    }
    return out;
}

}  // namespace warren::cli
