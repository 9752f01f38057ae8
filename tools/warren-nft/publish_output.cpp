// SPDX-License-Identifier: Apache-2.0
#include "publish_output.hpp"

#include "access_json.hpp"
#include "access_spec.hpp"
#include "spec.hpp"

namespace warren::cli {

std::string format_published_text(const std::vector<nft::PortMapping>& ports)
{
    std::string out;
    for (const auto& port : ports) {
        out += format_port_spec(port);
        if (!port.access.empty())
            out += "  " + format_access(port.access);
        out += "\n";
    }
    return out;
}

std::string format_published_json(const std::vector<nft::PortMapping>& ports)
{
    auto array = nlohmann::ordered_json::array();
    for (const auto& port : ports)
        array.push_back({{"protocol", std::string(nft::to_string(port.protocol))},
                         {"host_port", port.host_port},
                         {"container_port", port.container_port},
                         {"host_ip", port.host_ip},
                         {"name", port.name},
                         {"access", access_json(port.access)}});
    return array.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace warren::cli
