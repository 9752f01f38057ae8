// SPDX-License-Identifier: Apache-2.0
// The adoption check of `warren-nft doctor`: what makes table ip warren do nothing although ports are
// published in it (dormant, a chain's policy drop), which the next publish repairs, and what makes
// a publisher refuse it (owned by another process; a set that would expire, match ranges, refuse
// changes or fill up), which only deleting the table fixes.
#pragma once

#include <string>
#include <vector>

namespace warren::cli::doctor {

struct AdoptionProblem {
    std::string text;  // the FAIL line, ending with its fix
    bool refused;      // a publisher refuses the table; otherwise its next change repairs it
};

// The problems of table ip warren, as `nft -t list table ip warren` prints it. Read from the text,
// not from `nft -j`: nft 1.0.6 prints the JSON of a table with flags (a dormant or an owned one)
// with garbage for the flags, or cut off after them, and leaves out a set's flag dynamic.
std::vector<AdoptionProblem> adoption_problems(const std::string& listing);

}  // namespace warren::cli::doctor
