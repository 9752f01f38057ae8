// SPDX-License-Identifier: Apache-2.0
// warren-nft-bench: rule-commit latency of warren-nft against the raw libnftnl floor, iptables and
// nft, and how it scales with the table; bulk publishing and adoption; the data path; memory;
// publishing beside a foreign writer; how fast a self-healing publisher repairs damage; what
// cleaning up conntrack entries costs a publish; a burst of publishes through the asynchronous
// publisher beside the same requests one after the other; the changes of an ingress service.
// Every measurement runs in network namespaces this program creates (docs/performance.md).
// Exit status: 0 every measurement ran (skips included), 1 one failed, 2 usage error, 77 no
// network namespace could be created here (nothing ran).
#include "bulk.hpp"
#include "burst.hpp"
#include "conntrack_cleanup.hpp"
#include "damage.hpp"
#include "datapath.hpp"
#include "find_named.hpp"
#include "flows.hpp"
#include "foreign_latency.hpp"
#include "heal.hpp"
#include "ingress_latency.hpp"
#include "latency.hpp"
#include "memory.hpp"
#include "method.hpp"
#include "netns.hpp"
#include "report.hpp"
#include "service.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace {

using namespace bench;

constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_no_namespace = 77;  // nothing could run here: a skip for test harnesses

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::vector<std::string> modes{"latency"};
    LatencyOptions latency;
    std::string family = "ipv4";
    std::vector<std::string> bulk{"10000x1", "1000x10"};
    DatapathOptions datapath;
    double datapath_seconds = 2;
    std::size_t memory_ports = 100000;
    std::size_t memory_ports_per_task = 1;
    ForeignWriterOptions foreign_writer;
    double foreign_writer_ms = 10;
    HealOptions heal;
    long heal_timeout_ms = 1000;
    ConntrackOptions conntrack;
    BurstOptions burst;
    IngressOptions ingress;
    std::string json_path;
    std::string csv_path;
};

BulkShape parse_bulk_shape(const std::string& text)
{
    const auto x = text.find('x');
    try {
        std::size_t used_tasks = 0, used_ports = 0;
        if (x != std::string::npos && x > 0 && x + 1 < text.size()) {
            const auto tasks = std::stoul(text.substr(0, x), &used_tasks);
            const auto ports = std::stoul(text.substr(x + 1), &used_ports);
            if (used_tasks == x && used_ports == text.size() - x - 1 && tasks > 0 && ports > 0 &&
                ports <= warren::nft::HostPortPublisher::max_ports_per_request)
                return {tasks, ports};
        }
    } catch (const std::exception&) {
    }
    throw UsageError("--bulk '" + text + "': expected TASKSxPORTS with 1 <= PORTS <= " +
                     std::to_string(warren::nft::HostPortPublisher::max_ports_per_request) + ", e.g. 10000x1");
}

// Every mode, in the order they run: what --all runs.
const std::vector<std::string> all_modes{"latency", "bulk",      "datapath", "memory", "foreign-writer",
                                         "heal",    "conntrack", "burst",    "ingress"};

std::string joined(const std::vector<std::string>& items)
{
    std::string text;
    for (const auto& item : items)
        text += (text.empty() ? "" : ", ") + item;
    return text;
}

void check_sizes(const std::string& option, const std::vector<std::size_t>& sizes)
{
    const auto capacity = filler_capacity();
    for (const auto size : sizes)
        if (size > capacity)
            throw UsageError(option + " " + std::to_string(size) + ": at most " + std::to_string(capacity) + " ports");
}

void check(const Options& o)
{
    for (const auto& mode : o.modes)
        if (std::find(all_modes.begin(), all_modes.end(), mode) == all_modes.end())
            throw UsageError("--mode '" + mode + "': expected one of " + joined(all_modes));
    if (!parse_family(o.family))
        throw UsageError("--family '" + o.family + "': expected ipv4, ipv6 or dual");
    for (const auto& name : o.latency.methods)
        if (!find_method(name))
            throw UsageError("--methods '" + name + "': unknown method; known: " + names_of(all_methods()));
    for (const auto ports : o.latency.ports)
        if (ports == 0 || ports > 512)
            throw UsageError("--ports " + std::to_string(ports) + ": a service has 1 to 512 ports");
    check_sizes("--table-sizes", o.latency.table_sizes);
    check_sizes("--datapath-sizes", o.datapath.table_sizes);
    for (const auto& layout : o.datapath.layouts)
        if (std::find(std::begin(datapath_layouts), std::end(datapath_layouts), layout) == std::end(datapath_layouts))
            throw UsageError("--datapath-layouts '" + layout + "': unknown layout; known: " +
                             joined(std::vector<std::string>(std::begin(datapath_layouts), std::end(datapath_layouts))));
    if (std::find(o.datapath.layouts.begin(), o.datapath.layouts.end(), datapath_ingress_layout) != o.datapath.layouts.end())
        for (const auto size : o.datapath.table_sizes)
            if (size > max_ingress_services())
                throw UsageError("--datapath-sizes " + std::to_string(size) + ": at most " +
                                 std::to_string(max_ingress_services()) + " ingress services (layout " + datapath_ingress_layout +
                                 ")");
    check_sizes("--foreign-writer-sizes", o.foreign_writer.table_sizes);
    check_sizes("--heal-sizes", o.heal.table_sizes);
    // Below a tenth of a millisecond the writer would do little but commit.
    if (!(o.foreign_writer_ms >= 0.1))
        throw UsageError("--foreign-writer-ms must be at least 0.1");
    for (const auto& name : o.heal.damages)
        if (!find_damage(name))
            throw UsageError("--heal-damages '" + name + "': unknown damage kind; known: " + names_of(damage_kinds()));
    if (o.heal.rounds == 0)
        throw UsageError("--heal-rounds 0: at least one round");
    if (o.heal_timeout_ms <= 0)
        throw UsageError("--heal-timeout-ms must be positive");
    for (const auto flows : o.conntrack.flow_counts)
        if (flows > max_unrelated_flows())
            throw UsageError("--conntrack-flows " + std::to_string(flows) + ": at most " + std::to_string(max_unrelated_flows()) +
                             " flows");
    const auto capacity = filler_capacity();
    if (o.memory_ports == 0 || o.memory_ports > capacity)
        throw UsageError("--memory-ports " + std::to_string(o.memory_ports) + ": 1 to " + std::to_string(capacity));
    if (o.burst.tasks == 0 || o.burst.tasks > capacity)
        throw UsageError("--burst-tasks " + std::to_string(o.burst.tasks) + ": 1 to " + std::to_string(capacity));
    for (const auto backends : o.ingress.backends)
        if (backends < min_ingress_backends || backends > max_ingress_backends)
            throw UsageError("--ingress-backends " + std::to_string(backends) + ": " + std::to_string(min_ingress_backends) +
                             " to " + std::to_string(max_ingress_backends) + " backends (a wide port's 4,096 slots)");
    for (const auto services : o.ingress.services)
        if (services > max_ingress_services())
            throw UsageError("--ingress-services " + std::to_string(services) + ": at most " +
                             std::to_string(max_ingress_services()) + " services");
    if (o.burst.rounds == 0)
        throw UsageError("--burst-rounds 0: at least one round");
    if (o.latency.repetitions == 0)
        throw UsageError("--reps 0: at least one repetition");
    if (!(o.latency.max_seconds > 0))
        throw UsageError("--max-seconds must be positive");
    if (!(o.datapath_seconds > 0) || o.datapath.runs == 0)
        throw UsageError("--datapath-seconds and --datapath-runs must be positive");
}

bool wants(const Options& o, const std::string& mode) { return std::find(o.modes.begin(), o.modes.end(), mode) != o.modes.end(); }

void write_file(const std::string& path, const std::string& text)
{
    std::ofstream out(path);
    out << text;
    if (!out.flush())
        throw std::runtime_error("cannot write " + path);
}

// iptables -w takes /run/xtables.lock, which is shared with the host's own iptables (and cannot be
// opened from a user namespace): ours is private, in a directory removed at exit.
class PrivateXtablesLock {
public:
    PrivateXtablesLock()
    {
        char pattern[] = "/tmp/warren-nft-bench.XXXXXX";
        if (!mkdtemp(pattern))
            throw std::runtime_error("cannot create a temporary directory in /tmp");
        directory_ = pattern;
        setenv("XTABLES_LOCKFILE", (directory_ / "xtables.lock").c_str(), 1);
    }
    ~PrivateXtablesLock()
    {
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
    }
    PrivateXtablesLock(const PrivateXtablesLock&) = delete;
    PrivateXtablesLock& operator=(const PrivateXtablesLock&) = delete;

private:
    std::filesystem::path directory_;
};

int run(const Options& o)
{
    if (const auto failure = sandbox::enter_sandbox()) {
        std::cerr << "warren-nft-bench: cannot create a network namespace to measure in (" << *failure
                  << "); nothing was measured\n";
        return exit_no_namespace;
    }
    std::signal(SIGPIPE, SIG_IGN);
    const PrivateXtablesLock lock;
    Report report;
    report.machine = describe_machine();
    std::cout << "warren-nft-bench " << WARREN_NFT_BENCH_VERSION << ": kernel " << report.machine["kernel"].get<std::string>()
              << ", " << report.machine["cpus"] << " CPUs, " << report.machine["os"].get<std::string>()
              << "; sandbox: " << report.machine["sandbox"].get<std::string>() << "\n\n";

    if (wants(o, "latency")) {
        print_latency_header(std::cout, o.latency.family);
        report.latency = run_latency(o.latency, [](const LatencyCell& cell) { print_latency_row(std::cout, cell); });
    }
    if (wants(o, "bulk")) {
        std::vector<BulkShape> shapes;
        for (const auto& text : o.bulk)
            shapes.push_back(parse_bulk_shape(text));
        report.bulk = run_bulk(shapes);
    }
    if (wants(o, "datapath")) {
        auto options = o.datapath;
        options.duration = std::chrono::milliseconds(static_cast<long>(o.datapath_seconds * 1000));
        // A failed run stops the mode, not the whole benchmark: what was measured is still reported.
        try {
            report.datapath = run_datapath(options);
        } catch (const std::exception& e) {
            report.datapath_error = e.what();
        }
    }
    if (wants(o, "memory"))
        report.memory = run_memory(o.memory_ports, o.memory_ports_per_task);
    if (wants(o, "foreign-writer")) {
        auto options = o.foreign_writer;
        options.period = std::chrono::microseconds(static_cast<long>(o.foreign_writer_ms * 1000));
        report.foreign_writer = run_foreign_writer(options, o.latency);
    }
    if (wants(o, "heal")) {
        auto options = o.heal;
        options.timeout = std::chrono::milliseconds(o.heal_timeout_ms);
        report.heal = run_heal(options);
    }
    if (wants(o, "conntrack"))
        report.conntrack = run_conntrack(o.conntrack, o.latency);
    if (wants(o, "burst"))
        report.burst = run_burst(o.burst);
    if (wants(o, "ingress"))
        report.ingress = run_ingress(o.ingress, o.latency);

    print_text(std::cout, report);
    if (!o.json_path.empty())
        write_file(o.json_path, to_json(report).dump(2) + "\n");
    if (!o.csv_path.empty())
        write_file(o.csv_path, to_csv(report.latency.value_or(std::vector<LatencyCell>{})));
    return has_errors(report) ? exit_failed : 0;
}

}  // namespace

int main(int argc, char* argv[])
{
    Options o;
    for (const auto& method : all_methods())
        o.latency.methods.push_back(method.name);

    CLI::App app{
        "warren-nft-bench: how long publishing container ports takes with warren-nft, the raw libnftnl\n"
        "floor, iptables and nft, and how it scales. Runs everything in network namespaces it creates\n"
        "itself (a user namespace when not root); the machine's own rules are never touched.",
        "warren-nft-bench"};
    app.set_version_flag("--version", std::string("warren-nft-bench ") + WARREN_NFT_BENCH_VERSION);
    app.get_formatter()->column_width(34);
    app.add_option("--mode", o.modes, "What to measure, comma-separated: " + joined(all_modes))
        ->delimiter(',')
        ->capture_default_str();
    app.add_flag_callback(
        "--all", [&] { o.modes = all_modes; }, "Measure everything (a full run, as in docs/performance.md)");

    std::string method_help = "latency: methods to compare, comma-separated:";
    for (const auto& method : all_methods())
        method_help += "\n  " + method.name + ": " + method.description;
    app.add_option("--methods", o.latency.methods, method_help)->delimiter(',')->capture_default_str();
    app.add_option("--ports", o.latency.ports, "latency: ports of the published service (P)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--table-sizes", o.latency.table_sizes, "latency: ports already published (N), filled before timing")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--reps", o.latency.repetitions, "latency: timed publish+unpublish repetitions per cell (R)")
        ->capture_default_str();
    app.add_option("--warmup", o.latency.warmup, "latency: untimed repetitions before each round's timed ones")
        ->capture_default_str();
    app.add_option("--rounds", o.latency.rounds,
                   "latency: measure each cell in this many parts of R/rounds repetitions, each in a fresh namespace, "
                   "interleaved with the other cells' parts (a slow minute of the machine then hits every method alike)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("--max-seconds", o.latency.max_seconds,
                   "latency: time bound of a cell's timed repetitions; a slower cell reports how many ran")
        ->capture_default_str();
    app.add_option("--family", o.family,
                   "latency: addresses of the service and the filler tasks: ipv4 (table ip warren), ipv6 (table ip6 "
                   "warren) or dual (both, every port in both tables; warren-nft publishes with ContainerAddresses, "
                   "one transaction; floor sends the same elements in one batch; the iptables methods do not apply)")
        ->capture_default_str();
    app.add_option("--bulk", o.bulk, "bulk: shapes TASKSxPORTS to publish one task after the other, then adopt")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--datapath-layouts", o.datapath.layouts,
                   "datapath: warren-nft, warren-nft-policy (every port with an access policy), warren-nft-ingress "
                   "(ingress services of 2 backends each, the measured port an ingress service: every connection "
                   "draws a slot), iptables-fork")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--datapath-sizes", o.datapath.table_sizes,
                   "datapath: other published ports besides the measured one (warren-nft-ingress: other ingress "
                   "services of one port each)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--datapath-seconds", o.datapath_seconds, "datapath: length of one run")->capture_default_str();
    app.add_option("--datapath-runs", o.datapath.runs, "datapath: runs per cell (median reported)")->capture_default_str();
    app.add_option("--memory-ports", o.memory_ports, "memory: ports to publish and adopt")->capture_default_str();
    app.add_option("--memory-ports-per-task", o.memory_ports_per_task, "memory: ports per task")->capture_default_str();
    app.add_option("--foreign-writer-ms", o.foreign_writer_ms,
                   "foreign-writer: another process commits to a table of its own this often (ms) while warren-nft "
                   "publishes a 3-port service; each cell also runs quiet, paced alike (uses --reps, --rounds, "
                   "--warmup, --max-seconds; a call still running 1 s after the bound counts as failed)")
        ->capture_default_str();
    app.add_option("--foreign-writer-sizes", o.foreign_writer.table_sizes,
                   "foreign-writer: ports already published (N), filled before timing")
        ->delimiter(',')
        ->capture_default_str();
    std::string damage_help = "heal: damage kinds, comma-separated (default: all), each done by `nft -f -`:";
    for (const auto& kind : damage_kinds())
        damage_help += "\n  " + kind.name + ": " + kind.description;
    app.add_option("--heal-damages", o.heal.damages, damage_help)->delimiter(',');
    app.add_option("--heal-sizes", o.heal.table_sizes,
                   "heal: other published ports besides the probed one (one-port tasks of a self-healing publisher)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--heal-rounds", o.heal.rounds, "heal: damages per kind and table size, each timed until traffic flows")
        ->capture_default_str();
    app.add_option("--heal-timeout-ms", o.heal_timeout_ms,
                   "heal: a round without traffic through the port by then counts as not healed (the bench then "
                   "rebuilds the table; three in a row stop the cell)")
        ->capture_default_str();
    app.add_option("--conntrack-flows", o.conntrack.flow_counts,
                   "conntrack: unrelated tracked flows in the namespace's conntrack table (N), inserted before timing "
                   "a 1-port UDP service's publish and unpublish with PublisherOptions::conntrack_cleanup off and on "
                   "(uses --reps, --rounds, --warmup, --max-seconds)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--burst-tasks", o.burst.tasks,
                   "burst: one-port tasks published from an empty table, then unpublished, one after the other on a "
                   "HostPortPublisher and all at once through AsyncHostPortPublisher on one io_context thread")
        ->capture_default_str();
    app.add_option("--burst-rounds", o.burst.rounds, "burst: bursts of each side (median reported), each in a fresh namespace")
        ->capture_default_str();
    app.add_option(
           "--ingress-backends", o.ingress.backends,
           "ingress: backends of the measured 1-port ingress service (B), 2 to 4096 (over 256: a wide port, 4,096 slots); its "
           "publish_ingress, publish_ingress with one backend replaced, drain_backend and unpublish_ports are "
           "timed (uses --reps, --rounds, --warmup, --max-seconds)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--ingress-services", o.ingress.services,
                   "ingress: other ingress services (1 port, 1 backend each) published before timing (N)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--json", o.json_path, "Write every figure as JSON to this file (tools/bench-plot.sh reads it)");
    app.add_option("--csv", o.csv_path, "Write the latency cells as CSV to this file");

    try {
        app.parse(argc, argv);
        check(o);
        o.latency.family = *parse_family(o.family);
        if (o.memory_ports_per_task == 0 || o.memory_ports_per_task > warren::nft::HostPortPublisher::max_ports_per_request)
            throw UsageError("--memory-ports-per-task: 1 to " +
                             std::to_string(warren::nft::HostPortPublisher::max_ports_per_request));
        for (const auto& text : o.bulk)
            parse_bulk_shape(text);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)  // --help, --version
            return app.exit(e);
        std::cerr << "warren-nft-bench: " << e.what() << " (see 'warren-nft-bench --help')\n";
        return exit_usage;
    } catch (const UsageError& e) {
        std::cerr << "warren-nft-bench: " << e.what() << "\n";
        return exit_usage;
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "warren-nft-bench: " << e.what() << "\n";
        return exit_failed;
    }
}
