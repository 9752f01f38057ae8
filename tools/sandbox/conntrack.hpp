// SPDX-License-Identifier: Apache-2.0
// The kernel's connection tracking table of a namespace, read over ctnetlink (what `conntrack -L`
// shows, for both families at once), to check which flows exist and where their NAT leads.
#pragma once

#include "netns.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace sandbox {

struct ConntrackTuple {
    std::string source;
    std::string destination;
    std::uint16_t source_port = 0;
    std::uint16_t destination_port = 0;

    friend bool operator==(const ConntrackTuple&, const ConntrackTuple&) = default;
};

struct ConntrackEntry {
    int family = 0;             // AF_INET or AF_INET6
    std::uint8_t protocol = 0;  // IPPROTO_TCP, IPPROTO_UDP, ...
    ConntrackTuple original;    // as the first packet came in
    ConntrackTuple reply;       // as the answer is expected: its source is where the NAT leads
    bool seen_reply = false;    // IPS_SEEN_REPLY: an answer came back ([UNREPLIED] in `conntrack -L` when not)
};

// One line, in the manner of `conntrack -L`: "udp src=10.200.1.2 dst=10.200.1.1 sport=33000
// dport=15353 [UNREPLIED] src=10.200.2.2 dst=10.200.1.2 sport=5353 dport=33000".
std::string describe(const ConntrackEntry& entry);
std::string describe(const ConntrackTuple& tuple);                 // "src=... dst=... sport=... dport=..."
std::string describe(const std::vector<ConntrackEntry>& entries);  // one line each

// Every entry of `netns`'s table, IPv4 and IPv6 (a ctnetlink dump; the kernel loads
// nf_conntrack_netlink for it where it is a module). Throws std::system_error when the dump fails.
std::vector<ConntrackEntry> conntrack_entries(const Netns& netns);

}  // namespace sandbox
