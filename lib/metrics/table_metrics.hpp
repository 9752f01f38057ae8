// SPDX-License-Identifier: Apache-2.0
// The part of a MetricsSnapshot that the table holds (not what a publisher did): the published
// ports by family and protocol, and the destination counters, from what was read of the kernel.
#pragma once

#include <warren/nft/metrics.hpp>

#include <span>
#include <vector>

namespace warren::nft {

// ports_published has every family and protocol, in that order, 0 where none is published (so that
// a series does not vanish when its last port goes); destinations are taken as they are.
MetricsSnapshot table_metrics(std::span<const PublishedPort> ports, std::vector<DestinationCounters> destinations);

}  // namespace warren::nft
