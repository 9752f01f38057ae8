// SPDX-License-Identifier: Apache-2.0
// The conflict check: follows every NAT base chain on the prerouting and output hooks through its
// jumps to the DNAT and redirect rules it reaches, and compares each with the published ports.
#include "doctor_nat.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace warren::cli::doctor {

namespace {

// A NAT rule together with the way to it from a base chain.
struct Finding {
    const NatTable* table = nullptr;
    std::string root;  // the base chain
    const NatChain* root_chain = nullptr;
    std::vector<std::string> via;  // the chains jumped to, in order; empty when the rule is in root
    const NatRule* rule = nullptr;
    std::vector<Condition> conditions;  // of the jumps that lead here, and of the rule
    std::vector<std::string> others;
    std::vector<AddressCondition> address_conditions;
    std::vector<const NatRule*> earlier;  // rules before it in root that act (only when in root)
};

struct Path {
    std::vector<Condition> conditions;
    std::vector<std::string> others;
    std::vector<AddressCondition> address_conditions;
    std::vector<std::string> via;
};

void visit(const NatTable& table, const std::string& root, const std::string& name, const Path& path, std::vector<Finding>& out)
{
    const auto it = table.chains.find(name);
    if (it == table.chains.end() || path.via.size() > 16)
        return;
    std::vector<const NatRule*> earlier;
    for (const auto& rule : it->second.rules) {
        Path here = path;
        here.conditions.insert(here.conditions.end(), rule.conditions.begin(), rule.conditions.end());
        here.others.insert(here.others.end(), rule.others.begin(), rule.others.end());
        here.address_conditions.insert(here.address_conditions.end(), rule.address_conditions.begin(),
                                       rule.address_conditions.end());
        if (rule.action == NatRule::Action::nat) {
            Finding finding;
            finding.table = &table;
            finding.root = root;
            finding.root_chain = &table.chains.at(root);
            finding.via = path.via;
            finding.rule = &rule;
            finding.conditions = std::move(here.conditions);
            finding.others = std::move(here.others);
            finding.address_conditions = std::move(here.address_conditions);
            if (path.via.empty())
                finding.earlier = earlier;
            out.push_back(std::move(finding));
        } else if (rule.action == NatRule::Action::jump) {
            for (const auto& target : rule.targets) {
                if (target.chain == root || std::find(path.via.begin(), path.via.end(), target.chain) != path.via.end())
                    continue;  // a loop (the kernel refuses them; nothing new down there)
                Path next = here;
                if (target.condition)
                    next.conditions.push_back(target.condition);
                next.via.push_back(target.chain);
                visit(table, root, target.chain, next, out);
            }
        }
        if (rule.action != NatRule::Action::none)
            earlier.push_back(&rule);
    }
}

// Whether the rules of `table` see connections to `port`: those of an ip table and of
// iptables-legacy only IPv4 ones, those of an inet table both families. The port's family is its
// table's, that of its container address (an ingress claim's is the family's unspecified address).
bool sees(const NatTable& table, const nft::PublishedPort& port)
{
    const bool ipv4_only = table.origin == "iptables-legacy" || table.name.starts_with("ip ");
    return !ipv4_only || port.container_ip.find(':') == std::string::npos;
}

Match all_of(const std::vector<Condition>& conditions, const PortKey& key)
{
    Match result = Match::yes;
    for (const auto& condition : conditions)
        result = std::min(result, condition(key));
    return result;
}

// How surely a finding takes a published port's connections; the order is the order of severity.
enum class Grade { none, maybe, conditional, every, certain };

struct Assessment {
    Grade grade = Grade::none;
    std::vector<std::string> others;  // the conditions that restrict it, for this port
};

Assessment assess(const Finding& finding, const PortKey& key, const std::map<std::string, long>& warren_priorities)
{
    Match match = all_of(finding.conditions, key);
    Assessment out{Grade::none, finding.others};
    for (const auto& address : finding.address_conditions) {
        if (key.address.empty())
            out.others.push_back(address.description);  // a port on every address: a restriction
        else
            match = std::min(match, address.condition(key));
    }
    std::sort(out.others.begin(), out.others.end());
    out.others.erase(std::unique(out.others.begin(), out.others.end()), out.others.end());
    if (match == Match::no)
        return {Grade::none, {}};
    if (match == Match::maybe) {
        out.grade = Grade::maybe;
        return out;
    }
    if (!out.others.empty()) {
        out.grade = Grade::conditional;
        return out;
    }
    const auto& root = *finding.root_chain;
    const auto warren = warren_priorities.find(root.hook);
    const bool runs_first = warren != warren_priorities.end() && root.priority < warren->second;
    const bool nothing_before =
        finding.via.empty() && std::all_of(finding.earlier.begin(), finding.earlier.end(),
                                           [&](const NatRule* rule) { return all_of(rule->conditions, key) == Match::no; });
    out.grade = root.hook == "prerouting" && runs_first && nothing_before ? Grade::certain : Grade::every;
    return out;
}

std::string port_list(const std::vector<std::string>& ports)
{
    constexpr std::size_t shown = 5;
    if (ports.size() <= shown)
        return joined(ports);
    return joined(std::vector<std::string>(ports.begin(), ports.begin() + shown)) + " and " +
           std::to_string(ports.size() - shown) + " more";
}

std::string line(const Finding& finding, const Assessment& assessment, const std::vector<std::string>& ports,
                 const std::string& owner, const std::map<std::string, long>& warren_priorities)
{
    const auto& table = *finding.table;
    const auto& rule = *finding.rule;
    const bool legacy = table.origin == "iptables-legacy";
    const bool redirect = rule.nat.starts_with("redirect") || rule.nat.starts_with("REDIRECT");
    std::string out = (legacy ? "iptables-legacy " + table.name + " " : std::string()) + rule.where;
    if (!finding.via.empty())
        out += " (reached from base chain " + finding.root + " through " + joined(finding.via, " -> ") + ")";
    const std::string verb = redirect ? "redirects" : "DNATs";
    const std::string list = port_list(ports);
    const auto grade = assessment.grade;
    switch (grade) {
        case Grade::maybe:
            out += " may " + std::string(redirect ? "redirect" : "DNAT") + " new connections to " + list +
                   " (it matches ports or protocols in a way the doctor does not evaluate" +
                   (assessment.others.empty() ? "" : "; also: " + joined(assessment.others)) + ")";
            break;
        case Grade::conditional:
            out += " " + verb + " new connections to " + list + " that also match " + joined(assessment.others);
            break;
        default: out += " " + verb + " every new connection to " + list; break;
    }
    const auto& root = *finding.root_chain;
    const long warren = warren_priorities.count(root.hook) ? warren_priorities.at(root.hook) : -100;
    const std::string chain =
        "its chain " + finding.root + " (hook " + root.hook + ", priority " + std::to_string(root.priority) + ")";
    if (grade == Grade::certain)
        out += "; " + chain + " runs before warren's (priority " + std::to_string(warren) +
               "), so connections to these ports from other hosts never reach the containers";
    else if (root.priority < warren)
        out += "; " + chain + " runs before warren's (priority " + std::to_string(warren) +
               "): whenever it matches, warren's DNAT is skipped";
    else if (root.priority == warren)
        out += "; " + chain +
               " has the priority of warren's, so which DNAT a connection gets depends on the order "
               "the chains were created";
    else
        out += "; " + chain + " runs after warren's (priority " + std::to_string(warren) +
               "), so warren's DNAT wins for connections to the host's own addresses and the rule does not work for them";
    out +=
        "; fix: stop publishing the port in the program that added the rule (Docker: the container's -p), or "
        "delete the rule (" +
        rule.remove + "), or publish " + owner + " on another host port";
    return out;
}

}  // namespace

void check_dnat_conflicts(Report& report, const std::vector<nft::PublishedPort>& published,
                          const std::map<std::string, long>& warren_priorities, const std::vector<NatTable>& tables,
                          const std::vector<std::string>& not_read)
{
    std::vector<Finding> findings;
    for (const auto& table : tables)
        for (const auto& [name, chain] : table.chains)
            if (!chain.hook.empty())
                visit(table, name, name, Path{}, findings);
    std::set<const NatRule*> rules;
    for (const auto& finding : findings)
        rules.insert(finding.rule);
    const std::string unread = not_read.empty() ? "" : "; not read: " + joined(not_read);
    const std::string found = std::to_string(rules.size()) + " DNAT or redirect rule(s) elsewhere" + unread;
    if (published.empty()) {
        report.ok("nothing is published, so no DNAT rule outside table ip warren can take a published port (" + found + ")");
        return;
    }

    // Per rule and assessment, the published ports; a rule reached on several ways counts its surest.
    struct Entry {
        const Finding* finding;
        Assessment assessment;
        std::vector<std::string> ports;
        std::vector<const nft::PublishedPort*> published;
    };
    using Key = std::tuple<const NatRule*, Grade, std::vector<std::string>>;
    std::map<Key, Entry> entries;
    std::vector<Key> order;
    for (const auto& port : published) {
        const PortKey key{std::string(nft::to_string(port.mapping.protocol)), port.mapping.host_port, port.mapping.host_ip};
        std::map<const NatRule*, std::pair<Assessment, const Finding*>> best;
        for (const auto& finding : findings) {
            if (!sees(*finding.table, port))
                continue;
            auto assessment = assess(finding, key, warren_priorities);
            auto& b = best[finding.rule];
            if (assessment.grade > b.first.grade)
                b = {std::move(assessment), &finding};
        }
        for (const auto& [rule, b] : best) {
            if (b.first.grade == Grade::none)
                continue;
            Key k{rule, b.first.grade, b.first.others};
            auto [it, inserted] = entries.try_emplace(k, Entry{b.second, b.first, {}, {}});
            if (inserted)
                order.push_back(k);
            it->second.ports.push_back(key.protocol + " port " + std::to_string(key.port) +
                                       (key.address.empty() ? "" : " on " + key.address) + " (" + owner_of(port) + ")");
            it->second.published.push_back(&port);
        }
    }
    std::stable_sort(order.begin(), order.end(), [](const Key& a, const Key& b) { return std::get<1>(a) > std::get<1>(b); });
    for (const auto& k : order) {
        const auto& entry = entries.at(k);
        const auto text = line(*entry.finding, entry.assessment, entry.ports, movable_owner(entry.published), warren_priorities);
        if (std::get<1>(k) == Grade::certain)
            report.fail(text);
        else
            report.warn(text);
    }
    if (order.empty())
        report.ok("no DNAT or redirect rule outside table ip warren matches a published port (" + found + ")");
}

}  // namespace warren::cli::doctor
