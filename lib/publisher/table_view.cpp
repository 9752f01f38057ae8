// SPDX-License-Identifier: Apache-2.0
#include "publisher/table_view.hpp"

#include "backoff.hpp"
#include "printable.hpp"
#include "publisher/layout.hpp"

#include <warren/nft/error.hpp>

#include <map>
#include <utility>

namespace warren::nft {

using ruleset::Change;
using ruleset::TableEvent;

namespace {

std::string describe(const TableEvent& event)
{
    const std::string name = printable(event.name);
    switch (event.kind) {
    case TableEvent::Kind::table:
        return "table " + ruleset::display_name(layout::table()) + (event.removed ? " deleted" : " changed");
    case TableEvent::Kind::chain:
        return "chain " + name + (event.removed ? " deleted" : " added or changed");
    case TableEvent::Kind::rule:
        return event.removed ? "rule deleted from chain " + name : "rule added to chain " + name;
    case TableEvent::Kind::set:
        return "set " + name + (event.removed ? " deleted" : " added or changed");
    case TableEvent::Kind::element:
        return event.removed ? "element deleted from set " + name : "element added to set " + name;
    }
    return "unknown change";
}

// "rule deleted from chain prerouting (x2); set ports deleted": what one commit did, in brief.
std::string describe(const Change& change)
{
    std::map<std::string, std::size_t> counts;
    for (const auto& event : change.events)
        ++counts[describe(event)];
    std::string text;
    for (const auto& [what, count] : counts)
        text += (text.empty() ? "" : "; ") + what + (count > 1 ? " (x" + std::to_string(count) + ")" : "");
    return text;
}

}  // namespace

TableView::TableView(ruleset::Backend& backend, bool counters)
    : backend_(backend), counters_(counters), feed_(backend.follow(layout::table()))
{
}

void TableView::catch_up() { catch_up_until(std::nullopt); }

void TableView::catch_up_until(std::optional<std::uint32_t> generation)
{
    if (!fresh_)
        refresh();
    else
        follow(feed_->read(generation));
}

bool TableView::catch_up_to_kernel()
{
    const auto current = backend_.generation();
    const auto reads = full_reads_;
    const auto before = changes_applied_;
    catch_up_until(current);
    // Ahead of the kernel only if a transaction of ours changed nothing, so the kernel did not count
    // it: the view is exact at the kernel's generation.
    if (ruleset::generation_after(generation_, current))
        generation_ = current;
    return full_reads_ == reads && changes_applied_ == before;
}

void TableView::committed(bool repaired)
{
    // Our guarded commit was the only one since generation_; the kernel moved on by exactly one,
    // skipping 0, which would switch off the kernel's generation check.
    if (++generation_ == 0)
        ++generation_;
    feed_->ignore(generation_);
    committed_unguarded(repaired);
}

void TableView::committed_unguarded(bool repaired)
{
    table_exists_ = true;  // every transaction of ours that changes ports (or repairs) needs the table
    if (repaired) {
        incomplete_ = false;
        repair_.reset();
        rewrite_rules_ = false;
    }
}

Damage TableView::take_damage() { return std::exchange(damage_, Damage{}); }

bool TableView::counting(const ruleset::TableSnapshot& snapshot) const
{
    // A table that counts keeps counting: another publisher of this node wanted its counters.
    // Where the kernel cannot look keys up in a map alone, every table counts (KernelFeatures).
    return counters_ || layout::counts(snapshot) || !backend_.features().map_lookups;
}

void TableView::refresh()
{
    // What is queued now is older than the read: left out, but judged, so that the feed keeps
    // track of our own generations and a healing thread does not find it readable again. The
    // read holds every transaction whose announcements began before it, even one read only in part.
    feed_->read(std::nullopt);
    feed_->start_over();
    if (tracking_ && full_reads_ > 0) {
        // Whatever others changed since the last read is in this one, unannounced: every kept
        // task must be compared with it.
        damage_.any = damage_.all_tasks = true;
        if (damage_.description.empty())
            damage_.description = "table ip warren read again (announcements lost or a commit's outcome unknown)";
    }
    // A large table takes long to read, and on a busy host other programs commit meanwhile: a read
    // is still exact if the announcements say that none of them touched our table. Those that
    // come after the read are kept for the view.
    std::vector<ruleset::Change> later;
    const auto unchanged = [&](std::uint32_t from, std::uint32_t to) {
        auto read = feed_->read(to);
        bool untouched = !read.lost;
        for (auto& change : read.changes) {
            if (ruleset::generation_after(change.generation, to))
                later.push_back(std::move(change));
            else if (ruleset::generation_after(change.generation, from) && !change.events.empty())
                untouched = false;
        }
        return untouched;
    };
    const auto snapshot =
        backend_.snapshot_following(layout::table(), layout::chain_names(), layout::element_sets(), unchanged);
    ++full_reads_;
    const bool counting = this->counting(snapshot);
    set_layout(snapshot, counting);
    index_ = TaskIndex::from_snapshot(snapshot, counting);
    generation_ = layout_read_ = last_full_read_ = snapshot.generation;
    layout_changed_.reset();
    fresh_ = true;
    for (const auto& change : later)
        absorb(change);
    if (layout_changed_ && ruleset::generation_after(*layout_changed_, layout_read_))
        reread_layout();
}

void TableView::follow(ruleset::FeedRead read)
{
    if (read.lost) {
        // What changed is unknown: read it all (a healer then compares every task).
        fresh_ = false;
        refresh();
        return;
    }
    for (const auto& change : read.changes)
        absorb(change);
    if (layout_changed_ && ruleset::generation_after(*layout_changed_, layout_read_))
        reread_layout();
}

void TableView::absorb(const Change& change)
{
    // Already in the view: read in full since, or announced before we started to follow, or our
    // own. Applying a change twice is harmless, so a contested one is applied anyway, unless the
    // last full read already holds it.
    if (!ruleset::generation_after(change.generation, last_full_read_))
        return;
    if (!ruleset::generation_after(change.generation, generation_) && !change.contested)
        return;
    if (ruleset::generation_after(change.generation, generation_))
        generation_ = change.generation;
    if (change.events.empty())
        return;  // another table's commit
    ++changes_applied_;
    if (tracking_)
        note_damage(change);
    for (const auto& event : change.events)
        apply(event);
}

void TableView::apply(const TableEvent& event)
{
    auto& touched = tracking_ ? damage_.tasks : scratch_;
    switch (event.kind) {
    case TableEvent::Kind::table:
        layout_changed_ = generation_;
        if (event.removed) {
            // Its sets went with it, announced or not.
            index_ = TaskIndex::from_snapshot(ruleset::TableSnapshot{}, index_.counting());
            table_exists_ = false;
            incomplete_ = true;
            damage_.all_tasks = damage_.all_tasks || tracking_;
        }
        break;
    case TableEvent::Kind::chain:
    case TableEvent::Kind::rule:
        layout_changed_ = generation_;
        break;
    case TableEvent::Kind::set:
        layout_changed_ = generation_;
        if (event.removed) {
            index_.forget_set(event.name, touched);
            damage_.all_tasks = damage_.all_tasks || tracking_;
        }
        break;
    case TableEvent::Kind::element:
        index_.apply(event.element, event.removed, touched);
        break;
    }
    scratch_.clear();
}

void TableView::reread_layout()
{
    for (Backoff backoff; backoff.next();) {
        // Without elements: cheap at any table size. The announcements up to its generation tell
        // what happened to the elements meanwhile (the layout's changes among them it already shows).
        // Other writers' commits during the read interrupt it only if they changed our layout.
        bool lost = false;
        const auto layout_unchanged = [&](std::uint32_t from, std::uint32_t to) {
            auto read = feed_->read(to);
            lost = lost || read.lost;
            for (const auto& change : read.changes)
                absorb(change);
            return lost || !layout_changed_ || !ruleset::generation_after(*layout_changed_, from);
        };
        const auto snapshot = backend_.snapshot_following(layout::table(), layout::chain_names(), {}, layout_unchanged);
        auto read = feed_->read(snapshot.generation);
        if (lost || read.lost) {
            fresh_ = false;
            refresh();  // reads the table in full
            return;
        }
        if (counting(snapshot) != index_.counting()) {
            // A table that counts where ours did not (or the other way round): the destinations
            // must be read too.
            refresh();
            return;
        }
        for (const auto& change : read.changes)
            absorb(change);
        layout_read_ = snapshot.generation;
        set_layout(snapshot, counting(snapshot));
        if (!ruleset::generation_after(*layout_changed_, layout_read_))
            return;
        // The layout changed again after the read: read it again.
    }
    fresh_ = false;
    throw Error(errc::ruleset_changed, "read table " + ruleset::display_name(layout::table()) +
                                           ": its layout kept changing while it was read; retry later");
}

void TableView::set_layout(const ruleset::TableSnapshot& snapshot, bool counting)
{
    repair_ = layout::ensure_transaction(snapshot, rewrite_rules_, counting);
    incomplete_ = !rewrite_rules_ ? repair_.has_value() : layout::ensure_transaction(snapshot, false, counting).has_value();
    table_exists_ = snapshot.exists;
}

void TableView::note_damage(const Change& change)
{
    damage_.any = true;
    damage_.generation = change.generation;
    damage_.pid = change.pid;
    damage_.process = change.process;
    damage_.description += (damage_.description.empty() ? "" : "; ") + describe(change);
}

}  // namespace warren::nft
