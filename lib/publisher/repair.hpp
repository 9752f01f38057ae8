// SPDX-License-Identifier: Apache-2.0
// What makes a family's table complete: the checks that refuse a table no transaction can make
// ours, and the transaction that creates or repairs the rest.
#pragma once

#include "publisher/schema.hpp"
#include "ruleset/backend.hpp"
#include "ruleset/transaction.hpp"

#include <warren/nft/inspection.hpp>

#include <optional>

namespace warren::nft::layout {

// Whether the table counts packets per destination: it holds a backends set with counters.
bool counts(const ruleset::TableSnapshot& snapshot);

// A transaction that makes the family's table complete: creates what is missing and, with
// `rewrite_rules`, replaces the fixed rules of every chain (repairing rules edited behind our back).
// Map elements are kept. The rules are those of `options`; with options.counting the table holds a
// counting backends set (created empty; the publisher fills it) and masquerade and forward rules
// that look it up. Without, those rules match the connection's original destination against the
// ports maps and the table holds no backends set: any is removed, a counting one too, so keeping a
// table's counters is the caller's policy (the publisher's). A table whose rules were written for
// other options is incomplete: its rules are rewritten.
// A dormant table is woken and a fixed chain with policy drop set back to accept by the same
// transaction. Returns nullopt when the snapshot shows nothing to do. Throws Error (kernel_error)
// when the table cannot be adopted: owned by another process, or holding a set or chain that no
// transaction can make ours (another type; set flags timeout, interval, dynamic or constant; a size
// limit; a chain of another type, hook or priority).
// With `problems`, each reason the table is incomplete is also appended there, in the order found
// (HostPortPublisher::inspect()): the same decisions, told instead of only planned.
std::optional<ruleset::Transaction> ensure_transaction(const Layout& layout, const ruleset::TableSnapshot& snapshot,
                                                       bool rewrite_rules, const RuleOptions& options,
                                                       std::vector<TableProblem>* problems = nullptr);

}  // namespace warren::nft::layout
