// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_flows.hpp"

#include <algorithm>

namespace warren::nft::ingress {

std::vector<ruleset::FlowMatch> departed_flows(const TablesState& before, std::string_view service,
                                               const std::vector<WantedPort>& after)
{
    std::vector<ruleset::FlowMatch> out;
    for (const auto& family : before)
        for (const auto& [port, held] : family.ports) {
            if (held.service != service || port.protocol == Protocol::tcp)
                continue;
            const auto wanted =
                std::find_if(after.begin(), after.end(), [&, &port = port](const WantedPort& w) { return w.port == port; });
            for (const auto& record : held.records) {
                const bool stays = wanted != after.end() && std::any_of(wanted->records.begin(), wanted->records.end(),
                                                                        [&](const Record& r) { return r.key == record.key; });
                if (stays)
                    continue;
                out.push_back(ruleset::FlowMatch{port.family(), layout::ip_protocol(port.protocol), port.port, std::nullopt,
                                                 false, ruleset::FlowEndpoint{record.key.address.bytes, record.key.port}});
            }
        }
    return out;
}

}  // namespace warren::nft::ingress
