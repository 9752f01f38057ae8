// SPDX-License-Identifier: Apache-2.0
// What operators read of a table that holds an ingress service beside host-mode tasks, over the
// real kernel (docs/ingress.md, "Operating ingress services"): all_published_ports(), inspect() and
// metrics() show each claim as a port of the service, find no problem in the claims, records and
// slots (as published, drained and unpublished), and count the backends as destinations where the
// table counts.
#include "support.hpp"

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

using namespace kt;
using warren::nft::AddressFamily;
using warren::nft::ContainerAddresses;
using warren::nft::IngressBackend;
using warren::nft::MetricsSnapshot;
using warren::nft::PortCount;
using warren::nft::TableInspection;

namespace {

// A claim as all_published_ports() lists it: the service's, on every address, container port 0.
PublishedPort claim(const std::string& service, const std::string& unspecified, PortMapping mapping)
{
    mapping.container_port = 0;
    return PublishedPort{service, unspecified, ingress(std::move(mapping))};
}

std::uint64_t ports_published(const MetricsSnapshot& metrics, AddressFamily family, Protocol protocol)
{
    const auto found = std::find_if(metrics.ports_published.begin(), metrics.ports_published.end(), [&](const PortCount& c) {
        return c.family == warren::nft::to_string(family) && c.protocol == protocol;
    });
    REQUIRE(found != metrics.ports_published.end());
    return found->ports;
}

// Both tables as a fresh publisher inspects them: present, complete, with nothing to repair; the
// reading changes nothing.
TableInspection inspect_complete()
{
    const auto before = ruleset();
    const auto inspection = HostPortPublisher().inspect();
    CHECK(ruleset() == before);
    for (const auto& table : inspection.families) {
        INFO(table.table);
        CHECK(table.exists);
        CHECK(table.refusal.empty());
        for (const auto& problem : table.problems)
            FAIL_CHECK(problem.object << ": " << problem.description);
        CHECK(table.repair_operations == 0);
    }
    return inspection;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "an ingress service beside tasks: listed as the service's, no problem to inspect(), counted",
                 "[ingress][inspect][metrics]")
{
    const bool counters = GENERATE(false, true);
    INFO("counters " << counters);
    const bool counting = counters || tables_always_count();
    HostPortPublisher publisher(PublisherOptions{.counters = counters});
    publisher.publish_ports("db", ContainerAddresses{"10.88.0.2", "fd00::2"}, std::vector{tcp(15432, 5432)});
    publisher.publish_ports("dns", "10.88.0.3", std::vector{udp(15353, 53)});
    const std::vector web{ingress(tcp(18080, 80)), ingress(udp(18053, 53))};
    // One backend shared with the host-mode task db (10.88.0.2:5432 is also db's destination).
    publisher.publish_ingress(
        "web", web, std::vector<IngressBackend>{{"10.88.0.5"}, {"10.88.0.6", 8080, 2}, {"10.88.0.2", 5432}, {"fd00::5"}});

    const std::vector<PublishedPort> expected{{"db", "10.88.0.2", tcp(15432, 5432)},   {"db", "fd00::2", tcp(15432, 5432)},
                                              claim("web", "0.0.0.0", tcp(18080, 80)), claim("web", "::", tcp(18080, 80)),
                                              {"dns", "10.88.0.3", udp(15353, 53)},    claim("web", "0.0.0.0", udp(18053, 53)),
                                              claim("web", "::", udp(18053, 53))};
    auto all = HostPortPublisher().all_published_ports();
    const auto key = [](const PublishedPort& p) {
        return std::tuple(p.mapping.protocol, p.mapping.host_port, p.container_ip.find(':') != std::string::npos);
    };
    std::sort(all.begin(), all.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
    CHECK(all == expected);

    auto inspection = inspect_complete();
    CHECK(inspection.families[0].counting == counting);
    std::size_t claims = 0;
    for (const auto& table : inspection.families)
        for (const auto& port : table.ports)
            if (port.mapping.publish_mode == PublishMode::ingress) {
                ++claims;
                CHECK(port.task_id == "web");
            }
    CHECK(claims == 4);

    // A port per family, protocol and host port, a claim as one; every backend a destination.
    auto metrics = HostPortPublisher().metrics();
    CHECK(ports_published(metrics, AddressFamily::ipv4, Protocol::tcp) == 2);
    CHECK(ports_published(metrics, AddressFamily::ipv4, Protocol::udp) == 2);
    CHECK(ports_published(metrics, AddressFamily::ipv6, Protocol::tcp) == 2);
    CHECK(ports_published(metrics, AddressFamily::ipv6, Protocol::udp) == 1);
    CHECK(ports_published(metrics, AddressFamily::ipv4, Protocol::sctp) == 0);
    std::vector<std::string> destinations;
    for (const auto& d : metrics.destinations)
        destinations.push_back(d.container_ip + " " + std::string(warren::nft::to_string(d.protocol)) + " " +
                               std::to_string(d.container_port));
    std::sort(destinations.begin(), destinations.end());
    if (counting)
        CHECK(destinations == std::vector<std::string>{"10.88.0.2 tcp 5432", "10.88.0.2 udp 5432", "10.88.0.3 udp 53",
                                                       "10.88.0.5 tcp 80", "10.88.0.5 udp 53", "10.88.0.6 tcp 8080",
                                                       "10.88.0.6 udp 8080", "fd00::2 tcp 5432", "fd00::5 tcp 80",
                                                       "fd00::5 udp 53"});
    else
        CHECK(destinations.empty());

    // A draining backend keeps its record (and its destination): still nothing to repair.
    publisher.drain_backend("web", "10.88.0.5");
    inspect_complete();
    CHECK(HostPortPublisher().metrics().destinations.size() == metrics.destinations.size());

    // The service gone: its destinations too, but the one db still leads to.
    publisher.unpublish_ports("web");
    inspection = inspect_complete();
    for (const auto& table : inspection.families)
        for (const auto& port : table.ports)
            CHECK(port.task_id != "web");
    metrics = HostPortPublisher().metrics();
    CHECK(ports_published(metrics, AddressFamily::ipv4, Protocol::tcp) == 1);
    CHECK(ports_published(metrics, AddressFamily::ipv6, Protocol::udp) == 0);
    CHECK(metrics.destinations.size() == (counting ? 3U : 0U));
}
