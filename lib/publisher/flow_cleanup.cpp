// SPDX-License-Identifier: Apache-2.0
#include "publisher/flow_cleanup.hpp"

#include <algorithm>

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

}  // namespace

std::vector<ruleset::FlowMatch> stale_flows(const TaskIndex& index, std::span<const TaskChange> changes)
{
    std::vector<ruleset::FlowMatch> out;
    const auto add = [&](const ruleset::FlowMatch& flow) {
        if (std::find(out.begin(), out.end(), flow) == out.end())
            out.push_back(flow);
    };
    const auto tracked = [](Protocol protocol) { return protocol == Protocol::udp || protocol == Protocol::sctp; };
    for (const auto& change : changes) {
        const auto current = index.entries(change.task_id);
        for (const auto& entry : current)
            if (tracked(entry.mapping.protocol) && !leads_to_same(*change.wanted, entry))
                add(match(entry.host_port(), false));
        for (const auto& entry : *change.wanted)
            if (tracked(entry.mapping.protocol) && !leads_to_same(current, entry))
                add(match(entry.host_port(), true));
    }
    // A port that goes and comes back elsewhere needs only the wider match.
    std::erase_if(out, [&](const ruleset::FlowMatch& flow) {
        if (!flow.unreplied_only)
            return false;
        auto wider = flow;
        wider.unreplied_only = false;
        return std::find(out.begin(), out.end(), wider) != out.end();
    });
    return out;
}

}  // namespace warren::nft
