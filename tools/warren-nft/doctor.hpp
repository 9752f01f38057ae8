// SPDX-License-Identifier: Apache-2.0
// `warren-nft doctor`: checks the host for what makes published ports work, one line per check.
#pragma once

#include <ostream>

namespace warren::cli {

// Prints one line per check ("OK: ...", "WARN: ...", "FAIL: ...", each saying what to do about it)
// and returns the exit status: 1 when any check failed, else 0. Changes nothing: the publisher is
// only constructed (to prove nf_tables answers it) when table ip warren already exists with all its
// chains, since a new publisher creates the table or restores missing chains. Reads the
// ruleset by running `nft -j list ruleset`, and iptables-legacy's tables from
// /proc/net/ip_tables_names and `iptables-legacy-save` (doctor_legacy.hpp); compares the DNAT rules
// of both with the published ports (doctor_nat.hpp).
int run_doctor(std::ostream& out);

}  // namespace warren::cli
