// SPDX-License-Identifier: Apache-2.0
// The access policy options of `warren-nft publish` (--allow, --max-connections, --rate), which
// apply to every -p of the command, and how a policy is written back for people.
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace warren::cli {

// The values of the options as typed; an option left out is empty.
struct AccessArguments {
    std::vector<std::string> allow;  // --allow, repeated
    std::string max_connections;     // --max-connections N
    std::string rate;                // --rate N/second|N/minute|N/hour
};

// The policy the options ask for, each checked with nft::validate_access_policy(). Throws UsageError
// naming the option, what is wrong and what would be right.
nft::AccessPolicy parse_access_policy(const AccessArguments& arguments);

// An allow-list needs a source of each family a port is published in (every family the container
// has an address of, for a port without HOST_IP): refused with a UsageError naming --allow and the
// spec the port came from.
void check_allow_families(std::string_view spec, const nft::PortMapping& mapping, const nft::ContainerAddresses& container);

// "5/second"; "" when the policy has no rate limit.
std::string format_rate(const nft::AccessPolicy& policy);

// "allow=10.0.0.0/8,2001:db8::/32 max-conn=10 rate=5/second", each part only when set; "-" for a
// policy without any. The sources are written as given (the library reads them back canonical and
// escaped).
std::string format_access(const nft::AccessPolicy& policy);

}  // namespace warren::cli
