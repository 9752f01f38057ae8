// SPDX-License-Identifier: Apache-2.0
#include "publisher/flow_cleanup.hpp"

#include <algorithm>
#include <map>

namespace warren::nft {

namespace {

bool leads_to_same(const std::vector<IndexEntry>& entries, const IndexEntry& entry)
{
    return std::any_of(entries.begin(), entries.end(), [&](const IndexEntry& other) {
        return other.host_port() == entry.host_port() && other.destination() == entry.destination();
    });
}

ruleset::FlowMatch match(const layout::HostPort& host_port, bool unreplied_only)
{
    ruleset::FlowMatch flow{host_port.family(), layout::ip_protocol(host_port.protocol), host_port.port, std::nullopt,
                            unreplied_only};
    if (host_port.bound())
        flow.address = host_port.address.bytes;
    return flow;
}

ruleset::FlowEndpoint endpoint_of(const layout::Destination& destination)
{
    return {destination.address.bytes, destination.port};
}

}  // namespace

std::vector<ruleset::FlowMatch> stale_flows(const TaskIndex& index, std::span<const TaskChange> changes)
{
    const auto tracked = [](Protocol protocol) { return protocol == Protocol::udp || protocol == Protocol::sctp; };
    std::vector<ruleset::FlowMatch> out;
    std::map<ruleset::FlowMatch, std::size_t> at;  // out's index of each host port, by match(port, false)
    const auto add = [&](const layout::HostPort& port, bool unreplied_only) {
        const auto [found, added] = at.try_emplace(match(port, false), out.size());
        if (added)
            out.push_back(match(port, unreplied_only));
        else if (!unreplied_only)
            out[found->second].unreplied_only = false;  // a port that goes and comes back elsewhere
    };
    for (const auto& change : changes) {
        const auto current = index.entries(change.task_id);
        for (const auto& entry : current)
            if (tracked(entry.mapping.protocol) && !leads_to_same(*change.wanted, entry))
                add(entry.host_port(), false);
        for (const auto& entry : *change.wanted)
            if (tracked(entry.mapping.protocol) && !leads_to_same(current, entry))
                add(entry.host_port(), true);
    }
    // Connections NATed to where a port leads after the changes are not stale: a client's first
    // datagram after the commit may already have made one before the entries are forgotten.
    for (const auto& change : changes)
        for (const auto& entry : *change.wanted) {
            const auto found = at.find(match(entry.host_port(), false));
            if (found == at.end())
                continue;
            auto& spared = out[found->second].spared;
            const auto endpoint = endpoint_of(entry.destination());
            if (std::find(spared.begin(), spared.end(), endpoint) == spared.end())
                spared.push_back(endpoint);
        }
    return out;
}

}  // namespace warren::nft
