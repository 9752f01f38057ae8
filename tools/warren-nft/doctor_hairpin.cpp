// SPDX-License-Identifier: Apache-2.0
#include "doctor_hairpin.hpp"

#include "doctor_ruleset.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <optional>
#include <set>

namespace warren::cli::doctor {

namespace {

// Whether `address` is in `network`'s prefix (same family); false when either is no address.
bool in_network(const std::string& address, const InterfaceAddress& network)
{
    const int family = address.find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (family != (network.address.find(':') == std::string::npos ? AF_INET : AF_INET6))
        return false;
    std::array<unsigned char, 16> a{}, n{};
    if (inet_pton(family, address.c_str(), a.data()) != 1 || inet_pton(family, network.address.c_str(), n.data()) != 1)
        return false;
    const int bits = family == AF_INET ? 32 : 128;
    const int prefix = network.prefix < 0 ? 0 : network.prefix > bits ? bits : network.prefix;
    for (int bit = 0; bit < prefix; ++bit) {
        const unsigned char m = static_cast<unsigned char>(0x80U >> (bit % 8));
        if ((a[static_cast<std::size_t>(bit / 8)] & m) != (n[static_cast<std::size_t>(bit / 8)] & m))
            return false;
    }
    return true;
}

}  // namespace

std::optional<std::vector<Bridge>> parse_bridge_links(const std::string& output, const std::vector<InterfaceAddress>& addresses,
                                                      std::string& error)
{
    nlohmann::json links;
    try {
        links = nlohmann::json::parse(output);
    } catch (const nlohmann::json::exception& e) {
        error = std::string("bridge -j -d link show printed no valid JSON: ") + e.what();
        return std::nullopt;
    }
    if (!links.is_array()) {
        error = "bridge -j -d link show printed JSON that is not an array";
        return std::nullopt;
    }
    std::vector<Bridge> out;
    for (const auto& link : links) {
        if (!link.is_object())
            continue;
        const auto master = text(link, "master"), name = text(link, "ifname");
        if (master.empty() || name.empty())
            continue;
        auto bridge = std::find_if(out.begin(), out.end(), [&](const Bridge& b) { return b.name == master; });
        if (bridge == out.end()) {
            out.push_back({master, {}, {}});
            bridge = out.end() - 1;
            for (const auto& address : addresses)
                if (address.interface == master)
                    bridge->networks.push_back(address);
        }
        const auto hairpin = link.find("hairpin");
        bridge->ports.push_back({name, hairpin != link.end() && hairpin->is_boolean() && hairpin->get<bool>()});
    }
    return out;
}

std::optional<std::vector<Bridge>> read_bridges(const std::vector<InterfaceAddress>& addresses, std::string& error)
{
    const auto output = run_tool("bridge", "-j -d link show", error);
    if (!output)
        return std::nullopt;
    return parse_bridge_links(*output, addresses, error);
}

std::vector<nft::PublishedPort> published_containers(const std::vector<nft::PublishedPort>& published,
                                                     const std::vector<nft::IngressService>& services)
{
    std::vector<nft::PublishedPort> out;
    std::copy_if(published.begin(), published.end(), std::back_inserter(out),
                 [](const nft::PublishedPort& port) { return port.mapping.publish_mode != nft::PublishMode::ingress; });
    for (const auto& service : services)
        for (const auto& port : service.ports)
            for (const auto& backend : port.backends) {
                nft::PortMapping mapping;
                mapping.host_port = port.host_port;
                mapping.container_port = backend.port.value_or(0);
                mapping.protocol = port.protocol;
                mapping.publish_mode = nft::PublishMode::ingress;
                out.push_back({service.service, backend.address, std::move(mapping)});
            }
    return out;
}

void check_hairpin(Report& report, const std::vector<nft::PublishedPort>& published, const std::vector<Bridge>& bridges)
{
    bool warned = false;
    std::size_t checked = 0;
    for (const auto& bridge : bridges) {
        std::vector<std::string> containers;
        std::set<std::string> seen;
        for (const auto& port : published)
            for (const auto& network : bridge.networks)
                if (in_network(port.container_ip, network) && seen.insert(port.container_ip).second) {
                    containers.push_back(port.container_ip + " (" + owner_of(port) + ")");
                    break;
                }
        if (containers.empty())
            continue;
        ++checked;
        std::vector<std::string> off;
        for (const auto& port : bridge.ports)
            if (!port.hairpin)
                off.push_back(port.name);
        if (off.empty())
            continue;
        warned = true;
        constexpr std::size_t shown = 5;
        const auto list = off.size() <= shown ? joined(off)
                                              : joined(std::vector<std::string>(off.begin(), off.begin() + shown)) + " and " +
                                                    std::to_string(off.size() - shown) + " more";
        report.warn("bridge " + bridge.name + " holds published containers (" + joined(containers) + ") and its port(s) " + list +
                    " have hairpin mode off, so a container behind them cannot reach its own published port through the host's "
                    "addresses; fix: bridge link set dev " +
                    off.front() + " hairpin on (for each port of such a container; or the runtime's hairpin option)");
    }
    if (!warned)
        report.ok(checked == 0
                      ? "no bridge of this host holds a published container's address, so no bridge port needs hairpin mode"
                      : "every port of the " + std::to_string(checked) +
                            " bridge(s) holding published containers has hairpin mode on");
}

}  // namespace warren::cli::doctor
