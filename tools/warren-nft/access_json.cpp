// SPDX-License-Identifier: Apache-2.0
#include "access_json.hpp"

namespace warren::cli {

nlohmann::ordered_json access_json(const nft::AccessPolicy& policy)
{
    return {{"allow", policy.allow},
            {"max_connections", policy.max_connections},
            {"rate", policy.rate},
            {"rate_unit", std::string(nft::to_string(policy.rate_unit))}};
}

}  // namespace warren::cli
