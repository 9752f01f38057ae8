// SPDX-License-Identifier: Apache-2.0
#include "list_output.hpp"

#include "access_json.hpp"
#include "access_spec.hpp"
#include "printable.hpp"
#include "text_table.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <tuple>

namespace warren::cli {

namespace {

// The counters of each port's destination, looked up by what a port and a destination share.
class CounterIndex {
public:
    explicit CounterIndex(const std::vector<nft::DestinationCounters>& counters)
    {
        for (const auto& c : counters)
            by_destination_.emplace(Key{c.container_ip, c.protocol, c.container_port}, &c);
    }

    const nft::DestinationCounters* find(const nft::PublishedPort& port) const
    {
        const auto it = by_destination_.find(Key{port.container_ip, port.mapping.protocol, port.mapping.container_port});
        return it == by_destination_.end() ? nullptr : it->second;
    }

private:
    using Key = std::tuple<std::string, nft::Protocol, std::uint16_t>;
    std::map<Key, const nft::DestinationCounters*> by_destination_;
};

nft::AddressFamily family(const nft::PublishedPort& port)
{
    return port.container_ip.find(':') == std::string::npos ? nft::AddressFamily::ipv4 : nft::AddressFamily::ipv6;
}

std::string container(const nft::PublishedPort& port)
{
    const auto address = family(port) == nft::AddressFamily::ipv6 ? "[" + port.container_ip + "]" : port.container_ip;
    return address + ":" + std::to_string(port.mapping.container_port);
}

// The library hands out task ids it validated and foreign comments it escaped; every cell is made
// printable once more all the same, so that nothing read from the kernel can break a row in two or
// reach the terminal as a control sequence.
std::string cell(std::string_view text) { return nft::printable(text, nft::Backslash::keep); }

// An element no task owns (foreign_task, which no task id can be) with its comment, escaped, in quotes.
std::string task_cell(const nft::PublishedPort& port)
{
    return port.task_id.empty() ? std::string(foreign_task) : cell(port.task_id);
}

std::string name_cell(const nft::PublishedPort& port)
{
    if (port.task_id.empty() && !port.mapping.name.empty())
        return "\"" + cell(port.mapping.name) + "\"";
    return cell(port.mapping.name);
}

}  // namespace

void sort_for_listing(std::vector<nft::PublishedPort>& ports)
{
    const auto key = [](const nft::PublishedPort& port) {
        return std::tuple(port.mapping.protocol, port.mapping.host_port, family(port));
    };
    std::stable_sort(ports.begin(), ports.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
}

std::string format_table(const std::vector<nft::PublishedPort>& ports, const std::vector<nft::DestinationCounters>& counters)
{
    constexpr std::size_t columns = 9;
    // Counts are right-aligned, so that their magnitudes line up.
    constexpr std::array<bool, columns> right_aligned{false, false, false, false, false, false, true, true, false};
    using Row = std::array<std::string, columns>;
    const CounterIndex index(counters);
    std::vector<Row> rows{{"TASK", "FAMILY", "HOST", "PORT", "CONTAINER", "NAME", "PACKETS", "BYTES", "ACCESS"}};
    for (const auto& port : ports) {
        const auto* counted = index.find(port);
        rows.push_back({task_cell(port), std::string(nft::to_string(family(port))),
                        port.mapping.host_ip.empty() ? "*" : cell(port.mapping.host_ip),
                        std::to_string(port.mapping.host_port) + "/" + std::string(nft::to_string(port.mapping.protocol)),
                        cell(container(port)), name_cell(port), counted ? std::to_string(counted->packets) : "-",
                        counted ? std::to_string(counted->bytes) : "-", cell(format_access(port.mapping.access))});
    }
    return text_table(rows, right_aligned);
}

std::string format_json(const std::vector<nft::PublishedPort>& ports, const std::vector<nft::DestinationCounters>& counters,
                        const std::vector<ListedIngressPort>& ingress)
{
    const CounterIndex index(counters);
    auto array = nlohmann::ordered_json::array();
    const auto ingress_key = [](const ListedIngressPort& listed) {
        return std::tuple(listed.port.protocol, listed.port.host_port, listed.port.family);
    };
    auto next_ingress = ingress.begin();
    for (const auto& port : ports) {
        const auto key = std::tuple(port.mapping.protocol, port.mapping.host_port, family(port));
        for (; next_ingress != ingress.end() && ingress_key(*next_ingress) < key; ++next_ingress)
            array.push_back(ingress_port_json(*next_ingress));
        const auto* counted = index.find(port);
        array.push_back({{"task", port.task_id},
                         {"protocol", std::string(nft::to_string(port.mapping.protocol))},
                         {"host_port", port.mapping.host_port},
                         {"container_ip", port.container_ip},
                         {"container_port", port.mapping.container_port},
                         {"name", port.mapping.name},
                         {"packets", counted ? nlohmann::ordered_json(counted->packets) : nlohmann::ordered_json()},
                         {"bytes", counted ? nlohmann::ordered_json(counted->bytes) : nlohmann::ordered_json()},
                         {"host_ip", port.mapping.host_ip},
                         {"family", nft::to_string(family(port))},
                         {"access", access_json(port.mapping.access)},
                         {"mode", "host"},
                         {"backends", nlohmann::ordered_json::array()}});
    }
    for (; next_ingress != ingress.end(); ++next_ingress)
        array.push_back(ingress_port_json(*next_ingress));
    // The strings are plain ASCII (task ids are validated, foreign comments escaped by the library);
    // should a byte that is not UTF-8 get through all the same, it becomes U+FFFD instead of making
    // the whole listing fail.
    return array.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string format_task_ids(const std::vector<nft::PublishedPort>& ports, const std::vector<ListedIngressPort>& ingress)
{
    std::vector<std::string_view> seen;
    std::string out;
    const auto add = [&](const std::string& id) {
        if (id.empty() || std::find(seen.begin(), seen.end(), id) != seen.end())
            return;
        seen.push_back(id);
        out += id + "\n";
    };
    for (const auto& port : ports)
        add(port.task_id);
    for (const auto& listed : ingress)
        add(listed.service);
    return out;
}

}  // namespace warren::cli
