// SPDX-License-Identifier: Apache-2.0
#include "list_output.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace warren::cli {

std::string format_table(const std::vector<nft::PublishedPort>& ports)
{
    using Row = std::array<std::string, 4>;
    std::vector<Row> rows{{"TASK", "HOST", "CONTAINER", "NAME"}};
    for (const auto& port : ports)
        rows.push_back({port.task_id,
                        std::to_string(port.mapping.host_port) + "/" + std::string(nft::to_string(port.mapping.protocol)),
                        port.container_ip + ":" + std::to_string(port.mapping.container_port), port.mapping.name});
    std::array<std::size_t, 4> widths{};
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], row[i].size());
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size())
                line += std::string(widths[i] - row[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    }
    return out;
}

std::string format_json(const std::vector<nft::PublishedPort>& ports)
{
    auto array = nlohmann::ordered_json::array();
    for (const auto& port : ports)
        array.push_back({{"task", port.task_id},
                         {"protocol", std::string(nft::to_string(port.mapping.protocol))},
                         {"host_port", port.mapping.host_port},
                         {"container_ip", port.container_ip},
                         {"container_port", port.mapping.container_port},
                         {"name", port.mapping.name}});
    return array.dump(2) + "\n";
}

}  // namespace warren::cli
