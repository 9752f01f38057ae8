// SPDX-License-Identifier: Apache-2.0
//
// How a run measures (per layout, table size and run, all in namespaces created here):
// - A fresh host namespace with a fresh client / host / container topology, so no run inherits
//   rules, conntrack entries or sockets from the one before.
// - The host publishes `table_size` filler ports, then the measured port last: host 10.200.1.1:5000
//   -> container 10.200.2.2:8000. In the ingress layout the fillers are ingress services and the
//   measured port is one too, whose one backend is the container: DNAT by the slot map. Before the measured port exists a
//   connection to :5000 must be refused (nothing on the host answers it); after, an echo probe must come back from the container
//   and arrive there from the host's container-side address (masqueraded), so the counted connections really go through DNAT,
//   forward and masquerade.
// - The client keeps `in_flight` non-blocking connects in progress on one thread; the container's
//   ConnectionSink accepts on another, writes one byte and closes. A connection counts when that byte
//   reaches the client, then the client closes it with RST. Keeping several in flight makes the run
//   CPU-bound rather than round-trip-bound, which is where per-packet rule cost shows.
// - Artefacts kept out: client sockets close with RST (no TIME_WAIT); the client namespace's local
//   port range is widened; the host namespace's conntrack CLOSE timeout is 1 s instead of 10 s, since
//   nf_conntrack_max is read-only outside the initial namespace and, at the ~26k connections a second
//   measured before, 10 s of closed entries would approach the usual 262,144 (a full table drops
//   SYNs); the sink's backlog is far above `in_flight`.
#include "datapath.hpp"

#include "bench_policy.hpp"
#include "echo_path.hpp"
#include "ingress_fillers.hpp"
#include "iptables_layout.hpp"
#include "netns.hpp"
#include "process.hpp"
#include "service.hpp"
#include "traffic.hpp"

#include <warren/nft.hpp>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <stdexcept>
#include <thread>

namespace bench {
namespace {

// Filler ports per publish_ports call: the library's per-request maximum, so 10,000 ports take 20
// transactions and the table fills in well under a second. Ingress fillers are one service each, one
// publish_ingress() per service (there is no call for many services).
constexpr std::size_t filler_ports_per_task = warren::nft::HostPortPublisher::max_ports_per_request;

// The kernel frees a namespace's tables in a worker after the namespace is gone, in time that
// grows with their elements: 256 slots per ingress service (docs/performance.md). The next run
// waits for it, so that its count does not pay for the freeing.
constexpr std::chrono::microseconds teardown_per_ingress_service{200};

bool known_layout(const std::string& layout)
{
    return std::find(std::begin(datapath_layouts), std::end(datapath_layouts), layout) != std::end(datapath_layouts);
}

std::string known_layouts()
{
    std::string text;
    for (const auto* layout : datapath_layouts)
        text += (text.empty() ? "" : ", ") + std::string(layout);
    return text;
}

bool ingress_layout(const std::string& layout) { return layout == datapath_ingress_layout; }

// Why the layout cannot run here, or nothing.
std::optional<std::string> missing_tool(const std::string& layout)
{
    if (layout != datapath_iptables_layout)
        return std::nullopt;
    try {
        sandbox::find_program("iptables-restore");
        sandbox::find_program("iptables");
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    return std::nullopt;
}

// `policy`, when there is one, on every port.
void publish_warren(warren::nft::HostPortPublisher& publisher, const Task& task,
                    const std::optional<warren::nft::AccessPolicy>& policy)
{
    publisher.publish_ports(task.id, task.container_ip, policy ? with_policy(port_mappings(task), *policy) : port_mappings(task));
}

void publish_iptables_fillers(const std::vector<Task>& fillers)
{
    std::vector<BenchPort> ports;
    for (const auto& task : fillers)
        ports.insert(ports.end(), task.ports.begin(), task.ports.end());
    if (ports.empty())
        return;
    // One process for all of them: how the fillers got there is not what is measured.
    sandbox::Command restore;
    restore.argv = {"iptables-restore", "--noflush"};
    restore.input = iptables_restore_script(ports, RuleAction::append);
    sandbox::check_output(restore);
}

// The measured port exactly as Warren's original package adds it: three `iptables -w` commands,
// each appending, so its rules come after every filler's.
void publish_iptables_port(const BenchPort& port)
{
    for (const auto& arguments : iptables_rule_arguments(port, RuleAction::append)) {
        std::vector<std::string> argv = {"iptables", "-w"};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        sandbox::check_output(std::move(argv));
    }
}

// The measured task as an ingress service: its one backend, weight 1, is the container, so every
// slot leads there.
void publish_measured_ingress(warren::nft::HostPortPublisher& publisher, const Task& measured)
{
    const auto& port = measured.ports.front();
    const auto mapping = ingress_port(port.host_port, port.container_port);
    const warren::nft::IngressBackend backend{measured.container_ip};
    publisher.publish_ingress(measured.id, {&mapping, 1}, {&backend, 1});
}

struct Run {
    sandbox::ConnectionRate rate;
    double fill_seconds = 0;
};

// One run: a fresh topology around the calling thread's (fresh) namespace, the table filled, the
// rate measured. Everything it made goes when it returns.
Run run_once(const std::string& layout, const std::vector<Task>& fillers, const DatapathOptions& options)
{
    sandbox::Topology topology;
    topology.client.run([] { sandbox::write_net_sysctl("net/ipv4/ip_local_port_range", "1024 65535"); });

    const auto measured = measured_task();
    std::optional<warren::nft::HostPortPublisher> publisher;
    std::optional<warren::nft::AccessPolicy> policy;
    if (layout == datapath_policy_layout)
        policy = bench_policy({sandbox::Topology::client_ip, "192.0.2.0/24"});
    const auto fill_start = std::chrono::steady_clock::now();
    if (layout == datapath_iptables_layout) {
        publish_iptables_fillers(fillers);
    } else {
        publisher.emplace();
        if (ingress_layout(layout))
            publish_ingress_fillers(*publisher, fillers, datapath_ingress_filler_backends);
        else
            for (const auto& task : fillers)
                publish_warren(*publisher, task, policy);
    }
    Run run;
    run.fill_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();
    expect_refused(topology);
    if (!publisher)
        publish_iptables_port(measured.ports.front());
    else if (ingress_layout(layout))
        publish_measured_ingress(*publisher, measured);
    else
        publish_warren(*publisher, measured, policy);

    // Written now: conntrack's per-namespace settings exist once a NAT rule has loaded it.
    sandbox::write_net_sysctl("net/netfilter/nf_conntrack_tcp_timeout_close", "1");

    {
        const sandbox::EchoServer echo(topology.container, sandbox::Transport::tcp, measured_container_port, "container");
        expect_dnat(topology, echo);
    }

    const sandbox::ConnectionSink sink(topology.container, measured_container_port);
    run.rate = sandbox::measure_connection_rate(topology.client, sandbox::Topology::host_client_side_ip, measured_host_port,
                                                options.warmup, options.duration, options.in_flight);
    if (run.rate.completed == 0)
        throw std::runtime_error("no connection through the published port completed" +
                                 (run.rate.first_error.empty() ? std::string() : ": " + run.rate.first_error));
    return run;
}

double median_of(std::vector<double> values)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const auto middle = values.size() / 2;
    return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

}  // namespace

std::vector<DatapathResult> run_datapath(const DatapathOptions& options)
{
    for (const auto& layout : options.layouts)
        if (!known_layout(layout))
            throw std::invalid_argument("unknown data-path layout `" + layout + "` (known: " + known_layouts() + ")");
    if (options.runs == 0)
        throw std::invalid_argument("data-path mode needs at least one run");
    if (options.duration.count() <= 0)
        throw std::invalid_argument("data-path duration must be positive");
    sandbox::ensure_not_in_original_netns();

    std::vector<DatapathResult> results;
    for (const auto& layout : options.layouts) {
        const auto missing = missing_tool(layout);
        for (const auto table_size : options.table_sizes) {
            DatapathResult cell;
            cell.layout = layout;
            cell.table_size = table_size;
            cell.skipped = missing;
            results.push_back(std::move(cell));
        }
    }
    // Built before anything runs, so an impossible table size fails at once, not after minutes.
    std::vector<std::vector<Task>> fillers;
    for (const auto& cell : results) {
        if (ingress_layout(cell.layout) && cell.table_size > max_ingress_services())
            throw std::invalid_argument("layout " + cell.layout + ": at most " + std::to_string(max_ingress_services()) +
                                        " other ingress services");
        fillers.push_back(filler_tasks(cell.table_size, ingress_layout(cell.layout) ? 1 : filler_ports_per_task));
    }

    // Run r of every cell before run r+1 of any: on a machine whose load drifts (other builds, turbo,
    // noisy neighbours) each cell's median then sees the same conditions, and the 10-vs-10,000
    // comparison stays fair.
    for (std::size_t run = 0; run < options.runs; ++run)
        for (std::size_t i = 0; i < results.size(); ++i) {
            auto& cell = results[i];
            if (cell.skipped)
                continue;
            try {
                // Each run in a namespace of its own, which vanishes with `host` (and the caller's
                // thread is back where it was, even when the run throws).
                const auto host = sandbox::Netns::create();
                const auto run_result = host.run([&] { return run_once(cell.layout, fillers[i], options); });
                const auto& rate = run_result.rate;
                cell.connections_per_second.push_back(rate.per_second());
                cell.fill_seconds.push_back(run_result.fill_seconds);
                cell.failed_connections += rate.failed;
                if (cell.first_failure.empty())
                    cell.first_failure = rate.first_error;
            } catch (const std::exception& e) {
                throw std::runtime_error("data path, layout " + cell.layout + ", " + std::to_string(cell.table_size) +
                                         " other ports, run " + std::to_string(run + 1) + ": " + e.what());
            }
            if (ingress_layout(cell.layout))
                std::this_thread::sleep_for(cell.table_size * teardown_per_ingress_service);
        }
    for (auto& cell : results)
        cell.median = median_of(cell.connections_per_second);
    return results;
}

}  // namespace bench
