// SPDX-License-Identifier: Apache-2.0
// Warren's original rules for one published port, as its network package writes them with iptables:
// DNAT in nat PREROUTING, MASQUERADE in nat POSTROUTING, ACCEPT in filter FORWARD.
#pragma once

#include "service.hpp"

#include <array>
#include <span>
#include <string>
#include <vector>

namespace bench {

enum class RuleAction { append, remove };

// The arguments after `iptables -w` for each of the port's three rules.
std::array<std::vector<std::string>, 3> iptables_rule_arguments(const BenchPort& port, RuleAction action);

// The same rules for many ports as `iptables-restore --noflush` input: one nat and one filter section.
std::string iptables_restore_script(std::span<const BenchPort> ports, RuleAction action);

}  // namespace bench
