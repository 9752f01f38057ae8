// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_deadlines.hpp"

#include <algorithm>

namespace warren::nft::ingress {

using layout::Family;

namespace {

layout::HostPort port_of(const ruleset::FlowMatch& flows)
{
    return layout::HostPort{layout::protocol_of(flows.l4proto).value_or(Protocol::tcp), flows.port,
                            layout::any_address(flows.family)};
}

BackendKey backend_of(const ruleset::FlowMatch& flows)
{
    const auto& source = flows.reply_source.value_or(ruleset::FlowEndpoint{});
    return BackendKey{layout::Address{flows.family, source.address}, source.port};
}

std::optional<std::chrono::sys_seconds> deadline_of(const Record& record)
{
    if (!record.draining || !record.until)
        return std::nullopt;
    return std::chrono::sys_seconds(std::chrono::seconds(*record.until));
}

}  // namespace

ruleset::FlowMatch backend_flows(const layout::HostPort& port, const BackendKey& backend)
{
    return ruleset::FlowMatch{port.family(), layout::ip_protocol(port.protocol),
                              port.port,     std::nullopt,
                              false,         ruleset::FlowEndpoint{backend.address.bytes, backend.port}};
}

std::vector<Deadline> deadlines(std::span<const WantedPort> ports)
{
    std::vector<Deadline> out;
    for (const auto& port : ports)
        for (const auto& record : port.records)
            out.push_back(Deadline{backend_flows(port.port, record.key), deadline_of(record)});
    return out;
}

std::vector<Deadline> recorded_deadlines(Family family, const ruleset::TableSnapshot& snapshot)
{
    std::vector<Deadline> out;
    const auto records = snapshot.elements.find(layout::ingress_backends_set);
    if (!snapshot.exists || records == snapshot.elements.end())
        return out;
    for (const auto& element : records->second)
        if (auto deadline = recorded_deadline(family, element))
            out.push_back(std::move(*deadline));
    return out;
}

std::optional<Deadline> recorded_deadline(Family family, const ruleset::Element& element)
{
    const auto key = decode_record_key(family, element);
    const auto comment = parse_record_comment(element.comment);
    if (!key || !comment)
        return std::nullopt;  // not ours
    const auto at = deadline_of(Record{key->backend, comment->weight, comment->draining, comment->until});
    if (!at)
        return std::nullopt;
    return Deadline{backend_flows(key->port, key->backend), at};
}

std::vector<layout::HostPort> ports_of(std::span<const ruleset::FlowMatch> flows)
{
    std::vector<layout::HostPort> out;
    for (const auto& flow : flows)
        out.push_back(port_of(flow));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

FlowCleaner::Due settle_due(const TablesState& state, const TaskIndex& index, std::vector<ruleset::FlowMatch> due,
                            FlowCleaner::Clock::time_point now)
{
    FlowCleaner::Due out;
    for (auto& flows : due) {
        const auto port = port_of(flows);
        const auto& claims = state[layout::family_index(port.family())].ports;
        const auto claim = claims.find(port);
        if (claim == claims.end()) {
            if (!index.clash(port, [](std::string_view) { return true; }))
                out.now.push_back(std::move(flows));
            continue;
        }
        const auto backend = backend_of(flows);
        const auto& records = claim->second.records;
        const auto record = std::find_if(records.begin(), records.end(), [&](const Record& r) { return r.key == backend; });
        if (record == records.end()) {
            out.now.push_back(std::move(flows));
            continue;
        }
        const auto at = deadline_of(*record);
        if (!at)
            continue;
        if (*at <= now)
            out.now.push_back(std::move(flows));
        else
            out.later.emplace_back(std::move(flows), *at);
    }
    return out;
}

}  // namespace warren::nft::ingress
