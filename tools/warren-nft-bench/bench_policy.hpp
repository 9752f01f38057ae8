// SPDX-License-Identifier: Apache-2.0
// The access policy the benchmark puts on every published port of its policy method (latency) and
// layout (data path): an allow-list of two CIDRs per family, a connection limit and a rate limit,
// so that the kernel evaluates all three parts. The limits are far above what a measurement opens,
// so that the policy never refuses a connection the benchmark counts.
#pragma once

#include "service.hpp"

#include <warren/nft/port_mapping.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

// max_connections and rate of every benchmark policy: above the data path's in-flight connections
// and its connections per second by orders of magnitude, and within the library's limit.
inline constexpr std::uint32_t bench_policy_max_connections = 100'000;
inline constexpr std::uint32_t bench_policy_rate_per_second = 1'000'000;

// A policy allowing `allow`, with the limits above.
warren::nft::AccessPolicy bench_policy(std::vector<std::string> allow);

// Two CIDRs of each family the tasks of `family` have addresses of (none of them the latency
// mode's sources: nothing connects there).
std::vector<std::string> bench_allowed_sources(AddressFamily family);

// `mappings`, each with `policy`.
std::vector<warren::nft::PortMapping> with_policy(std::vector<warren::nft::PortMapping> mappings,
                                                  const warren::nft::AccessPolicy& policy);

}  // namespace bench
