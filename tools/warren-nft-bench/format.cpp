// SPDX-License-Identifier: Apache-2.0
#include "format.hpp"

#include <cstdio>

namespace bench {

std::string format(const char* spec, double value)
{
    char text[64];
    std::snprintf(text, sizeof text, spec, value);
    return text;
}

std::string with_thousands(double value)
{
    // Copied digit by digit: GCC 12 misreads std::string::insert in a loop here (-Werror=restrict).
    const auto digits = format("%.0f", value);
    const auto first = digits.find_first_of("0123456789");
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        out += digits[i];
        const auto left = digits.size() - i - 1;
        if (first != std::string::npos && i >= first && left > 0 && left % 3 == 0)
            out += ',';
    }
    return out;
}

nlohmann::json percentiles_json(const Percentiles& p)
{
    return {{"min", p.min}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}};
}

void put_percentiles(nlohmann::json& j, const char* key, const std::optional<Percentiles>& p)
{
    if (p)
        j[key] = percentiles_json(*p);
}

nlohmann::json optional_text(const std::optional<std::string>& text) { return text ? nlohmann::json(*text) : nlohmann::json(); }

}  // namespace bench
