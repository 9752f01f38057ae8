// SPDX-License-Identifier: Apache-2.0
// `warren-nft doctor`: checks the host for what makes published ports work, one line per check.
#pragma once

#include <ostream>

namespace warren::cli {

// Prints one line per check ("OK: ...", "WARN: ...", "FAIL: ...", each WARN and FAIL ending with
// "; fix: ..." on the same line) and returns the exit status: 1 when any check failed, else 0.
// Changes nothing. Tables ip warren and ip6 warren are judged by the library
// (HostPortPublisher::inspect(), which reads only); the rest of the ruleset is read by running
// `nft -j list ruleset`, and iptables-legacy's tables from /proc/net/ip_tables_names and
// `iptables-legacy-save` (doctor_legacy.hpp); the DNAT rules of both are compared with the
// published ports (doctor_nat.hpp).
// With `json`, the same checks as one JSON object (doctor_report.hpp).
int run_doctor(std::ostream& out, bool json = false);

}  // namespace warren::cli
