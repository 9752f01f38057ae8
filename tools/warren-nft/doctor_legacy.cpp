// SPDX-License-Identifier: Apache-2.0
#include "doctor_legacy.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace warren::cli::doctor {

namespace {

// Splits an iptables-save rule line into words; "quoted strings" (comments) are one word.
std::vector<std::string> words(const std::string& line)
{
    std::vector<std::string> out;
    std::string word;
    bool in_word = false, quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '\\' && i + 1 < line.size())
                word += line[++i];
            else if (c == '"')
                quoted = false;
            else
                word += c;
        } else if (c == '"') {
            quoted = in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word)
                out.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word)
        out.push_back(std::move(word));
    return out;
}

// An iptables port or port range ("8080", "5000:5010", ":1023", "1024:"); nullopt for a name.
std::optional<std::pair<long, long>> port_range(const std::string& text)
{
    const auto colon = text.find(':');
    const auto number = [](const std::string& s, long fallback) -> std::optional<long> {
        if (s.empty())
            return fallback;
        if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) || s.size() > 5)
            return std::nullopt;
        return std::stol(s);
    };
    const auto low = number(text.substr(0, colon), 0);
    const auto high = colon == std::string::npos ? low : number(text.substr(colon + 1), 65535);
    if (!low || !high)
        return std::nullopt;
    return std::pair{*low, *high};
}

// Whether the port is in a comma-separated list of ports and ranges (multiport).
Match in_port_list(const std::string& list, long port)
{
    Match result = Match::no;
    std::stringstream stream(list);
    std::string item;
    while (std::getline(stream, item, ',')) {
        const auto range = port_range(item);
        if (!range)
            result = Match::maybe;
        else if (port >= range->first && port <= range->second)
            return Match::yes;
    }
    return result;
}

// A rule of an iptables-save dump, reduced to what the checks need.
struct LegacyRule {
    std::string text;                                  // "-A FORWARD -p tcp ... -j DROP"
    std::vector<Condition> conditions;                 // on protocol and destination port
    std::vector<std::string> others;                   // every other match, as written ("! -i docker0", "--ctstate DNAT")
    std::vector<AddressCondition> address_conditions;  // -d
    std::string target;                                // -j or -g; "" when none

    bool unconditional() const { return conditions.empty() && others.empty() && address_conditions.empty(); }
};

LegacyRule parse_rule(const std::string& chain, const std::vector<std::string>& tokens)
{
    LegacyRule rule;
    rule.text = "-A " + chain;
    for (const auto& token : tokens)
        rule.text += " " + (token.find(' ') == std::string::npos && !token.empty() ? token : "\"" + token + "\"");
    bool negated = false;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const auto& option = tokens[i];
        const bool has_value = i + 1 < tokens.size();
        const std::string value = has_value ? tokens[i + 1] : "";
        const auto add = [&](Condition condition) {
            if (negated)
                rule.conditions.push_back([condition](const PortKey& key) { return negate(condition(key)); });
            else
                rule.conditions.push_back(std::move(condition));
        };
        if (option == "!") {
            negated = true;
            continue;
        }
        if ((option == "-j" || option == "--jump" || option == "-g" || option == "--goto") && has_value) {
            rule.target = value;
            break;  // what follows are the target's options
        }
        if ((option == "-p" || option == "--protocol") && has_value) {
            add([value](const PortKey& key) {
                if (value == "all" || value == "0")
                    return Match::yes;
                const bool numeric = !value.empty() && value.size() <= 3 &&
                                     std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
                if (numeric)
                    return std::stol(value) == protocol_number(key.protocol) ? Match::yes : Match::no;
                return value == key.protocol ? Match::yes : Match::no;
            });
            ++i;
        } else if ((option == "--dport" || option == "--destination-port") && has_value) {
            add([value](const PortKey& key) {
                const auto range = port_range(value);
                return !range ? Match::maybe : key.port >= range->first && key.port <= range->second ? Match::yes : Match::no;
            });
            ++i;
        } else if ((option == "--dports" || option == "--destination-ports") && has_value) {
            add([value](const PortKey& key) { return in_port_list(value, key.port); });
            ++i;
        } else if (option == "--ports" && has_value) {  // multiport: source or destination
            add([value](const PortKey& key) { return in_port_list(value, key.port) == Match::yes ? Match::yes : Match::maybe; });
            ++i;
        } else if ((option == "-d" || option == "--destination" || option == "--dst") && has_value) {
            Condition in = [value](const PortKey& key) { return address_in(key.address, value); };
            if (negated)
                in = [in](const PortKey& key) { return negate(in(key)); };
            rule.address_conditions.push_back({in, (negated ? "! -d " : "-d ") + value});
            ++i;
        } else if ((option == "-m" || option == "--match") && has_value) {
            ++i;  // loads the match whose options follow
        } else if (option == "--comment" && has_value) {
            ++i;
        } else {
            std::string other = negated ? "! " + option : option;
            while (i + 1 < tokens.size() && !tokens[i + 1].starts_with("-") && tokens[i + 1] != "!")
                other += " " + tokens[++i];
            rule.others.push_back(other);
        }
        negated = false;
    }
    return rule;
}

std::vector<LegacyRule> rules_of(const LegacyTable& table, const std::string& chain)
{
    std::vector<LegacyRule> out;
    for (const auto& [name, tokens] : table.rules)
        if (name == chain)
            out.push_back(parse_rule(name, tokens));
    return out;
}

bool is_user_chain(const LegacyTable& table, const std::string& chain)
{
    const auto it = table.policies.find(chain);
    return it != table.policies.end() && it->second == "-";
}

// `-m conntrack --ctstate ...DNAT... -j ACCEPT` and nothing else: accepts every packet of a DNATed
// connection, which is what published ports need from a FORWARD chain.
bool accepts_dnat(const LegacyRule& rule)
{
    if (rule.target != "ACCEPT" || !rule.conditions.empty() || !rule.address_conditions.empty() || rule.others.size() != 1 ||
        !rule.others[0].starts_with("--ctstate "))
        return false;
    std::stringstream states(rule.others[0].substr(10));
    std::string state;
    while (std::getline(states, state, ','))
        if (state == "DNAT")
            return true;
    return false;
}

// What a user chain (and the chains it jumps to) can do to a packet.
struct Reach {
    std::size_t drops = 0;  // rules that DROP or REJECT
    bool accepts = false;   // some rule ACCEPTs
};

Reach reach(const LegacyTable& table, const std::string& chain, int depth)
{
    Reach out;
    if (depth > 8)
        return Reach{1, true};  // too deep to follow: assume anything
    for (const auto& rule : rules_of(table, chain)) {
        if (rule.target == "ACCEPT")
            out.accepts = true;
        else if (rule.target == "DROP" || rule.target == "REJECT")
            ++out.drops;
        else if (is_user_chain(table, rule.target)) {
            const auto inner = reach(table, rule.target, depth + 1);
            out.drops += inner.drops;
            out.accepts = out.accepts || inner.accepts;
        }
    }
    return out;
}

// The FORWARD chain of one legacy table, as one report line; false (and no line) when it lets published
// traffic through.
bool check_forward(Report& report, const LegacyTable& table, std::vector<std::string>& accepted_first)
{
    const auto policy = table.policies.find("FORWARD");
    if (policy == table.policies.end())
        return false;
    const std::string tool = "iptables-legacy" + (table.name == "filter" ? std::string() : " -t " + table.name);
    bool accepts = false, certain = false, ended = false;
    std::string certain_reason;
    std::vector<std::string> drops;
    for (const auto& rule : rules_of(table, "FORWARD")) {
        if (accepts_dnat(rule)) {
            if (drops.empty())
                accepted_first.push_back(table.name);
            ended = true;
            break;
        }
        if (rule.target == "ACCEPT") {
            accepts = true;
        } else if (rule.target == "DROP" || rule.target == "REJECT") {
            drops.push_back("'" + rule.text + "'");
            if (rule.unconditional()) {
                if (!accepts) {
                    certain = true;
                    certain_reason = "its rule '" + rule.text + "' matches every packet";
                }
                ended = true;
                break;
            }
        } else if (is_user_chain(table, rule.target)) {
            const auto inner = reach(table, rule.target, 1);
            if (inner.drops > 0)
                drops.push_back("'" + rule.text + "', whose chain " + rule.target + " has " + std::to_string(inner.drops) +
                                " rule(s) that DROP or REJECT");
            accepts = accepts || inner.accepts;
        } else if (rule.target == "RETURN" && rule.unconditional()) {
            break;  // the policy decides
        }
    }
    const bool policy_drop = !ended && policy->second == "DROP";
    if (policy_drop && !accepts && !certain) {
        certain = true;
        certain_reason = "policy DROP and no rule that accepts anything";
    }
    if (!policy_drop && drops.empty())
        return false;
    const std::string fix = "fix: " + tool +
                            " -I FORWARD -m conntrack --ctstate DNAT -j ACCEPT (or move that "
                            "firewall to nftables)";
    const std::string hidden = "nft list ruleset does not show it, iptables-legacy-save does";
    if (certain) {
        report.fail("iptables-legacy chain " + table.name + " FORWARD drops every forwarded packet (" + certain_reason +
                    "), including connections to published ports that table ip warren accepts (" + hidden + "); " + fix);
        return true;
    }
    std::string what = policy_drop ? "has policy DROP" : "has";
    if (!drops.empty())
        what += (policy_drop ? " and " : " ") + std::to_string(drops.size()) +
                " rule(s) that DROP or REJECT (first: " + drops.front() + ")";
    report.warn("iptables-legacy chain " + table.name + " FORWARD " + what +
                ", so it may drop connections to published ports that table ip warren accepts (" + hidden + "); " + fix);
    return true;
}

}  // namespace

std::vector<LegacyTable> parse_iptables_save(const std::string& text)
{
    std::vector<LegacyTable> tables;
    std::stringstream stream(text);
    std::string line;
    while (std::getline(stream, line)) {
        if (line.starts_with("*")) {
            tables.push_back(LegacyTable{line.substr(1), {}, {}});
        } else if (tables.empty()) {
            continue;
        } else if (line.starts_with(":")) {
            const auto parts = words(line.substr(1));
            if (parts.size() >= 2)
                tables.back().policies[parts[0]] = parts[1];
        } else if (line.starts_with("-A ")) {
            auto parts = words(line);
            if (parts.size() >= 2)
                tables.back().rules.emplace_back(parts[1], std::vector<std::string>(parts.begin() + 2, parts.end()));
        }
    }
    return tables;
}

LegacyState read_iptables_legacy()
{
    LegacyState state;
    // Absent while the ip_tables module is not loaded; unreadable in a user namespace (it belongs to
    // the real root), where no one can tell which tables exist.
    const char* path = "/proc/net/ip_tables_names";
    std::ifstream names(path);
    if (!names && errno != ENOENT) {
        state.error = std::string("cannot read ") + path + ": " + std::strerror(errno);
        return state;
    }
    std::string name;
    while (std::getline(names, name))
        if (!name.empty())
            state.table_names.push_back(name);
    std::sort(state.table_names.begin(), state.table_names.end());
    if (state.table_names.empty()) {
        state.tables.emplace();
        return state;
    }
    if (const auto dump = run_tool("iptables-legacy-save", "", state.error))
        state.tables = parse_iptables_save(*dump);
    return state;
}

void check_iptables_legacy(Report& report, const LegacyState& state)
{
    const auto names = joined(state.table_names);
    if (!state.tables) {
        report.warn((names.empty() ? "iptables-legacy's tables cannot be read here ("
                                   : "iptables-legacy has tables here (" + names + ") that cannot be read (") +
                    state.error +
                    "); their rules see every packet next to nftables and nft list ruleset does not show them, so "
                    "they may drop or DNAT traffic to published ports; fix: run warren-nft doctor as root with "
                    "iptables installed (it reads them with iptables-legacy-save)");
        return;
    }
    if (state.table_names.empty()) {
        report.ok(
            "iptables-legacy has no tables here, so no legacy iptables rule filters or NATs traffic "
            "next to nftables");
        return;
    }
    bool reported = false;
    std::vector<std::string> accepted_first;
    for (const auto& table : *state.tables)
        reported = check_forward(report, table, accepted_first) || reported;
    std::size_t rules = 0;
    for (const auto& table : *state.tables)
        rules += table.rules.size();
    if (!reported)
        report.ok("iptables-legacy has table(s) " + names + " with " + std::to_string(rules) +
                  " rule(s) (nft list ruleset does not show them, iptables-legacy-save does); no FORWARD chain of "
                  "them drops forwarded traffic" +
                  (accepted_first.empty() ? std::string()
                                          : " (" + joined(accepted_first) + " FORWARD accepts DNATed connections first)") +
                  "; their DNAT rules are checked with the other DNAT rules");
}

std::optional<NatTable> legacy_nat_table(const LegacyState& state)
{
    if (!state.tables)
        return std::nullopt;
    for (const auto& table : *state.tables) {
        if (table.name != "nat")
            continue;
        NatTable out;
        out.origin = "iptables-legacy";
        out.name = "nat";
        for (const auto& [chain, policy] : table.policies) {
            auto& c = out.chains[chain];
            if (chain == "PREROUTING" || chain == "OUTPUT") {
                c.hook = chain == "PREROUTING" ? "prerouting" : "output";
                c.priority = -100;  // NF_IP_PRI_NAT_DST
            }
        }
        for (const auto& [chain, tokens] : table.rules) {
            const auto rule = parse_rule(chain, tokens);
            NatRule n;
            n.where = "rule '" + rule.text + "'";
            n.remove = "iptables-legacy -t nat -D" + rule.text.substr(2);
            n.conditions = rule.conditions;
            n.others = rule.others;
            n.address_conditions = rule.address_conditions;
            if (rule.target == "DNAT" || rule.target == "REDIRECT") {
                n.action = NatRule::Action::nat;
                n.nat = rule.target;
            } else if (is_user_chain(table, rule.target)) {
                n.action = NatRule::Action::jump;
                n.targets.push_back({rule.target, {}});
            } else if (!rule.target.empty() && rule.target != "LOG" && rule.target != "MARK") {
                n.action = NatRule::Action::verdict;
            }
            out.chains[chain].rules.push_back(std::move(n));
        }
        return out;
    }
    return std::nullopt;
}

}  // namespace warren::cli::doctor
