// SPDX-License-Identifier: Apache-2.0
// The iptables-legacy check of `warren-nft doctor`. Legacy iptables (x_tables) sees every packet
// next to nftables, but `nft list ruleset` does not show its rules: a FORWARD chain there can drop
// what table ip warren accepted, and its nat table can DNAT a published port elsewhere.
#pragma once

#include "doctor_nat.hpp"
#include "doctor_report.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace warren::cli::doctor {

struct LegacyTable {
    std::string name;                                                     // "filter", "nat", ...
    std::map<std::string, std::string> policies;                          // chain -> "ACCEPT"/"DROP"; "-" for a user chain
    std::vector<std::pair<std::string, std::vector<std::string>>> rules;  // chain, tokens after "-A CHAIN"
};

struct LegacyState {
    std::vector<std::string> table_names;            // /proc/net/ip_tables_names of this namespace
    std::optional<std::vector<LegacyTable>> tables;  // nullopt when they could not be read
    std::string error;                               // why not
};

// Reads /proc/net/ip_tables_names and, when it lists tables, `iptables-legacy-save` (which dumps only
// the tables that exist, so reading creates none; `iptables-legacy -S` would create table filter).
LegacyState read_iptables_legacy();

// Parses `iptables-save` output.
std::vector<LegacyTable> parse_iptables_save(const std::string& text);

// One line per FORWARD chain that drops or may drop forwarded traffic to published ports: FAIL when it
// certainly drops every forwarded packet (policy DROP and no rule that accepts anything, or an
// unconditional DROP/REJECT before any accepting rule), WARN when it may; OK otherwise.
void check_iptables_legacy(Report& report, const LegacyState& state);

// The legacy nat table (nullopt when there is none or it could not be read) for the conflict check.
std::optional<NatTable> legacy_nat_table(const LegacyState& state);

}  // namespace warren::cli::doctor
