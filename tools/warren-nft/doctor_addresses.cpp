// SPDX-License-Identifier: Apache-2.0
#include "doctor_addresses.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>

namespace warren::cli::doctor {

namespace {

// An address in a form two spellings of it share (inet_pton's bytes, with the family); nullopt when
// it is no address.
std::optional<std::string> canonical(const std::string& address)
{
    std::array<unsigned char, sizeof(in6_addr)> bytes{};
    const int family = address.find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (inet_pton(family, address.c_str(), bytes.data()) != 1)
        return std::nullopt;
    return std::to_string(family) + std::string(reinterpret_cast<const char*>(bytes.data()), family == AF_INET ? 4 : 16);
}

// Addresses the host has without any interface holding them: every address of its family, and
// loopback's.
bool always_local(const std::string& address)
{
    std::array<unsigned char, sizeof(in6_addr)> bytes{};
    if (inet_pton(AF_INET, address.c_str(), bytes.data()) == 1)
        return bytes[0] == 127 || std::all_of(bytes.begin(), bytes.begin() + 4, [](unsigned char b) { return b == 0; });
    if (inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) {
        in6_addr a{};
        std::memcpy(&a, bytes.data(), sizeof a);
        return IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a);
    }
    return false;
}

}  // namespace

std::vector<InterfaceAddress> interface_addresses(std::string& error)
{
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) {
        error = std::string("getifaddrs: ") + std::strerror(errno);
        return {};
    }
    const std::unique_ptr<ifaddrs, decltype(&freeifaddrs)> owned(list, &freeifaddrs);
    std::vector<InterfaceAddress> out;
    for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
        if (entry->ifa_addr == nullptr || entry->ifa_netmask == nullptr || entry->ifa_name == nullptr)
            continue;
        const auto family = entry->ifa_addr->sa_family;
        const unsigned char* address = nullptr;
        const unsigned char* mask = nullptr;
        std::size_t size = 0;
        if (family == AF_INET) {
            address = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(entry->ifa_addr)->sin_addr);
            mask = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(entry->ifa_netmask)->sin_addr);
            size = 4;
        } else if (family == AF_INET6) {
            address = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr)->sin6_addr);
            mask = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(entry->ifa_netmask)->sin6_addr);
            size = 16;
        } else {
            continue;
        }
        std::array<char, INET6_ADDRSTRLEN> text{};
        if (inet_ntop(family, address, text.data(), text.size()) == nullptr)
            continue;
        int prefix = 0;
        for (std::size_t i = 0; i < size; ++i)
            prefix += __builtin_popcount(mask[i]);
        out.push_back({entry->ifa_name, text.data(), prefix});
    }
    return out;
}

void check_host_addresses(Report& report, const std::vector<nft::PublishedPort>& published,
                          const std::vector<InterfaceAddress>& local)
{
    std::set<std::string> have;
    for (const auto& [interface, address, prefix] : local)
        if (const auto c = canonical(address))
            have.insert(*c);
    std::map<std::string, std::vector<std::string>> absent;  // address -> its ports
    std::size_t bound = 0;
    for (const auto& port : published) {
        const auto& address = port.mapping.host_ip;
        if (address.empty() || always_local(address))
            continue;
        ++bound;
        const auto c = canonical(address);
        if (c && have.contains(*c))
            continue;
        absent[address].push_back(std::string(nft::to_string(port.mapping.protocol)) + " port " +
                                  std::to_string(port.mapping.host_port) + " (" + owner_of(port) + ")");
    }
    for (const auto& [address, ports] : absent)
        report.warn("no interface of this host has address " + address + ", so nothing reaches " + joined(ports) +
                    " published on it (published with --skip-address-check, or the address was removed since); fix: add "
                    "the address to an interface (ip addr add " +
                    address + (address.find(':') == std::string::npos ? "/32" : "/128") +
                    " dev IFACE), or publish the task again on an address the host has");
    if (absent.empty())
        report.ok(bound == 0 ? "no port is published on one host address, so none can miss its address"
                             : std::to_string(bound) + " port(s) published on one host address: this host has each address");
}

}  // namespace warren::cli::doctor
