// SPDX-License-Identifier: Apache-2.0
// Which connection tracking entries a change of published ports makes stale. Connections are NATed
// when their first packet is seen, and the kernel keeps that decision for the connection's life: a
// UDP client that keeps sending from one source port keeps reaching a container its port no longer
// leads to, and one that sent before the port was published keeps being answered by nothing.
#pragma once

#include "publisher/task_index.hpp"
#include "ruleset/backend.hpp"

#include <span>
#include <vector>

namespace warren::nft {

// For the changes about to be committed: every UDP or SCTP host port that goes away or leads
// elsewhere afterwards (all its connections), and every one that is newly published (the
// connections to it that never saw a reply); but for the connections already NATed to where the
// port leads afterwards. TCP connections are left to end: a re-published TCP port takes new
// connections to the new container while the old ones finish.
std::vector<ruleset::FlowMatch> stale_flows(const TaskIndex& index, std::span<const TaskChange> changes);

}  // namespace warren::nft
