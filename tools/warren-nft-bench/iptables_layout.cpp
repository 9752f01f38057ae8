// SPDX-License-Identifier: Apache-2.0
#include "iptables_layout.hpp"

namespace bench {
namespace {

std::string protocol_name(const BenchPort& port) { return std::string(warren::nft::to_string(port.protocol)); }

// Each rule as (table, chain, match-and-target arguments).
struct Rule {
    const char* table;
    const char* chain;
    std::vector<std::string> spec;
};

std::array<Rule, 3> rules(const BenchPort& port)
{
    const auto protocol = protocol_name(port);
    const auto container_port = std::to_string(port.container_port);
    return {{
        {"nat",
         "PREROUTING",
         {"-p", protocol, "--dport", std::to_string(port.host_port), "-j", "DNAT", "--to-destination",
          port.container_ip + ":" + container_port}},
        {"nat", "POSTROUTING", {"-p", protocol, "-d", port.container_ip, "--dport", container_port, "-j", "MASQUERADE"}},
        {"filter", "FORWARD", {"-p", protocol, "-d", port.container_ip, "--dport", container_port, "-j", "ACCEPT"}},
    }};
}

const char* flag(RuleAction action) { return action == RuleAction::append ? "-A" : "-D"; }

}  // namespace

std::array<std::vector<std::string>, 3> iptables_rule_arguments(const BenchPort& port, RuleAction action)
{
    std::array<std::vector<std::string>, 3> commands;
    const auto port_rules = rules(port);
    for (std::size_t i = 0; i < port_rules.size(); ++i) {
        auto& args = commands[i];
        args = {"-t", port_rules[i].table, flag(action), port_rules[i].chain};
        args.insert(args.end(), port_rules[i].spec.begin(), port_rules[i].spec.end());
    }
    return commands;
}

std::string iptables_restore_script(std::span<const BenchPort> ports, RuleAction action)
{
    std::string nat = "*nat\n";
    std::string filter = "*filter\n";
    for (const auto& port : ports)
        for (const auto& rule : rules(port)) {
            auto& section = std::string_view(rule.table) == "nat" ? nat : filter;
            section += std::string(flag(action)) + " " + rule.chain;
            for (const auto& arg : rule.spec)
                section += " " + arg;
            section += "\n";
        }
    return nat + "COMMIT\n" + filter + "COMMIT\n";
}

}  // namespace bench
