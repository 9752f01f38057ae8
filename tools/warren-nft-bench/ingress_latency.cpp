// SPDX-License-Identifier: Apache-2.0
#include "ingress_latency.hpp"

#include "child.hpp"
#include "ingress_fillers.hpp"
#include "service.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
using warren::nft::IngressBackend;
using warren::nft::PortMapping;

double microseconds_since(Clock::time_point start)
{
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// The measured service's backends: 10.88.1.1, 10.88.1.2, ..., 250 to a /24.
std::vector<IngressBackend> measured_backends(std::size_t count)
{
    std::vector<IngressBackend> backends;
    for (std::size_t i = 0; i < count; ++i)
        backends.push_back({"10.88." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250)});
    return backends;
}

struct Service {
    std::string id = "bench-ingress";
    std::vector<PortMapping> ports;
    std::vector<IngressBackend> backends;  // as added
    std::vector<IngressBackend> replaced;  // the last backend swapped for another address
    std::string drained;                   // a backend both sets have
};

Service measured_ingress_service(std::size_t backends)
{
    const auto service = measured_service(1);
    Service s;
    s.ports = {ingress_port(service.ports.front().host_port, service.ports.front().container_port)};
    s.backends = measured_backends(backends);
    s.replaced = s.backends;
    s.replaced.back().address = "10.89.0.1";
    s.drained = s.backends.front().address;
    return s;
}

void expect_ports(const warren::nft::HostPortPublisher& publisher, const Service& s, std::size_t expected, const char* after)
{
    const auto found = publisher.published_ports(s.id).size();
    if (found != expected)
        throw std::runtime_error(std::string("after ") + after + " the service publishes " + std::to_string(found) +
                                 " ports, not " + std::to_string(expected));
}

// In the child: checks one untimed cycle, fills the table with `cell.services` ingress services,
// then times `repetitions` cycles (for `max_seconds` at most, at least one).
nlohmann::json measure(const IngressCell& cell, std::size_t repetitions, double max_seconds)
{
    warren::nft::HostPortPublisher publisher;
    const auto s = measured_ingress_service(cell.backends);
    auto cycle = [&] {
        publisher.publish_ingress(s.id, s.ports, s.backends);
        publisher.publish_ingress(s.id, s.ports, s.replaced);
        publisher.drain_backend(s.id, s.drained);
        publisher.unpublish_ports(s.id);
    };
    // What a timed cycle does, checked once against the kernel's table before the fillers are there:
    // ingress_services() dumps every slot of the table, and the kernel walks a hash set from its
    // start again for every message of a dump, so its cost grows with the square of the slots
    // (docs/performance.md, "Reading 10,000 ingress services back").
    publisher.publish_ingress(s.id, s.ports, s.backends);
    expect_ports(publisher, s, 1, "publish_ingress()");
    publisher.publish_ingress(s.id, s.ports, s.replaced);
    publisher.drain_backend(s.id, s.drained);
    std::size_t draining = 0, active = 0;
    for (const auto& service : publisher.ingress_services())
        if (service.service == s.id)
            for (const auto& port : service.ports)
                for (const auto& backend : port.backends)
                    ++(backend.state == warren::nft::BackendState::draining ? draining : active);
    if (draining != 1 || active != cell.backends - 1)
        throw std::runtime_error("after the drain the service has " + std::to_string(active) + " active and " +
                                 std::to_string(draining) + " draining backends, not " + std::to_string(cell.backends - 1) +
                                 " and 1");
    publisher.unpublish_ports(s.id);
    expect_ports(publisher, s, 0, "unpublish_ports()");

    publish_ingress_fillers(publisher, filler_tasks(cell.services), 1);

    for (std::size_t i = 0; i < cell.warmup; ++i)
        cycle();
    std::vector<double> add, replace, drain, remove;
    const auto started = Clock::now();
    while (add.size() < repetitions &&
           (add.empty() || std::chrono::duration<double>(Clock::now() - started).count() < max_seconds)) {
        auto start = Clock::now();
        publisher.publish_ingress(s.id, s.ports, s.backends);
        add.push_back(microseconds_since(start));
        start = Clock::now();
        publisher.publish_ingress(s.id, s.ports, s.replaced);
        replace.push_back(microseconds_since(start));
        start = Clock::now();
        publisher.drain_backend(s.id, s.drained);
        drain.push_back(microseconds_since(start));
        start = Clock::now();
        publisher.unpublish_ports(s.id);
        remove.push_back(microseconds_since(start));
    }
    return {{"add", add}, {"replace", replace}, {"drain", drain}, {"remove", remove}, {"peak_rss_kib", peak_rss_kib()}};
}

struct Samples {
    std::vector<double> add, replace, drain, remove;
};

void append(std::vector<double>& to, const nlohmann::json& from)
{
    for (const double value : from)
        to.push_back(value);
}

}  // namespace

std::vector<IngressCell> run_ingress(const IngressOptions& options, const LatencyOptions& latency)
{
    const RoundPlan plan(latency);
    std::vector<IngressCell> cells;
    for (const auto backends : options.backends)
        for (const auto services : options.services) {
            IngressCell cell;
            cell.backends = backends;
            cell.services = services;
            cell.requested_repetitions = latency.repetitions;
            cell.warmup = latency.warmup;
            cell.rounds = plan.rounds;
            cells.push_back(cell);
        }
    std::vector<Samples> samples(cells.size());
    measure_in_rounds(
        plan, cells, measure,
        [&](std::size_t i, const nlohmann::json& j) {
            append(samples[i].add, j.at("add"));
            append(samples[i].replace, j.at("replace"));
            append(samples[i].drain, j.at("drain"));
            append(samples[i].remove, j.at("remove"));
            cells[i].peak_rss_kib = std::max<long>(cells[i].peak_rss_kib, j.at("peak_rss_kib"));
        },
        // Publishing the other services is not timed but takes its time: allowed besides the plan's.
        [&](const IngressCell& cell) { return plan.child_timeout + std::chrono::seconds(1 + cell.services / 100); });
    for (std::size_t i = 0; i < cells.size(); ++i) {
        auto& cell = cells[i];
        if (cell.error)
            continue;
        cell.repetitions = samples[i].add.size();
        cell.time_bounded = cell.repetitions < cell.requested_repetitions;
        cell.add_us = percentiles(samples[i].add);
        cell.replace_us = percentiles(samples[i].replace);
        cell.drain_us = percentiles(samples[i].drain);
        cell.remove_us = percentiles(samples[i].remove);
    }
    return cells;
}

}  // namespace bench
