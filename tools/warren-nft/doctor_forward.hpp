// SPDX-License-Identifier: Apache-2.0
// The check of the forward chains of other nftables tables (and iptables-nft's) in `warren-nft doctor`:
// a forward chain with policy drop drops what its own rules do not accept, published traffic included.
#pragma once

#include "doctor_report.hpp"

#include <nlohmann/json_fwd.hpp>

namespace warren::cli::doctor {

// One WARN line per ip or inet chain on the forward hook with policy drop, other than table ip warren's
// own forward chain (inspect() judges that one); one OK line when there is none.
void check_forward_chains(Report& report, const nlohmann::json& ruleset);

}  // namespace warren::cli::doctor
