// SPDX-License-Identifier: Apache-2.0
// `warren-nft doctor`: the checks of nf_tables, table ip warren, sysctls and modules, and the order of
// all checks. The checks of what other programs made (the other tables' forward chains, the
// iptables-legacy check, the DNAT conflict check, host addresses, hairpin mode, listening sockets)
// are the doctor library (doctor_forward.hpp, doctor_legacy.hpp, doctor_nat.hpp,
// doctor_addresses.hpp, doctor_hairpin.hpp, doctor_sockets.hpp): pure functions of what was read,
// unit-tested on fixture files.
#include "doctor.hpp"

#include "doctor_addresses.hpp"
#include "doctor_forward.hpp"
#include "doctor_hairpin.hpp"
#include "doctor_legacy.hpp"
#include "doctor_nat.hpp"
#include "doctor_report.hpp"
#include "doctor_ruleset.hpp"
#include "doctor_sockets.hpp"

#include <warren/nft.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace warren::cli {

namespace {

using doctor::Report;
using nlohmann::json;

// `nft -j list ruleset`, parsed; nullopt (with the reason in `error`) when it cannot be had.
std::optional<json> read_ruleset(std::string& error)
{
    const auto output = doctor::run_tool("nft", "-j list ruleset", error);
    if (!output)
        return std::nullopt;
    return doctor::parse_ruleset(*output, error);
}

// "chain ip warren forward has policy drop ...; fix: ...": a problem of one of our tables as one
// line, with its fix.
std::string problem_line(const nft::FamilyInspection& table, const nft::TableProblem& problem)
{
    std::string line = problem.description;
    if (!table.refusal.empty() &&
        (problem.kind == nft::TableProblemKind::other_layout || problem.kind == nft::TableProblemKind::owned_by_another_process))
        line += ", so warren-nft refuses to publish into it";
    return line + "; fix: " + problem.fix;
}

// Our tables as the library's inspection reports them: one line per problem, with its fix, or one
// that says the table is complete; whether it counts; and what the next publish changes.
void check_tables(Report& report, const nft::TableInspection& inspection)
{
    for (const auto& table : inspection.families) {
        const bool ipv4 = &table == &inspection.families[0];
        if (!table.exists) {
            report.ok(ipv4 ? "table ip warren does not exist yet: nothing is published; the first publish creates it"
                           : "table ip6 warren does not exist: no IPv6 port is published; the first IPv6 publish creates it");
            continue;
        }
        bool failed = false;
        for (const auto& problem : table.problems) {
            switch (problem.severity) {
                case nft::Severity::failure:
                    failed = true;
                    report.fail(problem_line(table, problem));
                    break;
                case nft::Severity::warning: report.warn(problem_line(table, problem)); break;
                case nft::Severity::note: report.ok(problem.description); break;
            }
        }
        std::set<std::string> tasks, services;
        for (const auto& port : table.ports)
            if (!port.task_id.empty())
                (port.mapping.publish_mode == nft::PublishMode::ingress ? services : tasks).insert(port.task_id);
        if (!failed)
            report.ok("table " + table.table +
                      " has its chains, with their rules, and its maps and sets as warren-nft writes them; it publishes " +
                      std::to_string(table.ports.size()) + " port(s) of " + std::to_string(tasks.size()) + " task(s)" +
                      (services.empty() ? "" : " and " + std::to_string(services.size()) + " ingress service(s)"));
        // Information, not a problem: counting is a choice (PublisherOptions::counters), off by default.
        if (table.counting)
            report.ok("table " + table.table + " counts packets and bytes per destination (warren-nft list shows them)");
        else if (!inspection.kernel_features.map_lookups)
            report.ok("table " + table.table +
                      " does not count packets and bytes per destination yet; this kernel cannot "
                      "look ports up in a map alone, so the next change of published ports makes it count");
        else
            report.ok("table " + table.table +
                      " does not count packets and bytes per destination, so warren-nft list shows - "
                      "for them (off by default; publish with --counters, or PublisherOptions::counters, to turn "
                      "counting on)");
    }
}

// What the host does to the published ports: their addresses, the bridges their containers are on,
// and the host's own sockets on their ports. An ingress port is on every address, and its
// containers are its backends (doctor::published_containers()).
void check_host(Report& report, const std::vector<nft::PublishedPort>& published,
                const std::vector<nft::PublishedPort>& containers)
{
    std::string address_error;
    const auto local = doctor::interface_addresses(address_error);
    if (address_error.empty()) {
        doctor::check_host_addresses(report, published, local);
        std::string bridge_error;
        if (const auto bridges = doctor::read_bridges(local, bridge_error))
            doctor::check_hairpin(report, containers, *bridges);
        else
            report.warn("the bridges' ports cannot be read (" + bridge_error +
                        "), so their hairpin mode is not checked; fix: install iproute2 (it provides bridge)");
    } else {
        report.warn("the host's addresses cannot be read (" + address_error +
                    "), so neither ports published on one address nor the hairpin mode of bridges are checked; fix: "
                    "run warren-nft doctor as root");
    }
    std::string socket_error;
    const auto sockets = doctor::read_host_sockets(socket_error);
    if (socket_error.empty())
        doctor::check_shadowed_sockets(report, published, sockets);
    else
        report.warn("the host's sockets cannot be read (" + socket_error +
                    "), so published ports are not checked against listening sockets; fix: run warren-nft doctor "
                    "where /proc is mounted");
}

// "...; fix: ..." for a publisher that cannot be made or cannot read.
std::string nf_tables_fix(const nft::Error& error)
{
    if (error.code() == nft::errc::permission_denied)
        return "run warren-nft doctor as root, or with CAP_NET_ADMIN";
    return "load nf_tables (modprobe nf_tables) or use a kernel built with it";
}

}  // namespace

int run_doctor(std::ostream& out, bool json)
{
    Report report(out, json);

    std::string ruleset_error;
    const auto ruleset = read_ruleset(ruleset_error);
    if (!ruleset)
        report.warn("cannot read the ruleset (" + ruleset_error +
                    "); the checks of other tables are skipped; fix: install nft (Debian package nftables) and run "
                    "warren-nft doctor as root; nft 1.0.6 prints no JSON for a table with flags, such as a dormant "
                    "one (see the lines of that table)");

    // Our own tables, as a publisher sees them: constructing one only probes the kernel, and
    // inspect() reads (HostPortPublisher::inspect()). What it reads is what the conflict check
    // compares; nullopt when the published ports are unknown.
    std::optional<std::vector<nft::PublishedPort>> published;
    try {
        nft::HostPortPublisher publisher;
        const auto inspection = publisher.inspect();
        published.emplace();
        for (const auto& table : inspection.families)
            published->insert(published->end(), table.ports.begin(), table.ports.end());
        report.ok("nf_tables answers warren-nft over netlink; " + std::to_string(published->size()) + " port(s) published");
        check_tables(report, inspection);
        std::vector<nft::IngressService> services;
        try {
            services = publisher.ingress_services();
        } catch (const nft::Error& e) {
            report.warn(std::string("the backends of ingress services cannot be read (") + e.what() +
                        "), so the hairpin check leaves them out; fix: see the lines of tables ip warren and ip6 warren");
        }
        check_host(report, *published, doctor::published_containers(*published, services));
    } catch (const nft::Error& e) {
        report.fail(std::string("nf_tables cannot be used: ") + e.what() + "; fix: " + nf_tables_fix(e));
    }

    const auto forward = doctor::read_first_line("/proc/sys/net/ipv4/ip_forward");
    if (forward == "1")
        report.ok("net.ipv4.ip_forward is 1");
    else
        report.fail("net.ipv4.ip_forward is " + (forward.empty() ? std::string("unreadable") : forward) +
                    ", so the host does not forward traffic to containers; fix: sysctl -w net.ipv4.ip_forward=1 "
                    "(and set it in /etc/sysctl.d/ to keep it)");

    // br_netfilter, loaded as a module or built in, registers this sysctl in every network namespace.
    const auto bridge = doctor::read_first_line("/proc/sys/net/bridge/bridge-nf-call-iptables");
    if (bridge == "1")
        report.ok("br_netfilter is loaded and net.bridge.bridge-nf-call-iptables is 1");
    else if (bridge.empty())
        report.warn(
            "br_netfilter is not loaded, so a container may not reach a port published by another container "
            "on the same bridge; fix: modprobe br_netfilter");
    else
        report.warn("net.bridge.bridge-nf-call-iptables is " + bridge +
                    ", so bridged traffic bypasses nftables and a container may not reach a port published by another "
                    "container on the same bridge; fix: sysctl -w net.bridge.bridge-nf-call-iptables=1");

    if (ruleset)
        doctor::check_forward_chains(report, *ruleset);

    const auto legacy = doctor::read_iptables_legacy();
    doctor::check_iptables_legacy(report, legacy);

    if (!published) {
        report.warn(
            "DNAT rules of other tables are not compared with the published ports, which could not be "
            "read (see above); fix: what the line above says, then run warren-nft doctor again");
    } else {
        std::vector<doctor::NatTable> tables;
        std::vector<std::string> not_read;
        if (ruleset)
            tables = doctor::nat_tables_of_ruleset(*ruleset);
        else
            not_read.push_back("the nftables ruleset");
        if (auto nat = doctor::legacy_nat_table(legacy))
            tables.push_back(std::move(*nat));
        else if (!legacy.tables)
            not_read.push_back("iptables-legacy");
        doctor::check_dnat_conflicts(
            report, *published, ruleset ? doctor::warren_nat_priorities(*ruleset) : doctor::warren_nat_priorities(json::object()),
            tables, not_read);
    }
    report.finish();
    return report.failed() ? 1 : 0;
}

}  // namespace warren::cli
