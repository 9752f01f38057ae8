// SPDX-License-Identifier: Apache-2.0
// Which connection tracking entries an ingress change makes stale (docs/ingress.md): a backend that
// leaves a port takes its UDP and SCTP flows to that port with it, so that a client that keeps its
// source port is sent to an active backend by its next packet; and a UDP or SCTP port newly claimed
// loses the flows to it that never saw a reply (sent before it was published, answered by nothing).
// TCP connections are left to end (or to the drain deadline), and a draining backend keeps its flows.
#pragma once

#include "publisher/ingress_plan.hpp"
#include "ruleset/backend.hpp"

#include <string_view>
#include <vector>

namespace warren::nft::ingress {

// For every UDP or SCTP port the service holds in `before`: the flows to it answered by each of its
// backends that `after` (the service's ports once the change is committed) does not have on that
// port any more. For every UDP or SCTP port of `after` the service does not hold in `before`: the
// flows to it without a reply.
std::vector<ruleset::FlowMatch> stale_flows(const TablesState& before, std::string_view service,
                                            const std::vector<WantedPort>& after);

}  // namespace warren::nft::ingress
