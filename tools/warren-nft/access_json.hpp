// SPDX-License-Identifier: Apache-2.0
// An access policy as `list --json` and `publish --json` print it (docs/cli.md).
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <nlohmann/json.hpp>

namespace warren::cli {

// {"allow": [CIDR...], "max_connections": N, "rate": N, "rate_unit": "second"|"minute"|"hour"};
// 0 is no limit, an empty allow-list every source.
nlohmann::ordered_json access_json(const nft::AccessPolicy& policy);

}  // namespace warren::cli
