// SPDX-License-Identifier: Apache-2.0
// warren-nft: the operators' command line for the ports warren publishes with nftables.
// Exit status: 0 ok, 1 the operation failed, 2 usage error (see docs/cli.md).
#include "access_spec.hpp"
#include "doctor.hpp"
#include "error_output.hpp"
#include "failure_messages.hpp"
#include "ingress_args.hpp"
#include "ingress_output.hpp"
#include "list_filter.hpp"
#include "list_output.hpp"
#include "printable.hpp"
#include "publish_output.hpp"
#include "spec.hpp"
#include "stop_signals.hpp"
#include "usage_messages.hpp"
#include "version.hpp"
#include "warnings.hpp"
#include "watch.hpp"

#include <warren/nft.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <vector>

namespace {

using warren::cli::check_argument;
using warren::cli::UsageError;
namespace nft = warren::nft;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

struct Arguments {
    std::string task;
    std::vector<std::string> ips;
    std::vector<std::string> specs;
    std::string name;
    warren::cli::AccessArguments access;
    bool json = false;
    bool yes = false;
    bool counters = false;
    bool add = false;
    std::vector<std::string> remove;  // unpublish --port
    // publish --ingress, drain
    bool ingress = false;
    std::vector<std::string> backends;
    std::string deadline;
    bool no_wait = false;  // drain --deadline
    std::string masquerade = "always";
    bool wildcard_on_localhost = false;
    bool skip_address_check = false;
    // list's filters and -q
    std::string port;
    std::string protocol;
    std::string address;
    bool quiet = false;
};

// A required option left out, named with what it takes. `command` may name a form of a command
// ("publish --ingress"); its help is the command's.
void require(const CLI::Option* option, std::string_view command, std::string_view what)
{
    if (option->count() == 0)
        throw UsageError(std::string(command) + " needs " + warren::cli::option_names(*option) + " " + option->get_type_name() +
                         " (" + std::string(what) + "); see 'warren-nft " + std::string(command.substr(0, command.find(' '))) +
                         " --help'");
}

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
        .logger = warnings.held(),
        .check_host_addresses = !args.skip_address_check};
}

void check_masquerade(const Arguments& args)
{
    if (args.masquerade != "always" && args.masquerade != "when-needed")
        throw UsageError("--masquerade: " + nft::quote(args.masquerade) +
                         " is no masquerading mode; use always (the default) or when-needed");
}

void print_ports(const Arguments& args, const std::vector<nft::PortMapping>& ports)
{
    std::cout << (args.json ? warren::cli::format_published_json(ports) : warren::cli::format_published_text(ports))
              << std::flush;
}

int publish(const Arguments& args)
{
    // Checked before the publisher opens its socket: a usage error never reaches the kernel.
    check_argument("--task", [&] { nft::validate_task_id(args.task); });
    const auto container = warren::cli::parse_container_addresses(args.ips);
    check_argument("--name", [&] { nft::validate_port_name(args.name); });
    check_masquerade(args);
    const auto access = warren::cli::parse_access_policy(args.access);
    std::vector<nft::PortMapping> ports;
    for (const auto& value : args.specs) {
        const auto named = warren::cli::split_port_name(value);
        for (auto& mapping : warren::cli::parse_port_spec(named.spec)) {
            warren::cli::check_host_family(named.spec, mapping, container);
            mapping.name = named.name.empty() ? args.name : named.name;
            mapping.access = access;
            warren::cli::check_allow_families(named.spec, mapping, container);
            ports.push_back(std::move(mapping));
        }
    }
    check_argument("-p", [&] { nft::validate_ports(ports); });
    // Without --counters a table that counts keeps counting: the flag only ever turns counting on.
    const warren::cli::Warnings warnings(args.json);
    std::vector<nft::PortMapping> published;
    {
        nft::HostPortPublisher publisher(changing_publisher(args, warnings));
        published =
            args.add ? publisher.add_ports(args.task, container, ports) : publisher.publish_ports(args.task, container, ports);
    }  // its conntrack cleanup done: every warning is in
    warnings.print();
    print_ports(args, published);
    return exit_ok;
}

// The options of publish that an ingress service has no use for, each with its reason.
struct IngressMisfit {
    const CLI::Option* option;
    std::string_view why;
};

// publish --ingress: checked as a publish is, before the publisher opens its socket.
int publish_ingress(const Arguments& args, std::span<const IngressMisfit> misfits)
{
    for (const auto& misfit : misfits)
        if (misfit.option->count() != 0)
            throw UsageError("publish --ingress takes no " + warren::cli::option_names(*misfit.option) + ": " +
                             std::string(misfit.why));
    check_argument("--task", [&] { nft::validate_task_id(args.task); });
    check_masquerade(args);
    std::vector<nft::PortMapping> ports;
    for (const auto& value : args.specs) {
        if (value.find('=') != std::string::npos)
            throw UsageError("-p " + nft::quote(value) +
                             ": an ingress port has no name; give HOST_PORT:CONTAINER_PORT[/tcp|udp|sctp] without NAME=");
        for (auto& mapping : warren::cli::parse_port_spec(value)) {
            if (!mapping.host_ip.empty())
                throw UsageError("-p " + nft::quote(value) +
                                 ": an ingress port is published on every address of the backends' families; leave "
                                 "HOST_IP out (8080:80)");
            if (mapping.host_port == 0)
                throw UsageError("-p " + nft::quote(value) +
                                 ": an ingress port needs its host port; give HOST_PORT:CONTAINER_PORT (8080:80)");
            mapping.publish_mode = nft::PublishMode::ingress;
            ports.push_back(std::move(mapping));
        }
    }
    std::vector<nft::IngressBackend> backends;
    for (const auto& value : args.backends)
        backends.push_back(warren::cli::parse_backend(value));
    const warren::cli::Warnings warnings(args.json);
    std::vector<nft::IngressService> services;
    {
        nft::HostPortPublisher publisher(changing_publisher(args, warnings));
        publisher.publish_ingress(args.task, ports, backends);
        services = publisher.ingress_services();
    }  // its conntrack cleanup done: every warning is in
    warnings.print();
    std::erase_if(services, [&](const nft::IngressService& service) { return service.service != args.task; });
    const auto listed = warren::cli::ingress_ports(services);
    std::cout << (args.json ? warren::cli::format_ingress_json(listed) : warren::cli::format_ingress_table(listed)) << std::flush;
    return exit_ok;
}

// drain: marks one backend of a service draining, with its deadline from now. With a deadline it
// waits for it and ends the backend's remaining connections then (docs/cli.md), unless --no-wait.
int drain(const Arguments& args, bool with_deadline)
{
    check_argument("--task", [&] { nft::validate_task_id(args.task); });
    check_masquerade(args);
    if (args.backends.size() != 1)
        throw UsageError("drain: --backend takes one backend; drain each of them with a command of its own");
    if (args.no_wait && !with_deadline)
        throw UsageError("drain: --no-wait goes with --deadline: without one there is nothing to wait for");
    const auto backend = warren::cli::parse_backend_address("--backend", args.backends.front());
    std::optional<std::chrono::sys_seconds> deadline;
    if (with_deadline)
        deadline = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) +
                   warren::cli::parse_duration(args.deadline);
    const bool waits = deadline && !args.no_wait;
    // Before the publisher starts its threads, which inherit the mask.
    const auto signals = waits ? std::optional(warren::cli::block_stop_signals()) : std::nullopt;
    const warren::cli::Warnings warnings(args.json);
    std::vector<nft::IngressService> services;
    {
        nft::HostPortPublisher publisher(changing_publisher(args, warnings));
        publisher.drain_backend(args.task, backend.address, backend.port, deadline);
        if (args.json)
            services = publisher.ingress_services();
        if (waits) {
            if (!args.json)
                std::cerr << "warren-nft: drain: " << args.backends.front() << " gets no new connections; waiting until "
                          << warren::cli::utc_time(*deadline) << " to end its connections (SIGINT or SIGTERM stops waiting)"
                          << std::endl;
            if (const auto signal = warren::cli::wait_for_stop_until(*signals, *deadline)) {
                warnings.held()(nft::LogLevel::warning,
                                std::string("stopped waiting for the deadline (") + warren::cli::stop_signal_name(*signal) +
                                    "): the backend stays draining, and its connections are ended at the deadline by a "
                                    "warren-nft publisher running then, or by the next one to start after it");
            } else {
                publisher.wait_for_conntrack_cleanup();
            }
        }
    }  // its conntrack cleanup done: every warning is in
    warnings.print();
    if (args.json) {
        std::erase_if(services, [&](const nft::IngressService& service) { return service.service != args.task; });
        std::cout << warren::cli::format_ingress_json(warren::cli::ingress_ports(services)) << std::flush;
    }
    return exit_ok;
}

int unpublish(const Arguments& args)
{
    check_argument("--task", [&] { nft::validate_task_id(args.task); });
    check_masquerade(args);
    std::vector<nft::PortMapping> named;
    for (const auto& value : args.remove)
        for (auto& mapping : warren::cli::parse_host_port_spec(value))
            named.push_back(std::move(mapping));
    const warren::cli::Warnings warnings(args.json);
    std::vector<nft::PortMapping> left;
    {
        nft::HostPortPublisher publisher(changing_publisher(args, warnings));
        if (named.empty())
            publisher.unpublish_ports(args.task);
        else
            left = publisher.remove_ports(args.task, named);
    }  // its conntrack cleanup done: every warning is in
    warnings.print();
    if (args.json)
        print_ports(args, left);
    return exit_ok;
}

int list(const Arguments& args, const warren::cli::ListFilter& filter)
{
    nft::HostPortPublisher publisher;
    auto ports = publisher.all_published_ports();
    // Ingress ports are listed from ingress_services(), with their backends, instead of as the
    // claims all_published_ports() gives for them.
    std::erase_if(ports, [&](const nft::PublishedPort& port) {
        return port.mapping.publish_mode == nft::PublishMode::ingress || !filter.matches(port);
    });
    warren::cli::sort_for_listing(ports);
    auto ingress = warren::cli::ingress_ports(publisher.ingress_services());
    std::erase_if(ingress, [&](const warren::cli::ListedIngressPort& port) { return !filter.matches(port); });
    if (args.quiet) {
        std::cout << warren::cli::format_task_ids(ports, ingress) << std::flush;
        return exit_ok;
    }
    // Empty when the table does not count (publish --counters turns counting on). Read after the
    // ports: in a table that counts, a listed port lacks counters only if its destination went in
    // between.
    const auto counters = publisher.destination_counters();
    if (args.json)
        std::cout << warren::cli::format_json(ports, counters, ingress);
    else if (ingress.empty())
        std::cout << warren::cli::format_table(ports, counters);
    else
        std::cout << warren::cli::format_table(ports, counters) << "\n" << warren::cli::format_ingress_table(ingress);
    std::cout << std::flush;
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
            "run 'warren-nft flush --yes' (or -y) to confirm");
    nft::HostPortPublisher publisher;
    publisher.remove_table();
    return exit_ok;
}

// Whether the command line asks for JSON: read before CLI11 parses it, so that a command line it
// refuses is reported as JSON too.
bool asks_for_json(int argc, char* argv[])
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--")
            return false;
        if (arg == "--json")
            return true;
    }
    return false;
}

}  // namespace

int main(int argc, char* argv[])
{
    CLI::App app{
        "Publishes container ports on the host with nftables (tables ip warren and ip6 warren).\n"
        "Exit status: 0 ok, 1 operation failed, 2 usage error.",
        "warren-nft"};
    app.set_version_flag("--version", "warren-nft " WARREN_NFT_VERSION);
    // Every argument CLI11 cannot place is kept and named by warren::cli::misplaced_argument(), and
    // required options are checked here, so that each message says what is wrong in docs/cli.md's words.
    app.allow_extras();
    Arguments args;
    const bool json = asks_for_json(argc, argv);

    auto* publish_cmd = app.add_subcommand("publish",
                                           "Publish ports of a task in one atomic transaction "
                                           "(replacing the ports it published before, or with --add beside them)");
    auto* publish_task =
        publish_cmd->add_option("--task", args.task, "Task id (letters, digits, - _ . : @ / +; at most 64)")->type_name("ID");
    auto* publish_ip = publish_cmd
                           ->add_option("--ip", args.ips,
                                        "The container's IPv4 or IPv6 address; give it twice, once per family, "
                                        "for a dual-stack container")
                           ->type_name("CONTAINER_IP")
                           ->expected(1)
                           ->allow_extra_args(false)
                           ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    auto* publish_p = publish_cmd
                          ->add_option("-p,--publish", args.specs,
                                       "[NAME=][[HOST_IP:]HOST_PORT[-LAST]:]CONTAINER_PORT[-LAST][/tcp|udp|sctp]; "
                                       "HOST_IP empty: every address of the container's families, 0.0.0.0: every "
                                       "IPv4, [::]: every IPv6 address; HOST_PORT left out, empty or 0 (80, "
                                       "127.0.0.1::80, 0:80): a free host port; NAME= names these ports; repeat for "
                                       "more ports")
                          ->type_name("SPEC")
                          ->expected(1)
                          ->allow_extra_args(false)
                          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    auto* publish_name =
        publish_cmd->add_option("--name", args.name, "A name for the ports of every -p without NAME=, shown in list and nft")
            ->type_name("NAME");
    auto* publish_add = publish_cmd->add_flag("--add", args.add,
                                              "Publish these ports beside the task's other ports (one with the same host port, "
                                              "protocol and address replaces it), in one transaction");
    auto* publish_allow =
        publish_cmd
            ->add_option("--allow", args.access.allow,
                         "Only these sources may connect: a CIDR or address of either family (10.0.0.0/8, "
                         "2001:db8::/32, 192.0.2.7); repeat for more; every -p of the command, each family it is "
                         "published in needs one")
            ->type_name("CIDR")
            ->expected(1)
            ->allow_extra_args(false)
            ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    auto* publish_max_connections = publish_cmd
                                        ->add_option("--max-connections", args.access.max_connections,
                                                     "At most N connections open at once to each port of the command (ct count)")
                                        ->type_name("N");
    auto* publish_rate = publish_cmd
                             ->add_option("--rate", args.access.rate,
                                          "At most N new connections per second, minute or hour to each port, up to N at once "
                                          "(N/second, N/minute, N/hour)")
                             ->type_name("N/UNIT");
    auto* publish_skip_check =
        publish_cmd->add_flag("--skip-address-check", args.skip_address_check,
                              "Publish on a HOST_IP that no interface of the host has (yet): without it such a "
                              "publish is refused, since nothing would arrive there");
    auto* publish_ingress_flag =
        publish_cmd->add_flag("--ingress", args.ingress,
                              "Publish the -p ports of ingress service --task: each new connection goes to one of its "
                              "--backend addresses, in proportion to their weights (publishing again replaces them)");
    auto* publish_backend = publish_cmd
                                ->add_option("--backend", args.backends,
                                             "With --ingress: a backend, ADDRESS[:PORT][,weight=W] (IPv6 in brackets "
                                             "with a port: [fd00::5]:8080); PORT left out: the -p container port; "
                                             "W 1-256, default 1; repeat for more")
                                ->type_name("BACKEND")
                                ->expected(1)
                                ->allow_extra_args(false)
                                ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    publish_cmd->add_flag("--counters", args.counters,
                          "Count packets and bytes per destination, shown by list: creates the table counting, "
                          "or adds counters to a table without them");

    auto* unpublish_cmd = app.add_subcommand("unpublish",
                                             "Remove every port of a task, or with --port some of them, in one "
                                             "transaction (not an error if it has none)");
    auto* unpublish_task = unpublish_cmd->add_option("--task", args.task, "Task id")->type_name("ID");
    unpublish_cmd
        ->add_option("--port", args.remove,
                     "[HOST_IP:]HOST_PORT[-LAST][/tcp|udp|sctp]: remove only this host port of the task (HOST_IP "
                     "empty, 0.0.0.0 or [::]: the port on every address); repeat for more")
        ->type_name("PORT_SPEC")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    auto* drain_cmd = app.add_subcommand("drain",
                                         "Drain a backend of an ingress service in one transaction: it gets no new "
                                         "connections, its established ones keep going");
    auto* drain_task = drain_cmd->add_option("--task", args.task, "Ingress service id")->type_name("ID");
    auto* drain_backend = drain_cmd
                              ->add_option("--backend", args.backends,
                                           "The backend, ADDRESS or ADDRESS:PORT ([fd00::5]:8080 for IPv6); without "
                                           "PORT, every port of that address")
                              ->type_name("BACKEND")
                              ->expected(1)
                              ->allow_extra_args(false)
                              ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    auto* drain_deadline = drain_cmd
                               ->add_option("--deadline", args.deadline,
                                            "End the backend's remaining connections this long from now (30s, 5m, 2h; at "
                                            "most 8760h): waits until then, unless --no-wait")
                               ->type_name("DURATION");
    drain_cmd->add_flag("--no-wait", args.no_wait,
                        "With --deadline: return at once, and leave ending the connections to a warren-nft publisher "
                        "running at the deadline, or to the next one to start after it");
    drain_cmd->add_flag("--json", args.json,
                        "Print the service's ports and backends as a JSON array, and errors as JSON (see docs/cli.md)");

    // A change rewrites the tables' fixed rules to the publisher's settings.
    for (auto* changing : {publish_cmd, unpublish_cmd, drain_cmd}) {
        changing
            ->add_option("--masquerade", args.masquerade,
                         "always (default): every connection comes from the host's address; when-needed: "
                         "only connections from the host and hairpin ones, others keep the client's address. "
                         "Rewrites the tables' rules: give what the host's agent uses")
            ->type_name("MODE");
        changing->add_flag("--wildcard-on-localhost", args.wildcard_on_localhost,
                           "Publish ports on every IPv4 address on 127.0.0.1 too (a host service there is then "
                           "unreachable on that port). Rewrites the tables' rules: give what the host's agent uses");
    }
    publish_cmd->add_flag("--json", args.json, "Print the published ports as a JSON array, and errors as JSON (see docs/cli.md)");
    unpublish_cmd->add_flag("--json", args.json,
                            "Print the ports the task still publishes as a JSON array, and errors as JSON "
                            "(see docs/cli.md)");

    auto* list_cmd = app.add_subcommand("list", "Show published ports");
    auto* list_task = list_cmd->add_option("--task", args.task, "Only this task's ports")->type_name("ID");
    auto* list_port = list_cmd->add_option("--port", args.port, "Only ports with this host port")->type_name("PORT");
    auto* list_protocol =
        list_cmd->add_option("--protocol", args.protocol, "Only ports of this protocol: tcp, udp or sctp")->type_name("PROTOCOL");
    auto* list_address = list_cmd
                             ->add_option("--address", args.address,
                                          "Only ports bound to this host address or leading to this container "
                                          "address (0.0.0.0, ::: the ports on every address of the family)")
                             ->type_name("ADDRESS");
    list_cmd->add_flag("-q,--quiet", args.quiet, "Print only the task ids of the ports, once each");
    list_cmd->add_flag("--json", args.json, "Print a JSON array, and errors as JSON (see docs/cli.md)");

    auto* flush_cmd = app.add_subcommand("flush", "Remove tables ip warren and ip6 warren and every published port");
    flush_cmd->add_flag("-y,--yes", args.yes, "Confirm");
    flush_cmd->add_flag("--json", args.json, "Print errors as JSON (see docs/cli.md)");

    auto* metrics_cmd = app.add_subcommand("metrics",
                                           "Print the ports published and the destination counters in the "
                                           "Prometheus text format (for a node exporter's textfile collector)");

    auto* doctor_cmd = app.add_subcommand("doctor",
                                          "Check the host for what published ports need; one line per "
                                          "check (OK, WARN or FAIL), exit status 1 on any FAIL");
    doctor_cmd->add_flag("--json", args.json, "Print the checks as one JSON object, and errors as JSON (see docs/cli.md)");

    auto* watch_cmd = app.add_subcommand("watch",
                                         "Keep every task now in table ip warren published: repair it at "
                                         "once when others damage it, one line per repair, until "
                                         "SIGINT or SIGTERM (an unpublish from elsewhere is undone too)");
    watch_cmd->add_flag("--counters", args.counters,
                        "Make the table count packets and bytes per destination "
                        "when it is repaired, as publish --counters does");
    watch_cmd->add_flag("--json", args.json, "Print one JSON object per line, and errors as JSON (see docs/cli.md)");
    // The docs' words in --help too: commands, not subcommands.
    app.get_formatter()->label("SUBCOMMAND", "COMMAND");
    for (auto* command : app.get_subcommands([](CLI::App*) { return true; })) {
        command->allow_extras();
        command->group("Commands");
    }

    const auto usage_error = [&](const std::string& message) {
        warren::cli::report_error(std::cerr, json, warren::cli::usage_code, message);
        return exit_usage;
    };
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return app.exit(e);
        return usage_error(warren::cli::refused_option(app, e));
    }
    if (const auto misplaced = warren::cli::misplaced_argument(app); !misplaced.empty())
        return usage_error(misplaced);

    const auto* command = app.get_subcommands().front();
    try {
        if (publish_cmd->parsed() && publish_ingress_flag->count() != 0) {
            require(publish_task, "publish --ingress", "the service whose ports these are");
            require(publish_p, "publish --ingress", "a port to publish");
            require(publish_backend, "publish --ingress", "a backend of the service");
            const IngressMisfit misfits[] = {
                {publish_ip, "an ingress service has no container address; give its backends with --backend"},
                {publish_name, "an ingress port has no name"},
                {publish_add, "publishing an ingress service again replaces its ports and backends"},
                {publish_allow, "an ingress port has no access policy"},
                {publish_max_connections, "an ingress port has no access policy"},
                {publish_rate, "an ingress port has no access policy"},
                {publish_skip_check, "an ingress port is published on every address, never on one"}};
            return publish_ingress(args, misfits);
        }
        if (publish_cmd->parsed()) {
            if (publish_backend->count() != 0)
                throw UsageError(
                    "--backend: only publish --ingress takes backends; give --ingress to publish the "
                    "ports of an ingress service, or --ip for a task's container");
            require(publish_task, "publish", "the task whose ports these are");
            require(publish_ip, "publish", "the container's address");
            require(publish_p, "publish", "a port to publish");
            return publish(args);
        }
        if (unpublish_cmd->parsed()) {
            require(unpublish_task, "unpublish", "the task whose ports to remove");
            return unpublish(args);
        }
        if (drain_cmd->parsed()) {
            require(drain_task, "drain", "the ingress service whose backend to drain");
            require(drain_backend, "drain", "the backend to drain");
            return drain(args, drain_deadline->count() != 0);
        }
        if (list_cmd->parsed()) {
            if (args.quiet && args.json)
                throw UsageError("list: -q prints task ids, --json every port's members; give one of them");
            return list(args, warren::cli::parse_list_filter({.task = list_task->count() ? &args.task : nullptr,
                                                              .port = list_port->count() ? &args.port : nullptr,
                                                              .protocol = list_protocol->count() ? &args.protocol : nullptr,
                                                              .address = list_address->count() ? &args.address : nullptr}));
        }
        if (flush_cmd->parsed())
            return flush(args);
        if (metrics_cmd->parsed())
            return metrics();
        if (doctor_cmd->parsed())
            return warren::cli::run_doctor(std::cout, args.json);
        if (watch_cmd->parsed())
            return warren::cli::run_watch({.counters = args.counters, .json = args.json}, std::cout);
        return exit_usage;
    } catch (const UsageError& e) {
        return usage_error(e.what());
    } catch (const nft::Error& e) {
        const auto condition = static_cast<nft::errc>(e.code().value());
        warren::cli::report_error(std::cerr, json, warren::cli::error_code_name(condition),
                                  warren::cli::operator_message(command->get_name(), e));
        return condition == nft::errc::invalid_argument ? exit_usage : exit_failed;
    } catch (const std::exception& e) {
        warren::cli::report_error(std::cerr, json, warren::cli::other_code, e.what());
        return exit_failed;
    }
}
