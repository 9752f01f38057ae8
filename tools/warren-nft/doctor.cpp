// SPDX-License-Identifier: Apache-2.0
// `warren-nft doctor`: the checks of nf_tables, table ip warren, sysctls and modules, and other
// nftables forward chains; the iptables-legacy check (doctor_legacy.cpp) and the DNAT conflict check
// (doctor_conflicts.cpp, doctor_nat_nft.cpp) have files of their own.
#include "doctor.hpp"

#include "doctor_adoption.hpp"
#include "doctor_legacy.hpp"
#include "doctor_nat.hpp"
#include "doctor_report.hpp"
#include "doctor_ruleset.hpp"

#include <warren/nft.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace warren::cli {

namespace {

using doctor::objects;
using doctor::Report;
using doctor::text;
using nlohmann::json;

// `nft -j list ruleset`, parsed; nullopt (with the reason in `error`) when it cannot be had.
std::optional<json> read_ruleset(std::string& error)
{
    const auto output = doctor::run_tool("nft", "-j list ruleset", error);
    if (!output)
        return std::nullopt;
    try {
        return json::parse(*output);
    } catch (const json::exception& e) {
        error = std::string(
                    "nft -j list ruleset printed no valid JSON (nft 1.0.6 does so for a table with flags, "
                    "such as a dormant one): ") +
                e.what();
        return std::nullopt;
    }
}

struct Chain {
    std::string family, table, name, type, hook, policy;
};

std::vector<Chain> chains(const json& ruleset)
{
    std::vector<Chain> out;
    for (const auto* chain : objects(ruleset, "chain"))
        out.push_back(Chain{text(*chain, "family"), text(*chain, "table"), text(*chain, "name"), text(*chain, "type"),
                            text(*chain, "hook"), text(*chain, "policy")});
    return out;
}

// The chains of table ip warren that hold at least one of warren-nft's fixed rules.
std::set<std::string> warren_rule_chains(const json& ruleset)
{
    std::set<std::string> out;
    for (const auto* rule : objects(ruleset, "rule"))
        if (text(*rule, "family") == "ip" && text(*rule, "table") == "warren" &&
            text(*rule, "comment").starts_with("warren-nft: "))
            out.insert(text(*rule, "chain"));
    return out;
}

bool table_exists(const json& ruleset)
{
    for (const auto* table : objects(ruleset, "table"))
        if (text(*table, "family") == "ip" && text(*table, "name") == "warren")
            return true;
    return false;
}

// Whether table ip warren counts packets and bytes per destination: it holds a set backends declared
// with a counter, which nft shows as {"set": {..., "stmt": [{"counter": null}]}}. A table that does
// not count has no backends set (older versions wrote one without a counter).
bool table_counts(const json& ruleset)
{
    for (const auto* set : objects(ruleset, "set")) {
        if (text(*set, "family") != "ip" || text(*set, "table") != "warren" || text(*set, "name") != "backends")
            continue;
        if (const auto statements = set->find("stmt"); statements != set->end() && statements->is_array())
            for (const auto& statement : *statements)
                if (statement.is_object() && statement.contains("counter"))
                    return true;
        return false;
    }
    return false;
}

}  // namespace

int run_doctor(std::ostream& out)
{
    Report report(out);

    std::string ruleset_error;
    const auto ruleset = read_ruleset(ruleset_error);
    const bool have_table = ruleset && table_exists(*ruleset);

    // Table ip warren as nft shows it: the base chains it lacks, and those without their fixed rules
    // (recognised by their "warren-nft: " comments; `nft flush table ip warren` deletes them).
    std::string missing, unruled;
    if (ruleset && have_table) {
        std::map<std::string, std::string> hooks;
        for (const auto& chain : chains(*ruleset))
            if (chain.family == "ip" && chain.table == "warren")
                hooks[chain.name] = chain.hook;
        const auto ruled = warren_rule_chains(*ruleset);
        for (const char* name : {"prerouting", "output", "postrouting", "forward"}) {
            if (const auto it = hooks.find(name); it == hooks.end() || it->second != name)
                missing += (missing.empty() ? "" : ", ") + std::string(name);
            else if (!ruled.contains(name))
                unruled += (unruled.empty() ? "" : ", ") + std::string(name);
        }
    }
    const bool complete = have_table && missing.empty() && unruled.empty();

    // What a publisher repairs (a dormant table, a chain's policy drop) or refuses to touch. Read also
    // where the JSON could not be, which may be the table's own doing (see doctor_adoption.hpp).
    std::vector<doctor::AdoptionProblem> adoption;
    if (have_table || !ruleset) {
        std::string listing_error;
        if (const auto listing = doctor::run_tool("nft", "-t list table ip warren", listing_error))
            adoption = doctor::adoption_problems(*listing);
        else if (have_table)
            report.warn("cannot read table ip warren (" + listing_error + "); its flags and policies are not checked");
    }
    const bool refused = std::any_of(adoption.begin(), adoption.end(), [](const auto& p) { return p.refused; });

    // nf_tables: the library's own netlink socket, but only where that certainly changes nothing: when
    // the table is complete (a publisher may create a missing table or complete a damaged one). What it
    // reads is what the conflict check compares; nullopt when the published ports are unknown. Nor
    // where a publisher refuses the table: it would report that as nf_tables failing.
    std::optional<std::vector<nft::PublishedPort>> published;
    std::optional<bool> map_lookups;  // KernelFeatures::map_lookups, when the publisher was asked
    if (ruleset && !have_table)
        published.emplace();
    if (!ruleset)
        report.warn("cannot read the ruleset (" + ruleset_error + "); the checks of the ruleset are skipped");
    if (!refused && (complete || !ruleset)) {
        try {
            nft::HostPortPublisher publisher;
            published = publisher.all_published_ports();
            map_lookups = publisher.kernel_features().map_lookups;
            report.ok("nf_tables answers warren-nft over netlink; " + std::to_string(published->size()) + " port(s) published");
        } catch (const nft::Error& e) {
            report.fail(std::string("nf_tables cannot be used: ") + e.what());
        }
    } else {
        report.ok(std::string("nf_tables answers (nft lists ") + (ruleset ? "the ruleset)" : "table ip warren)"));
    }

    if (ruleset) {
        const std::string repair =
            "the next warren-nft publish restores them (publishing a task's ports again as "
            "they are is enough)";
        if (!have_table)
            report.ok("table ip warren does not exist yet: nothing is published; the first publish creates it");
        else if (complete)
            report.ok("table ip warren has its chains prerouting, output, postrouting and forward, with their rules");
        if (!missing.empty())
            report.fail("table ip warren lacks the base chain(s) " + missing + ", so published ports do not work; " + repair);
        if (!unruled.empty())
            report.fail("the chain(s) " + unruled +
                        " of table ip warren lack their rules (as after nft flush table "
                        "ip warren), so published ports do not work; " +
                        repair);
        // Information, not a problem: counting is a choice (PublisherOptions::counters), off by default.
        if (have_table) {
            if (table_counts(*ruleset))
                report.ok("table ip warren counts packets and bytes per destination (warren-nft list shows them)");
            else if (map_lookups == false)
                report.ok(
                    "table ip warren does not count packets and bytes per destination yet; this kernel cannot "
                    "look ports up in a map alone, so the next change of published ports makes it count");
            else
                report.ok(
                    "table ip warren does not count packets and bytes per destination, so warren-nft list shows - "
                    "for them (off by default; publish with --counters, or PublisherOptions::counters, to turn "
                    "counting on)");
        }
    }
    for (const auto& problem : adoption)
        report.fail(problem.text);

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

    if (ruleset) {
        bool found = false;
        for (const auto& chain : chains(*ruleset)) {
            if (chain.hook != "forward" || chain.policy != "drop" || (chain.family != "ip" && chain.family != "inet"))
                continue;
            if (chain.family == "ip" && chain.table == "warren" && chain.name == "forward")
                continue;  // ours: a FAIL above
            found = true;
            report.warn("chain " + chain.family + " " + chain.table + " " + chain.name +
                        " (hook forward, policy drop) drops forwarded traffic its own rules do not accept, including "
                        "traffic to published ports; fix: add 'ct status dnat accept' to it, or set its policy to accept");
        }
        if (!found)
            report.ok("no other forward chain of nftables or iptables-nft has policy drop");
    }

    const auto legacy = doctor::read_iptables_legacy();
    doctor::check_iptables_legacy(report, legacy);

    if (!published) {
        report.warn(
            "DNAT rules of other tables are not compared with the published ports, which could not be "
            "read (see above); run warren-nft doctor again once that is fixed");
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
    return report.failed() ? 1 : 0;
}

}  // namespace warren::cli
