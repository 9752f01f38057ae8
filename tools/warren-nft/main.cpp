// SPDX-License-Identifier: Apache-2.0
// warren-nft: the operators' command line for the ports warren publishes with nftables.
// Exit status: 0 ok, 1 the operation failed, 2 usage error (see docs/cli.md).
#include "access_spec.hpp"
#include "doctor.hpp"
#include "list_output.hpp"
#include "printable.hpp"
#include "publish_output.hpp"
#include "spec.hpp"
#include "version.hpp"
#include "warnings.hpp"
#include "watch.hpp"

#include <warren/nft.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace {

using warren::cli::check_argument;
using warren::cli::UsageError;
namespace nft = warren::nft;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
// Enough for any of CLI11's sentences with an argument of ordinary length.
constexpr std::size_t cli11_message_limit = 200;

// A message for stderr, which is one line whatever it holds. Its echoed values are already escaped
// and cut short where it was made (so its backslashes are kept); this only makes sure.
std::string one_line(std::string_view message) { return nft::printable(message, nft::Backslash::keep); }

struct Arguments {
    std::string task;
    std::vector<std::string> ips;
    std::vector<std::string> specs;
    std::string name;
    warren::cli::AccessArguments access;
    bool json = false;
    bool yes = false;
    bool counters = false;
    std::string masquerade = "always";
    bool wildcard_on_localhost = false;
};

// The options of a publisher that changes ports. Masquerading and wildcard_on_localhost belong to
// the tables' fixed rules, which the first change of every publisher rewrites to its own settings:
// the flags let an operator keep those an agent of the host uses.
// Its warnings (a failed conntrack cleanup after the change committed) go to `warnings`.
nft::PublisherOptions changing_publisher(const Arguments& args, const warren::cli::Warnings& warnings)
{
    return nft::PublisherOptions{
        .counters = args.counters,
        .masquerading = args.masquerade == "when-needed" ? nft::Masquerading::when_needed : nft::Masquerading::always,
        .wildcard_on_localhost = args.wildcard_on_localhost,
        .logger = warnings.held()};
}

int publish(const Arguments& args)
{
    // Checked before the publisher opens its socket: a usage error never reaches the kernel.
    check_argument("--task", [&] { nft::validate_task_id(args.task); });
    const auto container = warren::cli::parse_container_addresses(args.ips);
    check_argument("--name", [&] { nft::validate_port_name(args.name); });
    const auto access = warren::cli::parse_access_policy(args.access);
    std::vector<nft::PortMapping> ports;
    for (const auto& spec : args.specs) {
        for (auto& mapping : warren::cli::parse_port_spec(spec)) {
            warren::cli::check_host_family(spec, mapping, container);
            mapping.name = args.name;
            mapping.access = access;
            warren::cli::check_allow_families(spec, mapping, container);
            ports.push_back(std::move(mapping));
        }
    }
    check_argument("-p", [&] { nft::validate_ports(ports); });
    // Without --counters a table that counts keeps counting: the flag only ever turns counting on.
    const warren::cli::Warnings warnings;
    std::vector<nft::PortMapping> published;
    {
        nft::HostPortPublisher publisher(changing_publisher(args, warnings));
        published = publisher.publish_ports(args.task, container, ports);
    }  // its conntrack cleanup done: every warning is in
    warnings.print();
    std::cout << (args.json ? warren::cli::format_published_json(published) : warren::cli::format_published_text(published))
              << std::flush;
    return exit_ok;
}

int unpublish(const Arguments& args)
{
    check_argument("--task", [&] { nft::validate_task_id(args.task); });
    const warren::cli::Warnings warnings;
    {
        nft::HostPortPublisher publisher(changing_publisher(args, warnings));
        publisher.unpublish_ports(args.task);
    }  // its conntrack cleanup done: every warning is in
    warnings.print();
    return exit_ok;
}

int list(const Arguments& args, bool task_given)
{
    if (task_given)
        check_argument("--task", [&] { nft::validate_task_id(args.task); });
    nft::HostPortPublisher publisher;
    auto ports = publisher.all_published_ports();
    if (task_given)
        std::erase_if(ports, [&](const nft::PublishedPort& port) { return port.task_id != args.task; });
    warren::cli::sort_for_listing(ports);
    // Empty when the table does not count (publish --counters turns counting on). Read after the
    // ports: in a table that counts, a listed port lacks counters only if its destination went in
    // between.
    const auto counters = publisher.destination_counters();
    std::cout << (args.json ? warren::cli::format_json(ports, counters) : warren::cli::format_table(ports, counters))
              << std::flush;
    return exit_ok;
}

// The table's metrics in the Prometheus text format (docs/cli.md): ports published, destination counters.
int metrics()
{
    nft::HostPortPublisher publisher;
    std::cout << nft::prometheus_table_text(publisher.metrics()) << std::flush;
    return exit_ok;
}

int flush(const Arguments& args)
{
    if (!args.yes)
        throw UsageError(
            "flush removes tables ip warren and ip6 warren and every port published by every task; "
            "run 'warren-nft flush --yes' to confirm");
    nft::HostPortPublisher publisher;
    publisher.remove_table();
    return exit_ok;
}

}  // namespace

int main(int argc, char* argv[])
{
    CLI::App app{
        "Publishes container ports on the host with nftables (tables ip warren and ip6 warren).\n"
        "Exit status: 0 ok, 1 operation failed, 2 usage error.",
        "warren-nft"};
    app.set_version_flag("--version", "warren-nft " WARREN_NFT_VERSION);
    app.require_subcommand(1);
    Arguments args;

    auto* publish_cmd = app.add_subcommand("publish",
                                           "Publish ports of a task in one atomic transaction "
                                           "(replacing the ports it published before)");
    publish_cmd->add_option("--task", args.task, "Task id (letters, digits, - _ . : @ / +; at most 64)")->required();
    publish_cmd
        ->add_option("--ip", args.ips,
                     "The container's IPv4 or IPv6 address; give it twice, once per family, "
                     "for a dual-stack container")
        ->required()
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    publish_cmd
        ->add_option("-p,--publish", args.specs,
                     "[[HOST_IP:]HOST_PORT[-LAST]:]CONTAINER_PORT[-LAST][/tcp|udp|sctp]; HOST_IP empty: every "
                     "address of the container's families, 0.0.0.0: every IPv4, [::]: every IPv6 address; "
                     "HOST_PORT left out, empty or 0 (80, 127.0.0.1::80, 0:80): a free host port; "
                     "repeat for more ports")
        ->required()
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    publish_cmd->add_option("--name", args.name, "A name for the ports, shown in list and nft");
    publish_cmd
        ->add_option("--allow", args.access.allow,
                     "Only these sources may connect: a CIDR or address of either family (10.0.0.0/8, "
                     "2001:db8::/32, 192.0.2.7); repeat for more; every -p of the command, each family it is "
                     "published in needs one")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    publish_cmd->add_option("--max-connections", args.access.max_connections,
                            "At most N connections open at once to each port of the command (ct count)");
    publish_cmd->add_option("--rate", args.access.rate,
                            "At most N new connections per second, minute or hour to each port, up to N at once "
                            "(N/second, N/minute, N/hour)");
    publish_cmd->add_flag("--json", args.json, "Print the published ports as a JSON array (see docs/cli.md)");
    publish_cmd->add_flag("--counters", args.counters,
                          "Count packets and bytes per destination, shown by list: creates the table counting, "
                          "or adds counters to a table without them");

    auto* unpublish_cmd = app.add_subcommand("unpublish", "Remove every port of a task (not an error if it has none)");
    unpublish_cmd->add_option("--task", args.task, "Task id")->required();
    // A change rewrites the tables' fixed rules to the publisher's settings.
    for (auto* changing : {publish_cmd, unpublish_cmd}) {
        changing
            ->add_option("--masquerade", args.masquerade,
                         "always (default): every connection comes from the host's address; when-needed: "
                         "only connections from the host and hairpin ones, others keep the client's address. "
                         "Rewrites the tables' rules: give what the host's agent uses")
            ->check(CLI::IsMember({"always", "when-needed"}));
        changing->add_flag("--wildcard-on-localhost", args.wildcard_on_localhost,
                           "Publish ports on every IPv4 address on 127.0.0.1 too (a host service there is then "
                           "unreachable on that port). Rewrites the tables' rules: give what the host's agent uses");
    }

    auto* list_cmd = app.add_subcommand("list", "Show published ports");
    auto* list_task = list_cmd->add_option("--task", args.task, "Only this task's ports");
    list_cmd->add_flag("--json", args.json, "Print a JSON array (see docs/cli.md)");

    auto* flush_cmd = app.add_subcommand("flush", "Remove tables ip warren and ip6 warren and every published port");
    flush_cmd->add_flag("--yes", args.yes, "Confirm");

    auto* metrics_cmd = app.add_subcommand("metrics",
                                           "Print the ports published and the destination counters in the "
                                           "Prometheus text format (for a node exporter's textfile collector)");

    auto* doctor_cmd = app.add_subcommand("doctor",
                                          "Check the host for what published ports need; one line per "
                                          "check (OK, WARN or FAIL), exit status 1 on any FAIL");
    bool doctor_json = false;
    doctor_cmd->add_flag("--json", doctor_json, "Print the checks as one JSON object");

    auto* watch_cmd = app.add_subcommand("watch",
                                         "Keep every task now in table ip warren published: repair it at "
                                         "once when others damage it, one line per repair, until "
                                         "SIGINT or SIGTERM (an unpublish from elsewhere is undone too)");
    watch_cmd->add_flag("--counters", args.counters,
                        "Make the table count packets and bytes per destination "
                        "when it is repaired, as publish --counters does");
    watch_cmd->add_flag("--json", args.json, "Print one JSON object per line (see docs/cli.md)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return app.exit(e);
        if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-') {
            std::cerr << "warren-nft: unknown subcommand " << nft::quote(argv[1])
                      << "; use publish, unpublish, list, metrics, flush, doctor or watch (see 'warren-nft --help')\n";
            return exit_usage;
        }
        const auto subcommands = app.get_subcommands();
        const std::string help =
            subcommands.empty() ? "warren-nft --help" : "warren-nft " + subcommands.front()->get_name() + " --help";
        // CLI11's message repeats the offending argument as it was typed.
        std::cerr << "warren-nft: " << nft::excerpt(e.what(), cli11_message_limit) << "; see '" << help << "'\n";
        return exit_usage;
    }

    try {
        if (publish_cmd->parsed())
            return publish(args);
        if (unpublish_cmd->parsed())
            return unpublish(args);
        if (list_cmd->parsed())
            return list(args, list_task->count() > 0);
        if (flush_cmd->parsed())
            return flush(args);
        if (metrics_cmd->parsed())
            return metrics();
        if (doctor_cmd->parsed())
            return warren::cli::run_doctor(std::cout, doctor_json);
        if (watch_cmd->parsed())
            return warren::cli::run_watch({.counters = args.counters, .json = args.json}, std::cout);
        return exit_usage;
    } catch (const UsageError& e) {
        std::cerr << "warren-nft: " << one_line(e.what()) << "\n";
        return exit_usage;
    } catch (const nft::Error& e) {
        std::cerr << "warren-nft: " << one_line(e.what()) << "\n";
        return e.code() == nft::errc::invalid_argument ? exit_usage : exit_failed;
    } catch (const std::exception& e) {
        std::cerr << "warren-nft: " << one_line(e.what()) << "\n";
        return exit_failed;
    }
}
