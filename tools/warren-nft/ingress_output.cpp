// SPDX-License-Identifier: Apache-2.0
#include "ingress_output.hpp"

#include "access_json.hpp"
#include "printable.hpp"
#include "text_table.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <tuple>

namespace warren::cli {

namespace {

// Every cell is made printable, so that nothing read from the kernel reaches the terminal as a
// control sequence (the library validated the ids and addresses already).
std::string cell(std::string_view text) { return nft::printable(text, nft::Backslash::keep); }

std::string backend_cell(const nft::IngressPort& port, const nft::IngressBackend& backend)
{
    const auto address = port.family == nft::AddressFamily::ipv6 ? "[" + backend.address + "]" : backend.address;
    return address + ":" + (backend.port ? std::to_string(*backend.port) : std::string("-"));
}

std::string deadline_cell(const std::optional<std::chrono::sys_seconds>& deadline)
{
    return deadline ? utc_time(*deadline) : "-";
}

}  // namespace

std::string utc_time(std::chrono::sys_seconds time)
{
    const auto seconds = time.time_since_epoch().count();
    const auto time_of = static_cast<std::time_t>(seconds);
    std::tm utc{};
    std::array<char, 32> text{};
    if (gmtime_r(&time_of, &utc) == nullptr || std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
        return std::to_string(seconds);
    return text.data();
}

std::vector<ListedIngressPort> ingress_ports(const std::vector<nft::IngressService>& services)
{
    std::vector<ListedIngressPort> ports;
    for (const auto& service : services)
        for (const auto& port : service.ports)
            ports.push_back({service.service, port});
    std::stable_sort(ports.begin(), ports.end(), [](const ListedIngressPort& a, const ListedIngressPort& b) {
        return std::tuple(a.port.protocol, a.port.host_port, a.port.family) <
               std::tuple(b.port.protocol, b.port.host_port, b.port.family);
    });
    return ports;
}

std::string format_ingress_table(const std::vector<ListedIngressPort>& ports)
{
    if (ports.empty())
        return {};
    constexpr std::size_t columns = 7;
    constexpr std::array<bool, columns> right_aligned{false, false, false, false, true, false, false};
    using Row = std::array<std::string, columns>;
    std::vector<Row> rows{{"SERVICE", "FAMILY", "PORT", "BACKEND", "WEIGHT", "STATE", "DEADLINE"}};
    for (const auto& listed : ports) {
        const auto& port = listed.port;
        const auto port_cell = std::to_string(port.host_port) + "/" + std::string(nft::to_string(port.protocol));
        if (port.backends.empty())
            rows.push_back({cell(listed.service), std::string(nft::to_string(port.family)), port_cell, "-", "-", "-", "-"});
        for (const auto& backend : port.backends)
            rows.push_back({cell(listed.service), std::string(nft::to_string(port.family)), port_cell,
                            cell(backend_cell(port, backend)), std::to_string(backend.weight),
                            std::string(nft::to_string(backend.state)), deadline_cell(backend.deadline)});
    }
    return text_table(rows, right_aligned);
}

nlohmann::ordered_json ingress_port_json(const ListedIngressPort& listed)
{
    const auto& port = listed.port;
    auto backends = nlohmann::ordered_json::array();
    for (const auto& backend : port.backends)
        backends.push_back({{"address", backend.address},
                            {"port", backend.port ? nlohmann::ordered_json(*backend.port) : nlohmann::ordered_json()},
                            {"weight", backend.weight},
                            {"state", std::string(nft::to_string(backend.state))},
                            {"deadline", backend.deadline ? nlohmann::ordered_json(backend.deadline->time_since_epoch().count())
                                                          : nlohmann::ordered_json()}});
    return {{"task", listed.service},
            {"protocol", std::string(nft::to_string(port.protocol))},
            {"host_port", port.host_port},
            {"container_ip", ""},
            {"container_port", 0},
            {"name", ""},
            {"packets", nullptr},
            {"bytes", nullptr},
            {"host_ip", ""},
            {"family", nft::to_string(port.family)},
            {"access", access_json({})},
            {"mode", "ingress"},
            {"backends", std::move(backends)}};
}

std::string format_ingress_json(const std::vector<ListedIngressPort>& ports)
{
    auto array = nlohmann::ordered_json::array();
    for (const auto& port : ports)
        array.push_back(ingress_port_json(port));
    return array.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace warren::cli
