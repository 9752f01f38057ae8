// SPDX-License-Identifier: Apache-2.0
#include "doctor_ruleset.hpp"

namespace warren::cli::doctor {

using nlohmann::json;

std::string text(const json& object, const char* key)
{
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<const json*> objects(const json& ruleset, const char* kind)
{
    std::vector<const json*> out;
    const auto list = ruleset.find("nftables");
    if (list == ruleset.end() || !list->is_array())
        return out;
    for (const auto& object : *list)
        if (const auto it = object.find(kind); it != object.end() && it->is_object())
            out.push_back(&*it);
    return out;
}

std::optional<json> parse_ruleset(const std::string& output, std::string& error)
{
    try {
        auto ruleset = json::parse(output);
        if (!ruleset.is_object()) {
            error = "nft -j list ruleset printed JSON that is not an object";
            return std::nullopt;
        }
        return ruleset;
    } catch (const json::exception& e) {
        error = std::string(
                    "nft -j list ruleset printed no valid JSON (nft 1.0.6 does so for a table with flags, "
                    "such as a dormant one): ") +
                e.what();
        return std::nullopt;
    }
}

}  // namespace warren::cli::doctor
