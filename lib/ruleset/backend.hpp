// SPDX-License-Identifier: Apache-2.0
// The seam between the publisher's policy and the kernel: the netlink backend and the in-memory fake
// both implement it, with the same all-or-nothing semantics and the same errors.
#pragma once

#include "ruleset/objects.hpp"
#include "ruleset/transaction.hpp"

#include <warren/nft/kernel_features.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace warren::nft::ruleset {

// What one table holds, read consistently at one ruleset generation.
struct TableSnapshot {
    std::uint32_t generation = 0;
    bool exists = false;
    std::vector<std::string> chains;
    std::map<std::string, std::vector<std::string>> rule_comments;  // per chain, in rule order
    std::map<std::string, SetShape> sets;
    std::map<std::string, std::vector<Element>> elements; // for the sets asked for
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual const KernelFeatures& features() const noexcept = 0;
    // The ruleset generation id; it changes with every committed transaction, ours or anyone's.
    virtual std::uint32_t generation() = 0;
    // The table and the elements of `sets`, all at one generation.
    virtual TableSnapshot snapshot(const Table& table, std::span<const std::string> sets) = 0;
    // Applies the whole transaction or nothing. With `expected_generation`, the kernel refuses the
    // transaction (errc::ruleset_changed) if anyone committed since that generation. Throws Error.
    virtual void commit(const Transaction& transaction, std::optional<std::uint32_t> expected_generation) = 0;
};

}  // namespace warren::nft::ruleset
