// SPDX-License-Identifier: Apache-2.0
// The NAT rules of `nft -j list ruleset` as the conflict check's model (doctor_nat.hpp).
#include "doctor_nat.hpp"
#include "doctor_ruleset.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <memory>
#include <set>
#include <tuple>

namespace warren::cli::doctor {

namespace {

using nlohmann::json;

// The single member of an expression or statement object ({"match": {...}} -> "match").
std::string kind(const json& object) { return object.is_object() && object.size() == 1 ? object.begin().key() : std::string(); }

// Named sets and maps: (family, table, name) -> their "elem" array (absent when empty).
using Sets = std::map<std::tuple<std::string, std::string, std::string>, json>;

// What a match or map key looks at.
struct Component {
    enum class Kind { port, protocol, address, concat, other } kind = Kind::other;
    std::string implied_protocol;  // port: "tcp" for `tcp dport` ("" for `th dport`)
    std::vector<Component> parts;  // concat
    std::string description;       // other: "iifname", "ip daddr"
};

const std::set<std::string> transport_protocols{"tcp", "udp", "sctp", "udplite", "dccp", "th"};

std::string describe(const json& expression)
{
    const auto k = kind(expression);
    if (k.empty())
        return expression.dump();
    const auto& body = expression.begin().value();
    if (k == "meta")
        return text(body, "key");
    if (k == "payload")
        return text(body, "protocol") + " " + text(body, "field");
    if (k == "ct")
        return "ct " + text(body, "key");
    if (k == "fib") {
        std::string flags;
        if (const auto it = body.find("flags"); it != body.end())
            flags = it->is_array() && !it->empty() && it->front().is_string() ? it->front().get<std::string>()
                    : it->is_string()                                         ? it->get<std::string>()
                                                                              : "";
        return "fib " + flags + (flags.empty() ? "" : " ") + text(body, "result");
    }
    return k;
}

Component component(const json& expression)
{
    Component c;
    const auto k = kind(expression);
    const json empty = json::object();
    const auto& body = k.empty() ? empty : expression.begin().value();
    if (k == "payload" && text(body, "field") == "dport" && transport_protocols.contains(text(body, "protocol"))) {
        c.kind = Component::Kind::port;
        if (const auto p = text(body, "protocol"); p != "th")
            c.implied_protocol = p;
    } else if (k == "payload" && text(body, "protocol") == "ip" && text(body, "field") == "daddr") {
        c.kind = Component::Kind::address;
        c.description = "ip daddr";
    } else if ((k == "meta" && text(body, "key") == "l4proto") ||
               (k == "payload" && text(body, "protocol") == "ip" && text(body, "field") == "protocol")) {
        c.kind = Component::Kind::protocol;
    } else if (k == "concat" && body.is_array()) {
        c.kind = Component::Kind::concat;
        for (const auto& part : body)
            c.parts.push_back(component(part));
    } else {
        c.description = describe(expression);
    }
    return c;
}

// The conditions the doctor does not evaluate in a component (the parts of a concatenation it skips).
void add_others(const Component& c, std::vector<std::string>& others)
{
    if (c.kind == Component::Kind::other)
        others.push_back(c.description);
    for (const auto& part : c.parts)
        add_others(part, others);
}

// Whether `value` (a match's right-hand side, a set element or a map key) holds for the published port.
class ValueMatcher {
public:
    ValueMatcher(std::shared_ptr<const Sets> sets, std::string family, std::string table)
        : sets_(std::move(sets)), family_(std::move(family)), table_(std::move(table))
    {
    }

    // `op` is "==" or a relational operator; "!=" is "==" negated by the caller.
    Match operator()(const json& value, const Component& c, const PortKey& key, const std::string& op = "==") const
    {
        if (c.kind == Component::Kind::other || (c.kind == Component::Kind::address && key.address.empty()))
            return Match::yes;  // not evaluated here: named among the rule's other conditions
        if (value.is_array())   // an element of a map: [key, data]
            return value.size() == 2 ? (*this)(value[0], c, key, op) : Match::maybe;
        if (value.is_string()) {
            const auto s = value.get<std::string>();
            if (s.starts_with("@"))
                return op == "==" ? named(s.substr(1), c, key) : Match::maybe;
            if (c.kind == Component::Kind::protocol && op == "==")
                return s == key.protocol ? Match::yes : Match::no;  // nft prints protocols by name
            if (c.kind == Component::Kind::address && op == "==")
                return address_in(key.address, s);
            return Match::maybe;  // a service name, or a comparison of names
        }
        if (value.is_number_integer()) {
            if (c.kind == Component::Kind::concat || c.kind == Component::Kind::address)
                return Match::maybe;
            const long n = value.get<long>();
            const long actual = c.kind == Component::Kind::port ? key.port : protocol_number(key.protocol);
            const bool holds = op == "=="   ? actual == n
                               : op == "<"  ? actual < n
                               : op == "<=" ? actual <= n
                               : op == ">"  ? actual > n
                               : op == ">=" ? actual >= n
                                            : false;
            return holds ? Match::yes : Match::no;
        }
        if (op != "==")
            return Match::maybe;
        const auto k = kind(value);
        const auto& body = k.empty() ? value : value[k];
        if (k == "set")
            return body.is_array() ? any(body, c, key) : (*this)(body, c, key);
        if (k == "elem")
            return body.is_object() && body.contains("val") ? (*this)(body["val"], c, key) : Match::maybe;
        if (k == "prefix" && c.kind == Component::Kind::address && body.is_object() && body.contains("addr") &&
            body["addr"].is_string() && body.contains("len") && body["len"].is_number_integer())
            return address_in(key.address, body["addr"].get<std::string>() + "/" + std::to_string(body["len"].get<int>()));
        if (k == "range" && c.kind == Component::Kind::address && body.is_array() && body.size() == 2 && body[0].is_string() &&
            body[1].is_string()) {
            const auto low = address_in(key.address, ">=" + body[0].get<std::string>());
            const auto high = address_in(key.address, "<=" + body[1].get<std::string>());
            return std::min(low, high);
        }
        if (k == "range" && c.kind == Component::Kind::port && body.is_array() && body.size() == 2 &&
            body[0].is_number_integer() && body[1].is_number_integer())
            return key.port >= body[0].get<long>() && key.port <= body[1].get<long>() ? Match::yes : Match::no;
        if (k == "concat" && c.kind == Component::Kind::concat && body.is_array() && body.size() == c.parts.size()) {
            Match result = Match::yes;
            for (std::size_t i = 0; i < c.parts.size(); ++i)
                result = std::min(result, (*this)(body[i], c.parts[i], key));
            return result;
        }
        return Match::maybe;
    }

private:
    Match any(const json& list, const Component& c, const PortKey& key) const
    {
        Match result = Match::no;
        for (const auto& element : list)
            result = std::max(result, (*this)(element, c, key));
        return result;
    }

    Match named(const std::string& name, const Component& c, const PortKey& key) const
    {
        const auto it = sets_->find({family_, table_, name});
        if (it == sets_->end())
            return Match::maybe;
        return it->second.is_array() ? any(it->second, c, key) : Match::no;  // no "elem": empty
    }

    std::shared_ptr<const Sets> sets_;
    std::string family_, table_;
};

bool has_address(const Component& c)
{
    return c.kind == Component::Kind::address ||
           std::any_of(c.parts.begin(), c.parts.end(), [](const Component& part) { return has_address(part); });
}

// The condition "the published port is among `value`" (or not, for op "!=") on component `c`.
Condition condition(const ValueMatcher& matcher, const json& value, const Component& c, const std::string& op)
{
    return [matcher, value, c, op](const PortKey& key) {
        if (op == "!=")  // an address part matches any address of a port on every address: not its negation
            return key.address.empty() && has_address(c) ? Match::maybe : negate(matcher(value, c, key));
        if (op == "==" || op == "in" || op == "<" || op == "<=" || op == ">" || op == ">=")
            return matcher(value, c, key, op == "in" ? "==" : op);
        return Match::maybe;
    };
}

Condition protocol_is(const std::string& protocol)
{
    return [protocol](const PortKey& key) { return key.protocol == protocol ? Match::yes : Match::no; };
}

// A value as nft writes it in a rule: "docker0", "10.0.0.0/8", "..." for anything longer.
std::string written(const json& value)
{
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_number())
        return value.dump();
    if (kind(value) == "prefix" && value["prefix"].is_object())
        return text(value["prefix"], "addr") + "/" + value["prefix"].value("len", json()).dump();
    return "...";
}

// Adds the conditions of a match or map lookup on component `c`: the values, and the protocol a
// port match implies (`tcp dport != 22` only matches TCP).
void add_condition(NatRule& rule, const ValueMatcher& matcher, const json& value, const Component& c, const std::string& op)
{
    if (c.kind == Component::Kind::address) {
        rule.address_conditions.push_back(
            {condition(matcher, value, c, op), "ip daddr " + (op == "==" ? "" : op + " ") + written(value)});
        return;
    }
    rule.conditions.push_back(condition(matcher, value, c, op));
    if (c.kind == Component::Kind::port && !c.implied_protocol.empty())
        rule.conditions.push_back(protocol_is(c.implied_protocol));
    for (const auto& part : c.parts) {
        if (part.kind == Component::Kind::port && !part.implied_protocol.empty())
            rule.conditions.push_back(protocol_is(part.implied_protocol));
        if (part.kind == Component::Kind::address)  // evaluated within the lookup for ports on one address
            rule.address_conditions.push_back({[](const PortKey&) { return Match::yes; }, "ip daddr"});
    }
    add_others(c, rule.others);
}

// A NAT statement's address or port given by a map lookup: the rule applies only to keys in the map.
void add_map_lookups(NatRule& rule, const ValueMatcher& matcher, const json& statement)
{
    for (const char* field : {"addr", "port"}) {
        const auto it = statement.find(field);
        if (it == statement.end() || kind(*it) != "map")
            continue;
        const auto& map = (*it)["map"];
        if (!map.contains("key") || !map.contains("data"))
            continue;
        add_condition(rule, matcher, map["data"], component(map["key"]), "==");
    }
}

NatRule convert_rule(const json& rule, const ValueMatcher& matcher)
{
    NatRule out;
    out.where = "rule " + text(rule, "family") + " " + text(rule, "table") + " " + text(rule, "chain") +
                (rule.contains("handle") ? " handle " + rule["handle"].dump() : std::string());
    out.remove = "nft delete " + out.where;
    const auto expressions = rule.find("expr");
    if (expressions == rule.end() || !expressions->is_array())
        return out;
    for (const auto& statement : *expressions) {
        const auto k = kind(statement);
        const auto& body = statement.is_object() && !statement.empty() ? statement.begin().value() : statement;
        if (k == "match") {
            const auto left = body.find("left");
            const auto right = body.find("right");
            if (left == body.end() || right == body.end())
                continue;
            const auto c = component(*left);
            if (c.kind == Component::Kind::other) {
                // As nft writes it: "iifname != docker0", "fib daddr type local".
                const auto op = text(body, "op");
                out.others.push_back(c.description + (op == "==" || op.empty() ? "" : " " + op) + " " + written(*right));
            } else
                add_condition(out, matcher, *right, c, text(body, "op"));
        } else if (k == "xt") {
            const auto name = text(body, "name");
            if (text(body, "type") == "match") {
                out.others.push_back("xt match " + name);
                // iptables-nft's matches that nft cannot translate come without their data; these may
                // restrict the ports.
                if (name == "multiport" || transport_protocols.contains(name))
                    out.conditions.push_back([](const PortKey&) { return Match::maybe; });
            } else if (name == "DNAT" || name == "REDIRECT") {
                out.action = NatRule::Action::nat;
                out.nat = name + " (iptables-nft)";
            }
        } else if (k == "dnat" || k == "redirect") {
            if (text(body, "family") == "ip6")
                continue;  // IPv6 only: never applies to published (IPv4) ports
            out.action = NatRule::Action::nat;
            out.nat = k;
            if (body.is_object())
                add_map_lookups(out, matcher, body);
        } else if (k == "jump" || k == "goto") {
            out.action = NatRule::Action::jump;
            out.targets.push_back({text(body, "target"), {}});
        } else if (k == "vmap") {
            out.action = NatRule::Action::jump;
            const auto key = body.find("key");
            const auto data = body.find("data");
            if (key == body.end() || data == body.end())
                continue;
            const auto c = component(*key);
            add_others(c, out.others);
            if (has_address(c))
                out.address_conditions.push_back({[](const PortKey&) { return Match::yes; }, "ip daddr"});
            // Every element that jumps: its chain, reached when the key is that element's.
            json elements = json::array();
            if (data->is_string() && data->get<std::string>().starts_with("@"))
                out.targets.push_back({"", {}});  // resolved by the caller (named verdict maps)
            else if (kind(*data) == "set" && (*data)["set"].is_array())
                elements = (*data)["set"];
            for (const auto& element : elements) {
                if (!element.is_array() || element.size() != 2)
                    continue;
                for (const char* verdict : {"jump", "goto"})
                    if (const auto it = element[1].find(verdict); element[1].is_object() && it != element[1].end())
                        out.targets.push_back({text(*it, "target"), condition(matcher, element[0], c, "==")});
            }
        } else if (k == "accept" || k == "drop" || k == "return" || k == "reject" || k == "queue" || k == "masquerade" ||
                   k == "snat") {
            if (out.action == NatRule::Action::none)
                out.action = NatRule::Action::verdict;
        } else if (k == "limit" || k == "quota" || k == "ct count" || k == "synproxy") {
            out.others.push_back(k);
        }
        // counter, log, mangle and other statements that change no verdict: nothing to note.
    }
    std::sort(out.others.begin(), out.others.end());
    out.others.erase(std::unique(out.others.begin(), out.others.end()), out.others.end());
    return out;
}

}  // namespace

Match negate(Match match) { return match == Match::yes ? Match::no : match == Match::no ? Match::yes : Match::maybe; }

Match address_in(const std::string& address, const std::string& network)
{
    // network: "A", "A/LEN", or ">=A" / "<=A" (the ends of a range).
    std::string net = network;
    int relation = 0;
    if (net.starts_with(">=") || net.starts_with("<=")) {
        relation = net[0] == '>' ? 1 : -1;
        net = net.substr(2);
    }
    int length = 32;
    if (const auto slash = net.find('/'); slash != std::string::npos) {
        const auto len = net.substr(slash + 1);
        if (len.empty() || len.size() > 2 || !std::all_of(len.begin(), len.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return Match::maybe;
        length = std::stoi(len);
        net = net.substr(0, slash);
        if (length > 32)
            return Match::maybe;
    }
    in_addr a{}, n{};
    if (inet_pton(AF_INET, address.c_str(), &a) != 1 || inet_pton(AF_INET, net.c_str(), &n) != 1)
        return Match::maybe;
    const std::uint32_t value = ntohl(a.s_addr), base = ntohl(n.s_addr);
    if (relation != 0)
        return (relation > 0 ? value >= base : value <= base) ? Match::yes : Match::no;
    const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
    return (value & mask) == (base & mask) ? Match::yes : Match::no;
}

long protocol_number(const std::string& protocol)
{
    if (protocol == "tcp")
        return 6;
    if (protocol == "udp")
        return 17;
    if (protocol == "sctp")
        return 132;
    return -1;
}

std::vector<NatTable> nat_tables_of_ruleset(const json& ruleset)
{
    const auto list = ruleset.find("nftables");
    if (list == ruleset.end() || !list->is_array())
        return {};
    auto sets = std::make_shared<Sets>();
    std::map<std::pair<std::string, std::string>, NatTable> tables;
    const auto relevant = [](const json& object) {
        const auto family = text(object, "family");
        return (family == "ip" || family == "inet") && !(family == "ip" && text(object, "table") == "warren");
    };
    for (const auto& object : *list) {
        for (const char* k : {"set", "map"})
            if (const auto it = object.find(k); it != object.end() && it->is_object())
                (*sets)[{text(*it, "family"), text(*it, "table"), text(*it, "name")}] =
                    it->contains("elem") ? (*it)["elem"] : json();
        if (const auto it = object.find("chain"); it != object.end() && it->is_object() && relevant(*it)) {
            const auto& chain = *it;
            auto& table = tables[{text(chain, "family"), text(chain, "table")}];
            table.origin = "nftables";
            table.name = text(chain, "family") + " " + text(chain, "table");
            auto& c = table.chains[text(chain, "name")];
            const auto hook = text(chain, "hook");
            if (text(chain, "type") == "nat" && (hook == "prerouting" || hook == "output")) {
                c.hook = hook;
                c.priority = chain.contains("prio") && chain["prio"].is_number_integer() ? chain["prio"].get<long>() : 0;
            }
        }
    }
    // Named verdict maps: the targets of their elements.
    const auto vmap_targets = [&](const std::string& family, const std::string& table, const json& rule,
                                  const ValueMatcher& matcher) {
        std::vector<NatRule::Target> targets;
        for (const auto& statement : rule["expr"]) {
            if (kind(statement) != "vmap" || !statement["vmap"].contains("data") || !statement["vmap"]["data"].is_string() ||
                !statement["vmap"].contains("key"))
                continue;
            const auto c = component(statement["vmap"]["key"]);
            const auto it = sets->find({family, table, statement["vmap"]["data"].get<std::string>().substr(1)});
            if (it == sets->end() || !it->second.is_array())
                continue;
            for (const auto& element : it->second) {
                if (!element.is_array() || element.size() != 2 || !element[1].is_object())
                    continue;
                for (const char* verdict : {"jump", "goto"})
                    if (const auto v = element[1].find(verdict); v != element[1].end())
                        targets.push_back({text(*v, "target"), condition(matcher, element[0], c, "==")});
            }
        }
        return targets;
    };
    for (const auto& object : *list) {
        const auto it = object.find("rule");
        if (it == object.end() || !it->is_object() || !relevant(*it))
            continue;
        const auto family = text(*it, "family"), table = text(*it, "table");
        const auto t = tables.find({family, table});
        if (t == tables.end())
            continue;
        const ValueMatcher matcher(sets, family, table);
        auto rule = convert_rule(*it, matcher);
        if (std::erase_if(rule.targets, [](const NatRule::Target& target) { return target.chain.empty(); }) > 0) {
            auto named = vmap_targets(family, table, *it, matcher);
            rule.targets.insert(rule.targets.end(), named.begin(), named.end());
        }
        t->second.chains[text(*it, "chain")].rules.push_back(std::move(rule));
    }
    std::vector<NatTable> out;
    for (auto& [key, table] : tables)
        out.push_back(std::move(table));
    return out;
}

std::map<std::string, long> warren_nat_priorities(const json& ruleset)
{
    std::map<std::string, long> priorities{{"prerouting", -100}, {"output", -100}};
    for (const auto* chain : objects(ruleset, "chain"))
        if (text(*chain, "family") == "ip" && text(*chain, "table") == "warren" && text(*chain, "type") == "nat" &&
            priorities.contains(text(*chain, "hook")) && chain->contains("prio") && (*chain)["prio"].is_number_integer())
            priorities[text(*chain, "hook")] = (*chain)["prio"].get<long>();
    return priorities;
}

}  // namespace warren::cli::doctor
