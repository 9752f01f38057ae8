// SPDX-License-Identifier: Apache-2.0
// How figures are written in every rendering of a run (text, JSON), shared by the report of each mode.
#pragma once

#include "stats.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace bench {

// printf-style formatting of one number, e.g. format("%.1f", 15.9).
std::string format(const char* spec, double value);
// Rounded to an integer with thousands separators: 21,853.
std::string with_thousands(double value);

nlohmann::json percentiles_json(const Percentiles& p);
// Sets j[key] to percentiles_json(*p) when there are figures (nothing measured: no key).
void put_percentiles(nlohmann::json& j, const char* key, const std::optional<Percentiles>& p);
// The text, or JSON null when there is none (a skip reason, an error).
nlohmann::json optional_text(const std::optional<std::string>& text);

// A goal of docs/performance.md checked against a run's figures.
struct Target {
    std::string what;
    std::string measured;
    bool met;
};

}  // namespace bench
