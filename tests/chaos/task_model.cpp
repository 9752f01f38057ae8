// SPDX-License-Identifier: Apache-2.0
#include "task_model.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>
#include <sstream>

namespace chaos {

using warren::nft::ContainerAddresses;
using warren::nft::PortMapping;
using warren::nft::Protocol;

namespace {

std::uint32_t mix(const TaskRef& ref, unsigned version)
{
    std::uint32_t h = 2166136261u;
    for (const std::uint32_t part : {static_cast<std::uint32_t>(ref.publisher), static_cast<std::uint32_t>(ref.task), version})
        h = (h ^ part) * 16777619u;
    return h ^ (h >> 15);
}

std::string hex(unsigned value)
{
    char text[16];
    std::snprintf(text, sizeof text, "%x", value);
    return text;
}

std::string comment(const TaskVersion& v) { return "task=" + v.ref.id() + " name=v" + std::to_string(v.version); }

bool is_ipv6(const std::string& address) { return address.find(':') != std::string::npos; }

}  // namespace

std::string TaskRef::id() const { return "c" + std::to_string(publisher) + "-t" + std::to_string(task); }

// A third of the versions are dual-stack, a third IPv4 only, a third IPv6 only, so that a task
// moves between one table and both.
ContainerAddresses TaskVersion::addresses() const
{
    const unsigned kind = (static_cast<unsigned>(ref.task) + version) % 3;
    ContainerAddresses addresses;
    if (kind != 2)
        addresses.ipv4 =
            "10." + std::to_string(77 + ref.publisher) + "." + std::to_string(ref.task) + "." + std::to_string(version % 250 + 1);
    if (kind != 1)
        addresses.ipv6 = "fd00:" + hex(0x4d + static_cast<unsigned>(ref.publisher)) +
                         "::" + hex(static_cast<unsigned>(ref.task) + 1) + ":" + hex(version % 0xffff + 1);
    return addresses;
}

// 1 to 5 ports, each version on other host ports of the task's own range (so tasks never conflict
// with each other), and with other container ports: a re-publish replaces some ports and keeps others.
std::vector<PortMapping> TaskVersion::ports() const
{
    const auto addresses = this->addresses();
    const bool v4 = !addresses.ipv4.empty();
    const std::size_t count = 1 + mix(ref, version) % 5;
    std::vector<PortMapping> ports;
    for (std::size_t i = 0; i < count; ++i) {
        PortMapping port;
        port.host_port = static_cast<std::uint16_t>(20000 + ref.publisher * 2000 + ref.task * 50 + (version * 7 + i) % 40);
        port.container_port = static_cast<std::uint16_t>(1000 + (version % 50) * 10 + i);
        port.protocol = std::array{Protocol::tcp, Protocol::udp, Protocol::sctp}[i % 3];
        port.name = "v" + std::to_string(version);
        if (i == 3)
            port.host_ip = v4 ? bound_host_ipv4 : bound_host_ipv6;  // bound_ports
        else if (i == 4)
            port.host_ip = v4 ? "0.0.0.0" : "::";  // every address of one family only
        ports.push_back(port);
    }
    return ports;
}

warren::nft::TaskPorts TaskVersion::task_ports() const
{
    const auto a = addresses();
    if (a.ipv4.empty())
        return {ref.id(), a.ipv6, ports()};
    return {ref.id(), a.ipv4, ports(), a.ipv6};
}

std::string describe(const Element& element)
{
    std::ostringstream out;
    out << element.family << " warren " << map_of(element) << " { " << element.port << " }";
    return out.str();
}

std::string map_of(const Element& element) { return element.port.host_ip.empty() ? "ports" : "bound_ports"; }

std::string key_of(const Element& element)
{
    const auto& p = element.port;
    return (p.host_ip.empty() ? "" : p.host_ip + " . ") + p.protocol + " . " + std::to_string(p.host_port);
}

void delete_with_nft(const Element& element)
{
    kt::nft({"delete", "element", element.family, "warren", map_of(element), "{ " + key_of(element) + " }"});
}

std::string differences(const std::vector<Element>& want, const std::vector<Element>& have, const std::string& missing,
                        const std::string& extra)
{
    std::string out;
    for (const auto& e : want)
        if (!std::binary_search(have.begin(), have.end(), e))
            out += "\n    " + missing + " " + describe(e);
    for (const auto& e : have)
        if (!std::binary_search(want.begin(), want.end(), e))
            out += "\n    " + extra + " " + describe(e);
    return out;
}

std::vector<Element> expected_elements(const TaskVersion& version)
{
    const auto addresses = version.addresses();
    std::vector<Element> out;
    for (const auto& port : version.ports()) {
        for (const auto& [family, container_ip] : {std::pair{"ip", addresses.ipv4}, std::pair{"ip6", addresses.ipv6}}) {
            if (container_ip.empty())
                continue;
            const bool family_v6 = std::string(family) == "ip6";
            std::string bound;
            if (port.host_ip == "0.0.0.0" || port.host_ip == "::") {
                if (is_ipv6(port.host_ip) != family_v6)
                    continue;
            } else if (!port.host_ip.empty()) {
                if (is_ipv6(port.host_ip) != family_v6)
                    continue;
                bound = port.host_ip;
            }
            out.push_back(Element{family, kt::KernelPort{std::string(warren::nft::to_string(port.protocol)), port.host_port,
                                                         container_ip, port.container_port, comment(version), bound}});
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<Element> elements_of(const Tables& tables)
{
    std::vector<Element> out;
    for (const auto& [family, table] : tables)
        for (const auto& port : table.ports)
            out.push_back(Element{family, port});
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<Element> library_elements(const warren::nft::HostPortPublisher& publisher)
{
    std::vector<Element> out;
    for (const auto& p : publisher.all_published_ports()) {
        const auto& m = p.mapping;
        out.push_back(
            Element{is_ipv6(p.container_ip) ? "ip6" : "ip",
                    kt::KernelPort{std::string(warren::nft::to_string(m.protocol)), m.host_port, p.container_ip, m.container_port,
                                   "task=" + p.task_id + (m.name.empty() ? "" : " name=" + m.name), m.host_ip}});
    }
    std::sort(out.begin(), out.end());
    return out;
}

Verdict judge(const std::vector<Element>& elements)
{
    Verdict verdict;
    std::map<TaskRef, std::map<unsigned, std::vector<Element>>> found;
    for (const auto& element : elements) {
        TaskRef ref;
        unsigned version = 0;
        int used = 0;
        const auto& text = element.port.comment;
        if (std::sscanf(text.c_str(), "task=c%d-t%d name=v%u%n", &ref.publisher, &ref.task, &version, &used) == 3 &&
            static_cast<std::size_t>(used) == text.size() && text == comment(TaskVersion{ref, version}))
            found[ref][version].push_back(element);
        else
            verdict.foreign.push_back(element);
    }
    for (const auto& [ref, versions] : found) {
        if (versions.size() != 1) {
            std::string list;
            for (const auto& [version, _] : versions)
                list += " v" + std::to_string(version);
            verdict.problems.push_back("task " + ref.id() + " has elements of several versions:" + list);
            continue;
        }
        const auto& [version, have] = *versions.begin();
        const auto want = expected_elements(TaskVersion{ref, version});
        if (have == want) {
            verdict.versions[ref] = version;
            continue;
        }
        verdict.problems.push_back("task " + ref.id() + " v" + std::to_string(version) +
                                   " is half-present:" + differences(want, have, "missing", "unexpected"));
    }
    return verdict;
}

std::vector<std::string> check_backends(const Tables& tables)
{
    std::vector<std::string> problems;
    for (const auto& [family, table] : tables) {
        if (!table.has_backends)
            continue;
        std::set<kt::KernelBackend> want;
        for (const auto& port : table.ports)
            want.insert(kt::KernelBackend{port.container_ip, port.protocol, port.container_port});
        const auto& have = table.backends;
        if (std::vector<kt::KernelBackend>(want.begin(), want.end()) == have)
            continue;
        std::ostringstream out;
        out << "set " << family << " warren backends holds " << have.size() << " destinations, its maps lead to " << want.size()
            << ":";
        for (const auto& b : have)
            if (!want.contains(b))
                out << "\n    extra " << b;
        for (const auto& b : want)
            if (!std::binary_search(have.begin(), have.end(), b))
                out << "\n    missing " << b;
        problems.push_back(out.str());
    }
    return problems;
}

}  // namespace chaos
