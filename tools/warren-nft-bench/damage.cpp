// SPDX-License-Identifier: Apache-2.0
#include "damage.hpp"

#include "echo_path.hpp"
#include "find_named.hpp"
#include "process.hpp"
#include "tool_process.hpp"

#include <sstream>
#include <stdexcept>

namespace bench {
namespace {

// The chain that DNATs published ports: damage to it kills traffic to every published port, where
// damage to the forward chain would not (its policy accepts anyway).
constexpr const char* dnat_chain = "prerouting";

struct Handles {
    std::string chain;
    std::string ports_rule;  // the rule that looks host ports up in map @ports
};

// From `nft -a list chain ip warren prerouting`: "chain prerouting { # handle 3" and the rule line
// "... map @ports comment "..." # handle 5" (the other rule looks up @bound_ports).
Handles read_handles()
{
    const auto listing = sandbox::check_output({"nft", "-a", "list", "chain", "ip", "warren", dnat_chain});
    Handles handles;
    std::istringstream lines(listing);
    for (std::string line; std::getline(lines, line);) {
        const auto at = line.rfind("# handle ");
        if (at == std::string::npos)
            continue;
        const auto handle = line.substr(at + 9);
        if (line.find(std::string("chain ") + dnat_chain + " {") != std::string::npos)
            handles.chain = handle;
        else if (line.find("map @ports ") != std::string::npos)
            handles.ports_rule = handle;
    }
    if (handles.chain.empty() || handles.ports_rule.empty())
        throw std::runtime_error(std::string("no handle of chain ") + dnat_chain + " or of its @ports rule in:\n" + listing);
    return handles;
}

}  // namespace

const std::vector<DamageKind>& damage_kinds()
{
    static const std::string element = "delete element ip warren ports { tcp . " + std::to_string(measured_host_port) + " }";
    static const std::vector<DamageKind> kinds = {
        {"flush-ruleset", "nft flush ruleset", [] { return std::string("flush ruleset\n"); }},
        {"delete-table", "nft delete table ip warren", [] { return std::string("delete table ip warren\n"); }},
        {"flush-table", "nft flush table ip warren", [] { return std::string("flush table ip warren\n"); }},
        {"delete-element", "nft " + element + " (the probed port)", [] { return element + "\n"; }},
        {"delete-rule", std::string("nft delete rule ip warren ") + dnat_chain + " handle H (its DNAT rule of map @ports)",
         [] { return std::string("delete rule ip warren ") + dnat_chain + " handle " + read_handles().ports_rule + "\n"; }},
        {"delete-chain", std::string("nft flush chain + delete chain ip warren handle H (") + dnat_chain + "), one transaction",
         [] {
             return std::string("flush chain ip warren ") + dnat_chain + "\ndelete chain ip warren handle " +
                    read_handles().chain + "\n";
         }},
    };
    return kinds;
}

const DamageKind* find_damage(const std::string& name) { return find_named(damage_kinds(), name); }

void apply_damage(const std::string& script) { run_tool({"nft", "-f", "-"}, script); }

}  // namespace bench
