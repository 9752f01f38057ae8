// SPDX-License-Identifier: Apache-2.0
// Data-path mode: how fast new TCP connections get through one published port while the table holds
// many other published ports, for warren-nft's map layout (host-mode ports, or ingress services whose
// every new connection draws a slot) and for Warren's original per-port iptables rules. Runs in
// client / host / container namespaces it creates (tools/sandbox).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bench {

// warren-nft's map layout, the same with an access policy on every published port (the measured
// one's allowing the client: two allowed sources, max_connections and rate far above what the run
// opens, bench_policy.hpp), ingress services instead of host-mode ports (docs/ingress.md: the
// fillers with 2 backends each, the measured port's one backend the container, so every counted
// connection goes through the slot lookup), and Warren's original per-port iptables rules.
inline constexpr const char* datapath_plain_layout = "warren-nft";
inline constexpr const char* datapath_policy_layout = "warren-nft-policy";
inline constexpr const char* datapath_ingress_layout = "warren-nft-ingress";
inline constexpr const char* datapath_iptables_layout = "iptables-fork";
// Every known layout, in the order --help and errors name them.
inline constexpr const char* datapath_layouts[] = {datapath_plain_layout, datapath_policy_layout, datapath_ingress_layout,
                                                   datapath_iptables_layout};
// Backends of each filler ingress service of the warren-nft-ingress layout.
inline constexpr std::size_t datapath_ingress_filler_backends = 2;

struct DatapathOptions {
    std::vector<std::string> layouts{datapath_plain_layout, datapath_policy_layout, datapath_ingress_layout,
                                     datapath_iptables_layout};
    std::vector<std::size_t> table_sizes{10, 10000};  // other published ports besides the measured one
    std::chrono::milliseconds duration{2000};         // of one run
    std::size_t runs = 3;                             // per (layout, table size); the median is reported
    std::chrono::milliseconds warmup{300};            // of each run, before counting starts
    std::size_t in_flight = 16;                       // connections the client keeps in progress at once
};

struct DatapathResult {
    std::string layout;
    std::size_t table_size = 0;
    std::vector<double> connections_per_second;  // one per run, in run order
    double median = 0;                           // of connections_per_second
    std::vector<double> fill_seconds;            // per run: publishing the other ports, untimed for the rate
    std::uint64_t failed_connections = 0;        // summed over the runs; non-zero makes the figures suspect
    std::string first_failure;                   // why the first of them failed, empty if none
    std::optional<std::string> skipped;          // why this cell did not run (then no figures)
};

// Known layouts: "warren-nft" (HostPortPublisher), "warren-nft-policy" (the same, every port with a
// policy), "warren-nft-ingress" (table_size ingress services of one port, then the measured port as
// an ingress service) and "iptables-fork" (the rules of iptables_layout.hpp, loaded with
// iptables-restore; the measured port is published last, the worst case for a linear list).
// Must be called in a namespace of the caller's own (sandbox::enter_sandbox() done); builds a fresh
// topology per run and leaves nothing behind; runs of different cells are interleaved.
std::vector<DatapathResult> run_datapath(const DatapathOptions& options);

}  // namespace bench
