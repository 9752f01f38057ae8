// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_service.hpp"

#include "printable.hpp"
#include "publisher/validation.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace warren::nft::ingress {

using layout::Address;
using layout::Family;
using layout::HostPort;

namespace {

[[noreturn]] void refuse(std::string message) { throw Error(errc::invalid_argument, std::move(message)); }

std::string quoted(std::string_view service) { return quote(service); }

// The ports as validate_ports() checks host-mode ports, plus what ingress mode asks of them.
void check_ports(std::span<const PortMapping> ports)
{
    if (ports.empty())
        refuse("an ingress service needs at least one port");
    std::vector<PortMapping> as_host(ports.begin(), ports.end());
    for (auto& port : as_host) {
        const auto what = std::to_string(port.host_port) + "/" + std::string(to_string(port.protocol));
        if (port.publish_mode != PublishMode::ingress)
            refuse("port " + what + " is not PublishMode::ingress; publish host-mode ports with publish_ports()");
        if (!port.host_ip.empty())
            refuse("ingress port " + what + " names host address \"" + printable(port.host_ip) +
                   "\"; ingress ports are published on every address of the host: leave host_ip empty");
        if (port.host_port == 0)
            refuse("ingress port " + what + " has host port 0; give the host port (ingress ports are not chosen automatically)");
        if (!port.name.empty() || !port.access.empty())
            refuse("ingress port " + what + " has a name or an access policy, which ingress ports do not support yet");
        port.publish_mode = PublishMode::host;
    }
    validation::check_ports(as_host);
}

struct CheckedBackend {
    Address address;
    std::optional<std::uint16_t> port;
    std::uint32_t weight;
};

std::vector<CheckedBackend> check_backends(std::span<const IngressBackend> backends)
{
    if (backends.empty())
        refuse("an ingress service needs at least one backend");
    std::vector<CheckedBackend> out;
    std::set<std::pair<Address, std::optional<std::uint16_t>>> seen;
    for (const auto& backend : backends) {
        const auto address = validation::parse_container_ip(backend.address);
        const auto name = layout::display(address) + (backend.port ? ":" + std::to_string(*backend.port) : "");
        if (backend.port && *backend.port == 0)
            refuse("backend " + name + " has port 0; give a port 1-65535, or none for each port's container port");
        if (backend.weight < 1 || backend.weight > max_weight)
            refuse("backend " + name + " has weight " + std::to_string(backend.weight) + "; give 1-" +
                   std::to_string(max_weight));
        if (backend.state != BackendState::active || backend.deadline)
            refuse("backend " + name + " is not active; publish active backends, and drain them with drain_backend()");
        if (!seen.emplace(address, backend.port).second)
            refuse("backend " + name + " is given twice");
        out.push_back(CheckedBackend{address, backend.port, backend.weight});
    }
    return out;
}

const char* family_word(Family family) { return family == Family::ip ? "IPv4" : "IPv6"; }

IngressBackend public_backend(const Record& record)
{
    IngressBackend out{layout::to_string(record.key.address), record.key.port, record.weight};
    out.state = record.draining ? BackendState::draining : BackendState::active;
    if (record.until)
        out.deadline = std::chrono::sys_seconds(std::chrono::seconds(*record.until));
    return out;
}

}  // namespace

std::vector<WantedPort> checked_request(std::string_view service, std::span<const PortMapping> ports,
                                        std::span<const IngressBackend> backends)
{
    validate_task_id(service);
    check_ports(ports);
    const auto checked = check_backends(backends);
    std::vector<WantedPort> out;
    for (const auto& mapping : ports)
        for (const auto family : layout::families) {
            WantedPort wanted{HostPort{mapping.protocol, mapping.host_port, layout::any_address(family)}, {}};
            std::set<BackendKey> keys;
            for (const auto& backend : checked) {
                if (backend.address.family != family)
                    continue;
                const Record record{{backend.address, backend.port.value_or(mapping.container_port)}, backend.weight, false, {}};
                const bool twice = !keys.insert(record.key).second;
                if (twice)
                    refuse("backend " + layout::display(backend.address) + " port " + std::to_string(record.key.port) +
                           " is given twice for ingress port " + layout::describe(wanted.port));
                wanted.records.push_back(record);
            }
            if (wanted.records.empty())
                continue;
            if (wanted.records.size() > max_active_backends)
                refuse("ingress port " + layout::describe(wanted.port) + " has " + std::to_string(wanted.records.size()) + " " +
                       family_word(family) + " backends; a port has at most " + std::to_string(max_active_backends) +
                       " active backends per family");
            out.push_back(std::move(wanted));
        }
    return out;
}

std::vector<WantedPort> held_ports(const TablesState& state, std::string_view service)
{
    std::vector<WantedPort> out;
    for (const auto& family : state)
        for (const auto& [port, held] : family.ports)
            if (held.service == service)
                out.push_back(WantedPort{port, held.records});
    return out;
}

ServiceChange plan_publish(const TaskIndex& index, const TablesState& state, std::string_view service,
                           const std::vector<WantedPort>& wanted)
{
    if (!index.entries(service).empty())
        refuse("task " + quoted(service) +
               " publishes host-mode ports; an id is either a task's or an ingress service's: unpublish it first or use "
               "another id");
    for (const auto& port : wanted) {
        const auto& claims = state[layout::family_index(port.port.family())].ports;
        if (const auto held = claims.find(port.port); held != claims.end()) {
            if (held->second.service != service)
                throw Error(errc::port_conflict, "ingress port " + layout::describe(port.port) + " is held by ingress service " +
                                                     quoted(held->second.service));
            continue;
        }
        if (const auto clash = index.clash(port.port, [](std::string_view) { return true; }))
            throw Error(errc::port_conflict, "ingress port " + layout::describe(port.port) + " is held by " +
                                                 index.describe_owner(*clash) + " (" + layout::describe(*clash) + ")");
    }
    return ServiceChange{plan_service(state, service, wanted), wanted};
}

ServiceChange plan_drain(const TablesState& state, std::string_view service, const Address& address,
                         std::optional<std::uint16_t> port, std::optional<std::chrono::sys_seconds> deadline)
{
    auto wanted = held_ports(state, service);
    if (wanted.empty())
        refuse("no ingress service " + quoted(service));
    bool found = false;
    for (auto& held : wanted) {
        std::size_t active = 0;
        bool drained_here = false;
        for (auto& record : held.records) {
            if (record.key.address == address && (!port || record.key.port == *port)) {
                if (!record.draining)
                    drained_here = true;
                record.draining = true;
                record.until = deadline ? std::optional(deadline->time_since_epoch().count()) : std::nullopt;
                found = true;
            }
            active += record.draining ? 0 : 1;
        }
        if (drained_here && active == 0)
            refuse("backend " + layout::display(address) + " is the last active backend of ingress port " +
                   layout::describe(held.port) + " of service " + quoted(service) +
                   "; unpublish the service instead, or publish it with another backend first");
    }
    if (!found)
        refuse("ingress service " + quoted(service) + " has no backend " + layout::display(address) +
               (port ? " port " + std::to_string(*port) : std::string()));
    return ServiceChange{plan_service(state, service, wanted), std::move(wanted)};
}

ServiceChange plan_unpublish(const TablesState& state, std::string_view service)
{
    return ServiceChange{plan_service(state, service, {}), {}};
}

std::vector<IngressService> services(const TablesState& state)
{
    std::map<std::string, std::vector<IngressPort>> by_service;
    for (const auto& family : state)
        for (const auto& [port, held] : family.ports) {
            IngressPort out{port.protocol, port.port, layout::address_family(port.family()), {}};
            for (const auto& record : held.records)
                out.backends.push_back(public_backend(record));
            by_service[held.service].push_back(std::move(out));
        }
    std::vector<IngressService> out;
    for (auto& [service, ports] : by_service) {
        std::sort(ports.begin(), ports.end(), [](const IngressPort& a, const IngressPort& b) {
            return std::tuple(a.protocol, a.host_port, a.family) < std::tuple(b.protocol, b.host_port, b.family);
        });
        out.push_back(IngressService{service, std::move(ports)});
    }
    return out;
}

}  // namespace warren::nft::ingress
