// SPDX-License-Identifier: Apache-2.0
// Reading `nft -j list ruleset`: the pieces every doctor check that looks at nftables shares.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace warren::cli::doctor {

// The string member `key` of an nft JSON object; empty when it is missing or not a string.
std::string text(const nlohmann::json& object, const char* key);

// The objects of one kind ("table", "chain", "rule", "set", ...) in the ruleset's "nftables" array,
// in the order nft printed them; none when the output has no such array.
std::vector<const nlohmann::json*> objects(const nlohmann::json& ruleset, const char* kind);

// The output of `nft -j list ruleset`, parsed; nullopt (with the reason in `error`) when it is no JSON.
// The text is untrusted: every reader below checks the type of what it takes from it.
std::optional<nlohmann::json> parse_ruleset(const std::string& output, std::string& error);

}  // namespace warren::cli::doctor
