// SPDX-License-Identifier: Apache-2.0
#include "bench_policy.hpp"

namespace bench {

warren::nft::AccessPolicy bench_policy(std::vector<std::string> allow)
{
    return {std::move(allow), bench_policy_max_connections, bench_policy_rate_per_second, warren::nft::RateUnit::second};
}

std::vector<std::string> bench_allowed_sources(AddressFamily family)
{
    std::vector<std::string> allow;
    if (has_ipv4(family))
        allow.insert(allow.end(), {"192.0.2.0/24", "198.51.100.0/24"});
    if (has_ipv6(family))
        allow.insert(allow.end(), {"2001:db8:1::/48", "2001:db8:2::/48"});
    return allow;
}

std::vector<warren::nft::PortMapping> with_policy(std::vector<warren::nft::PortMapping> mappings,
                                                  const warren::nft::AccessPolicy& policy)
{
    for (auto& mapping : mappings)
        mapping.access = policy;
    return mappings;
}

}  // namespace bench
