// SPDX-License-Identifier: Apache-2.0
// The publisher's view of tables ip warren and ip6 warren: who publishes which host port
// (TaskIndex) and what each table's fixed layout lacks, read in full once and then kept current from
// the kernel's change announcements. Commits to other tables only move the generation; elements added or deleted by
// anyone are applied one by one; a changed table, chain, rule or set costs a read of the layout
// without its elements. The table is read in full again only when announcements were lost.
#pragma once

#include "publisher/ingress_deadlines.hpp"
#include "publisher/ingress_view.hpp"
#include "publisher/log.hpp"
#include "publisher/metrics_recorder.hpp"
#include "publisher/task_index.hpp"
#include "ruleset/backend.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace warren::nft {

// What other writers did to the table since the last take_damage(), for a self-healing publisher.
struct Damage {
    bool any = false;
    bool all_tasks = false;          // the table or a ports map went as a whole
    std::vector<std::string> tasks;  // tasks whose ports changed (may repeat)
    std::string description;         // printable
    std::uint32_t generation = 0;    // of the last damaging commit, and who committed it
    std::uint32_t pid = 0;
    std::string process;
};

class TableView {
public:
    // Which families of tables a commit may change, or did change.
    using Families = std::array<bool, 2>;  // by layout::family_index

    // `rules`: the fixed rules the publisher wants (PublisherOptions); rules.counting asks for
    // tables that count. Starts following announcements at once, so that none is missed between
    // now and the first read. Each read of a table is counted in `metrics` (a dump), and each loss
    // of announcements logged to `log` (both optional; they must outlive the view).
    TableView(ruleset::Backend& backend, const layout::RuleOptions& rules, MetricsRecorder* metrics = nullptr,
              const Log* log = nullptr);

    // Applies every change announced so far; reads the table in full if it never did or lost
    // announcements. Throws Error when the table holds objects of another layout.
    void catch_up();
    // After the kernel refused a transaction for a stale generation: waits for the announcements up
    // to the kernel's current generation and applies them. True if none of them touched the table,
    // so that a plan made from the view is still right at the new generation.
    bool catch_up_to_kernel();
    // Forgets everything: the next catch_up() reads the table in full (after an outcome we cannot
    // know, such as lost replies to a commit).
    void invalidate() noexcept
    {
        fresh_ = false;
        ingress_.invalidate();
    }

    const TaskIndex& index() const noexcept { return index_; }
    TaskIndex& index() noexcept { return index_; }
    // The tables' ingress elements by port, kept current like the index from the announcements
    // (any table or set change, or a full read of the tables, invalidates it). The publisher loads
    // it at its first ingress change and applies its own commits to it.
    ingress::View& ingress() noexcept { return ingress_; }
    // The drain deadlines of the ingress records read in full or announced (others' additions)
    // since the last call (ingress::recorded_deadline()): for the publisher to act on them as on
    // those it read at start.
    std::vector<ingress::Deadline> take_recorded_deadlines() noexcept { return std::exchange(recorded_deadlines_, {}); }
    // What the family's table lacks, as of the view: it goes first into the next transaction that
    // changes that table (or, for a table that exists, anything). nullopt when it is complete.
    const std::optional<ruleset::Transaction>& repair(layout::Family family) const noexcept { return state(family).repair; }
    // Whether the table lacks part of its layout (repair() may also just rewrite the fixed rules).
    bool incomplete(layout::Family family) const noexcept { return state(family).incomplete; }
    bool table_exists(layout::Family family) const noexcept { return state(family).exists; }
    // The generation the view is exact at: the guard of the next commit.
    std::uint32_t generation() const noexcept { return generation_; }

    // Our commit, guarded by generation(), committed, changing the tables of `changed` (with the
    // repairs of those in `repaired`): the view moves on by that one generation, whose
    // announcements are then left out. (After one that removed a table, invalidate() the view.)
    void committed(const Families& changed, const Families& repaired);
    // The same for a commit made without the guard: its generation is unknown, so its
    // announcements are applied like anyone's (to a view that already holds them: no change).
    void committed_unguarded(const Families& changed, const Families& repaired);

    // Damage done by others since the last call; tracked only when `track` was set.
    void track_damage() noexcept { tracking_ = true; }
    Damage take_damage();
    bool damaged() const noexcept { return damage_.any; }

    // Polls readable when announcements wait to be read (for a healing thread).
    int feed_fd() const noexcept { return feed_->fd(); }

    // Full table reads so far (for tests and the benchmark: following announcements should make them rare).
    std::uint64_t full_reads() const noexcept { return full_reads_; }

private:
    // What the view knows of one family's table beyond its ports.
    struct TableState {
        std::optional<ruleset::Transaction> repair;
        bool exists = false;
        bool incomplete = false;
        // The generation of the last announced change of the table's layout (a table, chain, rule
        // or set); the layout needs reading if it is newer than the last read.
        std::optional<std::uint32_t> layout_changed;
        std::uint32_t layout_read = 0;
        std::uint32_t last_full_read = 0;  // the generation of the last full read of the table
        // The first change of a publisher also rewrites the fixed rules, repairing rules edited behind
        // our back (a rule with our comment but other expressions looks complete to the view).
        bool rewrite_rules = true;
    };
    TableState& state(layout::Family family) noexcept { return tables_[layout::family_index(family)]; }
    const TableState& state(layout::Family family) const noexcept { return tables_[layout::family_index(family)]; }

    // catch_up(), waiting for the announcements up to `generation` when given.
    void catch_up_until(std::optional<std::uint32_t> generation);
    void refresh();
    bool read_in_full();
    void follow(ruleset::FeedRead read);
    void absorb(const ruleset::Change& change);
    void apply(const ruleset::TableEvent& event);
    void reread_layouts();
    bool reread_layout(layout::Family family);
    bool layout_stale(layout::Family family) const;
    void set_layout(layout::Family family, const ruleset::TableSnapshot& snapshot, bool counting);
    bool counting(const ruleset::TableSnapshot& snapshot) const;
    void note_damage(const ruleset::Change& change);
    void dumped() const;
    void announcements_lost() const;

    ruleset::Backend& backend_;
    const layout::RuleOptions rules_;
    MetricsRecorder* metrics_;
    const Log* log_;
    std::unique_ptr<ruleset::ChangeFeed> feed_;
    TaskIndex index_;
    ingress::View ingress_;
    std::vector<ingress::Deadline> recorded_deadlines_;
    std::array<TableState, 2> tables_;
    std::uint32_t generation_ = 0;
    bool fresh_ = false;  // index_ and tables_ were exact at generation_
    bool tracking_ = false;
    Damage damage_;
    std::vector<std::string> scratch_;  // tasks touched, when damage is not tracked
    std::uint64_t full_reads_ = 0;
    std::uint64_t changes_applied_ = 0;  // announced commits that changed the table
};

}  // namespace warren::nft
