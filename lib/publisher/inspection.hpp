// SPDX-License-Identifier: Apache-2.0
// One family's table judged as the publisher judges it (HostPortPublisher::inspect()): the repair
// planner's findings, the TaskIndex's ports and destinations, from one snapshot.
#pragma once

#include "publisher/schema.hpp"
#include "ruleset/backend.hpp"

#include <warren/nft/inspection.hpp>

namespace warren::nft::layout {

// `rules` are the publisher's own, with `counting` already decided for this table (a table that
// counts keeps counting). The snapshot holds the family's fixed chains and element_sets().
FamilyInspection inspect_table(Family family, const ruleset::TableSnapshot& snapshot, const RuleOptions& rules);

}  // namespace warren::nft::layout
