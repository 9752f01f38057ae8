// SPDX-License-Identifier: Apache-2.0
// The seam between the publisher's policy and the kernel: the netlink backend and the in-memory fake
// both implement it, with the same all-or-nothing semantics and the same errors.
#pragma once

#include "ruleset/changes.hpp"
#include "ruleset/objects.hpp"
#include "ruleset/transaction.hpp"

#include <warren/nft/kernel_features.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace warren::nft::ruleset {

// What one table holds, read consistently at one ruleset generation.
struct TableSnapshot {
    std::uint32_t generation = 0;
    bool exists = false;
    std::uint32_t table_flags = 0;  // NFT_TABLE_F_*: dormant (no chain hooked), owner
    // NFTA_TABLE_OWNER, reported with NFT_TABLE_F_OWNER: the netlink port id of the socket that owns
    // the table. The kernel lets only that socket change the table, and deletes it when it closes.
    std::optional<std::uint32_t> owner;
    bool owned_by_us = false;  // the owner is the backend's own socket
    std::map<std::string, Chain> chains;  // those asked for that exist, with their hooks and policies
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
    // The table, the `chains` of it that exist, all its sets and rule comments, and the elements of
    // `element_sets`, all at one generation.
    virtual TableSnapshot snapshot(const Table& table, std::span<const std::string> chains,
                                   std::span<const std::string> element_sets) = 0;
    // Whether nothing in the table changed between two generations (from the change announcements).
    using Unchanged = std::function<bool(std::uint32_t from, std::uint32_t to)>;
    // The same read, for a table others' commits may keep interrupting (a large one, on a busy host):
    // a read during which the generation moved is still exact, at the later generation, when
    // `unchanged` says that none of those commits touched the table. By default a plain snapshot.
    virtual TableSnapshot snapshot_following(const Table& table, std::span<const std::string> chains,
                                             std::span<const std::string> element_sets, const Unchanged& unchanged)
    {
        static_cast<void>(unchanged);
        return snapshot(table, chains, element_sets);
    }
    // Applies the whole transaction or nothing. With `expected_generation`, the kernel refuses the
    // transaction (errc::ruleset_changed) if anyone committed since that generation. Throws Error.
    virtual void commit(const Transaction& transaction, std::optional<std::uint32_t> expected_generation) = 0;
    // Starts following the announcements of changes to `table`: every transaction committed from now
    // on, by anyone, is read from the feed (those of other tables as a bare generation).
    virtual std::unique_ptr<ChangeFeed> follow(const Table& table) = 0;
};

}  // namespace warren::nft::ruleset
