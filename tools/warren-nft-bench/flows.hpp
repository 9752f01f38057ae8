// SPDX-License-Identifier: Apache-2.0
// Tracked connections made up for measurements and tests: entries put straight into the kernel's
// conntrack table with IPCTNL_MSG_CT_NEW, many per netlink datagram, without sending a packet.
#pragma once

#include "netlink/conntrack.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace bench {

struct TrackedFlow {
    warren::nft::netlink::FlowTuple original;  // the reply direction is its reverse: no NAT
    bool replied = false;                      // IPS_SEEN_REPLY, as if the server had answered
    std::uint32_t timeout_seconds = 3600;      // outlives any measurement
};

// Inserts every flow into the conntrack table of the calling thread's network namespace. Throws
// warren::nft::Error naming the kernel's refusal (EEXIST: a flow with that tuple is tracked already).
void insert_flows(std::span<const TrackedFlow> flows);

// How many unrelated_flows() there can be.
std::size_t max_unrelated_flows();

// `count` (at most max_unrelated_flows()) distinct UDP flows that nothing publishes: from 10.128.0.0/10, each
// source its own address, to 10.127.0.1 on ports 20000 to 29999.
std::vector<TrackedFlow> unrelated_flows(std::size_t count);

// How many entries the conntrack table of the calling thread's network namespace holds.
std::size_t tracked_flow_count();

}  // namespace bench
