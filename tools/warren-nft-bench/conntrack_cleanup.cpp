// SPDX-License-Identifier: Apache-2.0
#include "conntrack_cleanup.hpp"

#include "child.hpp"
#include "flows.hpp"
#include "method.hpp"
#include "netns.hpp"
#include "service.hpp"

#include "netlink/conntrack.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

namespace bench {
namespace {

// What the publisher logged as warnings: failed cleanups (this benchmark's publisher has no other).
struct Warnings {
    std::mutex mutex;
    std::size_t count = 0;
    std::optional<std::string> first;

    void add(std::string_view message)
    {
        const std::lock_guard lock(mutex);
        if (count++ == 0)
            first = std::string(message);
    }
};

warren::nft::PublisherOptions::Logger warnings_to(const std::shared_ptr<Warnings>& warnings)
{
    return [warnings](warren::nft::LogLevel level, std::string_view message) {
        if (level >= warren::nft::LogLevel::warning)
            warnings->add(message);
    };
}

// The measured service as UDP: the protocol whose cleanup matters most (a UDP client's next datagram
// follows a stale entry) and that every publish cleans up after, not only unpublishing.
Task udp_service()
{
    auto service = measured_service(1);
    service.ports.front().protocol = warren::nft::Protocol::udp;
    return service;
}

std::size_t hash_buckets()
{
    try {
        return std::stoul(sandbox::read_net_sysctl("net/netfilter/nf_conntrack_buckets"));
    } catch (const std::exception&) {
        return 0;  // not shown in this namespace
    }
}

// Publishes per part whose cleanup is waited for.
constexpr std::size_t settle_repetitions = 10;

// In the child: one part of a cell.
nlohmann::json measure(const ConntrackCell& cell, std::size_t repetitions, double max_seconds)
{
    insert_flows(unrelated_flows(cell.flows));
    auto warnings = std::make_shared<Warnings>();
    const auto method = warren_nft_publisher({.conntrack_cleanup = cell.cleanup, .logger = warnings_to(warnings)});
    const auto service = udp_service();
    const auto tracked = tracked_flow_count();
    const auto times = time_publishes(*method, service, cell.warmup, repetitions, max_seconds);
    std::vector<double> settled_us;
    if (cell.cleanup) {
        // The cleanup runs on the publisher's thread: how long after a publish its stale entries are
        // gone (the publish call itself returns long before).
        warren::nft::HostPortPublisher publisher({.logger = warnings_to(warnings)});
        const auto mappings = port_mappings(service);
        for (std::size_t i = 0; i < settle_repetitions; ++i) {
            const auto start = std::chrono::steady_clock::now();
            publisher.publish_ports(service.id, service.container_ip, mappings);
            publisher.wait_for_conntrack_cleanup();
            settled_us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
            publisher.unpublish_ports(service.id);
            publisher.wait_for_conntrack_cleanup();
        }
    }
    nlohmann::json result = {{"publish_us", times.publish_us},     {"settled_us", settled_us},
                             {"unpublish_us", times.unpublish_us}, {"tracked", tracked},
                             {"buckets", hash_buckets()},          {"peak_rss_kib", peak_rss_kib()}};
    if (!cell.cleanup) {
        // What the cleanup of this port adds, as many times as the publisher was timed.
        warren::nft::netlink::ConntrackTable table;
        const warren::nft::netlink::FlowMatch match{AF_INET, IPPROTO_UDP, service.ports.front().host_port, std::nullopt};
        std::vector<double> forget_us;
        for (std::size_t i = 0; i < times.publish_us.size(); ++i) {
            const auto start = std::chrono::steady_clock::now();
            table.forget({&match, 1});
            forget_us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
        }
        result["forget_us"] = forget_us;
    }
    const std::lock_guard lock(warnings->mutex);
    result["warnings"] = warnings->count;
    result["first_warning"] = optional_text(warnings->first);
    return result;
}

void append(std::vector<double>& to, const nlohmann::json& from)
{
    for (const double value : from)
        to.push_back(value);
}

struct Samples {
    std::vector<double> publish, unpublish, forget, settled;
};

}  // namespace

std::vector<ConntrackCell> run_conntrack(const ConntrackOptions& options, const LatencyOptions& latency)
{
    const RoundPlan plan(latency);
    std::vector<ConntrackCell> cells;
    for (const auto flows : options.flow_counts)
        for (const bool cleanup : {false, true}) {
            ConntrackCell cell;
            cell.flows = flows;
            cell.cleanup = cleanup;
            cell.requested_repetitions = latency.repetitions;
            cell.rounds = plan.rounds;
            cell.warmup = latency.warmup;
            cells.push_back(cell);
        }
    std::vector<Samples> samples(cells.size());
    std::vector<std::optional<std::size_t>> fewest_tracked(cells.size());
    // The cells with and without the cleanup see the same minutes of a shared machine.
    measure_in_rounds(
        plan, cells, measure,
        [&](std::size_t i, const nlohmann::json& j) {
            auto& cell = cells[i];
            append(samples[i].publish, j.at("publish_us"));
            append(samples[i].unpublish, j.at("unpublish_us"));
            if (j.contains("forget_us"))
                append(samples[i].forget, j.at("forget_us"));
            append(samples[i].settled, j.at("settled_us"));
            const std::size_t tracked = j.at("tracked");
            fewest_tracked[i] = std::min(fewest_tracked[i].value_or(tracked), tracked);
            cell.buckets = j.at("buckets");
            cell.warnings += j.at("warnings").get<std::size_t>();
            if (!cell.first_warning && !j.at("first_warning").is_null())
                cell.first_warning = j.at("first_warning").get<std::string>();
            cell.peak_rss_kib = std::max<long>(cell.peak_rss_kib, j.at("peak_rss_kib"));
        },
        // Inserting the flows is not timed but takes its time: allowed besides the plan's.
        [&](const ConntrackCell& cell) { return plan.child_timeout + std::chrono::seconds(1 + cell.flows / 10000); });
    for (std::size_t i = 0; i < cells.size(); ++i) {
        auto& cell = cells[i];
        if (cell.error)
            continue;
        cell.tracked = fewest_tracked[i].value_or(0);
        cell.repetitions = samples[i].publish.size();
        cell.time_bounded = cell.repetitions < cell.requested_repetitions;
        cell.publish_us = percentiles(samples[i].publish);
        cell.unpublish_us = percentiles(samples[i].unpublish);
        if (!samples[i].forget.empty())
            cell.forget_us = percentiles(samples[i].forget);
        if (!samples[i].settled.empty())
            cell.settled_us = percentiles(samples[i].settled);
    }
    return cells;
}

}  // namespace bench
