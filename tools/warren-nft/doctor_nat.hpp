// SPDX-License-Identifier: Apache-2.0
// The conflict check of `warren-nft doctor`: DNAT and redirect rules outside table ip warren (other
// nftables tables, iptables-nft's `ip nat`, iptables-legacy's nat table) that match a published port.
// Rules of both worlds are reduced to one model: chains of rules, each with conditions on the
// protocol and destination port the doctor can evaluate, the conditions it cannot, and what the rule
// does (NAT, jump, verdict).
#pragma once

#include "doctor_report.hpp"

#include <warren/nft.hpp>

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace warren::cli::doctor {

// Whether a rule applies to the connections of one published port: certainly not, perhaps (it
// depends on something the doctor cannot read), certainly.
enum class Match { no, maybe, yes };

// A published port as the conflict check sees it: "tcp", "udp" or "sctp", the host port, and the
// host address it is published on ("" for every address of the host).
struct PortKey {
    std::string protocol;
    long port = 0;
    std::string address;
};

using Condition = std::function<Match(const PortKey&)>;

// A condition on the destination address ("ip daddr 10.0.0.1", `-d 10.0.0.0/8`): evaluated for a port
// published on one address; for a port published on every address it restricts which of its
// connections the rule takes, so it is named among the rule's other conditions.
struct AddressCondition {
    Condition condition;
    std::string description;
};

struct NatRule {
    std::string where;                  // "rule ip nat DOCKER handle 4", "rule '-A DOCKER ...'"
    std::string remove;                 // the command that deletes it ("nft delete rule ip nat DOCKER handle 4")
    std::vector<Condition> conditions;  // on protocol and destination port
    std::vector<std::string> others;    // conditions not evaluated ("iifname", "xt match addrtype")
    std::vector<AddressCondition> address_conditions;

    enum class Action { none, verdict, nat, jump };
    Action action = Action::none;
    std::string nat;  // the NAT statement when action == nat: "dnat", "redirect", "DNAT", "REDIRECT"
    struct Target {
        std::string chain;
        Condition condition;  // empty, or the key of the verdict map element that jumps there
    };
    std::vector<Target> targets;  // action == jump: jump, goto, or every chain of a verdict map
};

struct NatChain {
    std::string hook;  // "prerouting", "output"; "" for a regular chain (reached by jumps only)
    long priority = 0;
    std::vector<NatRule> rules;
};

struct NatTable {
    std::string origin;  // "nftables" or "iptables-legacy"
    std::string name;    // "ip nat", "inet foo", "nat" (iptables-legacy)
    std::map<std::string, NatChain> chains;
};

// The ip and inet tables of `nft -j list ruleset`, except table ip warren. Their NAT base chains on
// the prerouting and output hooks are where the conflict check starts.
std::vector<NatTable> nat_tables_of_ruleset(const nlohmann::json& ruleset);

// The priorities of table ip warren's NAT chains, by hook ("prerouting", "output"); the library's
// (-100, dstnat) for a hook it does not list.
std::map<std::string, long> warren_nat_priorities(const nlohmann::json& ruleset);

// One line per rule that matches a published port: FAIL when every new connection to the port from
// other hosts is certainly DNATed elsewhere before warren's chain runs, WARN when it may be (the
// rule has conditions the doctor cannot evaluate, or its chain runs at the same priority as
// warren's, or after it). OK when no rule matches. The rules of an ip table and of iptables-legacy
// are compared with the IPv4 ports only (a port's family is its container address's). `not_read`
// names the rule sources that could not be read (said in the OK line).
void check_dnat_conflicts(Report& report, const std::vector<nft::PublishedPort>& published,
                          const std::map<std::string, long>& warren_priorities, const std::vector<NatTable>& tables,
                          const std::vector<std::string>& not_read);

// Helpers shared by the nftables and iptables-legacy readers.
Match negate(Match match);
long protocol_number(const std::string& protocol);  // 6, 17, 132; -1 when unknown
// Whether dotted-quad `address` is in `network` ("10.0.0.1", "10.0.0.0/8"); maybe when either is no
// IPv4 address.
Match address_in(const std::string& address, const std::string& network);

}  // namespace warren::cli::doctor
