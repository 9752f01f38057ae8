// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_flows.hpp"

#include "publisher/ingress_deadlines.hpp"

#include <algorithm>

namespace warren::nft::ingress {

namespace {

bool tracked(Protocol protocol) { return protocol == Protocol::udp || protocol == Protocol::sctp; }

}  // namespace

std::vector<ruleset::FlowMatch> stale_flows(const TablesState& before, std::string_view service,
                                            const std::vector<WantedPort>& after)
{
    std::vector<ruleset::FlowMatch> out;
    for (const auto& family : before)
        for (const auto& [port, held] : family.ports) {
            if (held.service != service || !tracked(port.protocol))
                continue;
            const auto wanted =
                std::find_if(after.begin(), after.end(), [&, &port = port](const WantedPort& w) { return w.port == port; });
            for (const auto& record : held.records) {
                const bool stays = wanted != after.end() && std::any_of(wanted->records.begin(), wanted->records.end(),
                                                                        [&](const Record& r) { return r.key == record.key; });
                if (!stays)
                    out.push_back(backend_flows(port, record.key));
            }
        }
    for (const auto& wanted : after) {
        if (!tracked(wanted.port.protocol))
            continue;
        const auto& held = before[layout::family_index(wanted.port.family())].ports;
        const auto claim = held.find(wanted.port);
        if (claim == held.end() || claim->second.service != service) {
            // Connections already NATed to one of the service's backends go where the port leads.
            ruleset::FlowMatch unreplied{wanted.port.family(), layout::ip_protocol(wanted.port.protocol), wanted.port.port,
                                         std::nullopt, true};
            for (const auto& record : wanted.records)
                unreplied.spared.push_back(ruleset::FlowEndpoint{record.key.address.bytes, record.key.port});
            out.push_back(std::move(unreplied));
        }
    }
    return out;
}

}  // namespace warren::nft::ingress
