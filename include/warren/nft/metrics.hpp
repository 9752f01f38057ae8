// SPDX-License-Identifier: Apache-2.0
// What a publisher has done, as numbers an agent exports: the metrics of the original network
// package under nftables names, and the Prometheus text format they are scraped in.
#pragma once

#include <warren/nft/export.hpp>
#include <warren/nft/host_port_publisher.hpp>
#include <warren/nft/port_mapping.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace warren::nft {

// A Prometheus histogram of durations in seconds.
struct DurationHistogram {
    // Upper bounds of the buckets, ascending (the +Inf bucket is `count`).
    std::vector<double> bounds;
    // Observations at most each bound (cumulative, as Prometheus counts them); as long as `bounds`.
    std::vector<std::uint64_t> cumulative;
    std::uint64_t count = 0;
    double sum = 0;

    friend bool operator==(const DurationHistogram&, const DurationHistogram&) = default;
};

// Published ports of one address family and protocol.
struct PortCount {
    std::string family;  // to_string(AddressFamily): "ipv4" or "ipv6"
    Protocol protocol = Protocol::tcp;
    std::uint64_t ports = 0;

    friend bool operator==(const PortCount&, const PortCount&) = default;
};

struct MetricsSnapshot {
    // Gauges, as the kernel's tables hold them now (every owner's ports, not only this publisher's).
    std::vector<PortCount> ports_published;  // warren_nft_ports_published{family,protocol}
    // Per destination, where the table counts (PublisherOptions::counters); empty otherwise.
    std::vector<DestinationCounters> destinations;  // warren_nft_destination_{packets,bytes}_total

    // Counters and histograms of this publisher since it was made. Each publish and unpublish
    // request counts once, whether it succeeded or not, however many transactions it took.
    DurationHistogram publish_duration;           // warren_nft_publish_duration_seconds
    DurationHistogram unpublish_duration;         // warren_nft_unpublish_duration_seconds
    DurationHistogram repair_duration;            // warren_nft_repair_duration_seconds: every attempt
    std::map<std::string, std::uint64_t> errors;  // warren_nft_errors_total{errc}: by errc name ("port_conflict")
    std::uint64_t batches = 0;                    // warren_nft_batches_total: transactions sent to the kernel
    std::uint64_t retries = 0;  // warren_nft_retries_total: transactions sent or planned again after another writer's commit
    std::uint64_t repairs = 0;  // warren_nft_repairs_total: repairs of a self-healing publisher that committed
    std::uint64_t dumps = 0;    // warren_nft_dumps_total: reads of a table from the kernel

    friend bool operator==(const MetricsSnapshot&, const MetricsSnapshot&) = default;
};

// The snapshot in the Prometheus text exposition format (version 0.0.4), with HELP and TYPE lines.
// Every errc name appears in warren_nft_errors_total (0 until it happens), every family and
// protocol in warren_nft_ports_published. docs/user-guide.md describes each metric.
WARREN_NFT_EXPORT std::string prometheus_text(const MetricsSnapshot& snapshot);
// Only what the table holds, not what a publisher did: warren_nft_ports_published and the
// destination counters (what `warren-nft metrics` prints, for a node exporter's textfile collector,
// next to an agent that exports the rest).
WARREN_NFT_EXPORT std::string prometheus_table_text(const MetricsSnapshot& snapshot);

}  // namespace warren::nft
