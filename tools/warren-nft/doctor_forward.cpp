// SPDX-License-Identifier: Apache-2.0
#include "doctor_forward.hpp"

#include "doctor_ruleset.hpp"

#include <nlohmann/json.hpp>

namespace warren::cli::doctor {

void check_forward_chains(Report& report, const nlohmann::json& ruleset)
{
    bool found = false;
    for (const auto* chain : objects(ruleset, "chain")) {
        const auto family = text(*chain, "family"), table = text(*chain, "table"), name = text(*chain, "name");
        if (text(*chain, "hook") != "forward" || text(*chain, "policy") != "drop" || (family != "ip" && family != "inet"))
            continue;
        if (family == "ip" && table == "warren" && name == "forward")
            continue;  // ours: judged by the library's inspection
        found = true;
        report.warn("chain " + family + " " + table + " " + name +
                    " (hook forward, policy drop) drops forwarded traffic its own rules do not accept, including "
                    "traffic to published ports; fix: add 'ct status dnat accept' to it, or set its policy to accept");
    }
    if (!found)
        report.ok("no other forward chain of nftables or iptables-nft has policy drop");
}

}  // namespace warren::cli::doctor
