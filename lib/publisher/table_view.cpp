// SPDX-License-Identifier: Apache-2.0
#include "publisher/table_view.hpp"

#include "backoff.hpp"
#include "printable.hpp"
#include "publisher/layout.hpp"

#include <warren/nft/error.hpp>

#include <iterator>
#include <map>
#include <utility>

namespace warren::nft {

using layout::Family;
using ruleset::Change;
using ruleset::TableEvent;

namespace {

std::string describe(const TableEvent& event)
{
    const std::string name = printable(event.name);
    // Objects of table ip warren are named alone: the IPv4 table is the one every host has.
    const std::string in = event.family == Family::ip ? "" : " of table " + ruleset::display_name(layout::table(event.family));
    switch (event.kind) {
        case TableEvent::Kind::table:
            return "table " + ruleset::display_name(layout::table(event.family)) + (event.removed ? " deleted" : " changed");
        case TableEvent::Kind::chain: return "chain " + name + in + (event.removed ? " deleted" : " added or changed");
        case TableEvent::Kind::rule: return (event.removed ? "rule deleted from chain " : "rule added to chain ") + name + in;
        case TableEvent::Kind::set: return "set " + name + in + (event.removed ? " deleted" : " added or changed");
        case TableEvent::Kind::element:
            return (event.removed ? "element deleted from set " : "element added to set ") + name + in;
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

TableView::TableView(ruleset::Backend& backend, const layout::RuleOptions& rules, MetricsRecorder* metrics, const Log* log)
    : backend_(backend),
      rules_(rules),
      metrics_(metrics),
      log_(log),
      feed_(backend.follow(std::array{layout::table(Family::ip), layout::table(Family::ip6)}))
{
}

void TableView::dumped() const
{
    if (metrics_)
        metrics_->dump();
}

void TableView::announcements_lost() const
{
    if (log_)
        (*log_)(LogLevel::warning,
                "the kernel's change announcements were lost (ENOBUFS: a burst of other writers' commits overflowed "
                "the socket buffer; or one came late or could not be read): tables ip warren and ip6 warren are read "
                "in full again");
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

void TableView::committed(const Families& changed, const Families& repaired)
{
    // Our guarded commit was the only one since generation_; the kernel moved on by exactly one,
    // skipping 0, which would switch off the kernel's generation check.
    if (++generation_ == 0)
        ++generation_;
    feed_->ignore(generation_);
    committed_unguarded(changed, repaired);
}

void TableView::committed_unguarded(const Families& changed, const Families& repaired)
{
    for (const auto family : layout::families) {
        auto& table = state(family);
        const auto i = layout::family_index(family);
        table.exists = table.exists || changed[i];  // a change of ports or a repair needs the table
        if (repaired[i]) {
            table.incomplete = false;
            table.repair.reset();
            table.rewrite_rules = false;
        }
    }
}

Damage TableView::take_damage() { return std::exchange(damage_, Damage{}); }

bool TableView::counting(const ruleset::TableSnapshot& snapshot) const
{
    // A table that counts keeps counting: another publisher of this node wanted its counters.
    // Where the kernel cannot look keys up in a map alone, every table counts (KernelFeatures).
    return rules_.counting || layout::counts(snapshot) || !backend_.features().map_lookups;
}

void TableView::refresh()
{
    // What is queued now is older than the read: left out, but judged, so that the feed keeps
    // track of our own generations and a healing thread does not find it readable again. The
    // read holds every transaction whose announcements began before it, even one read only in part.
    feed_->read(std::nullopt);
    feed_->start_over();
    ingress_.invalidate();  // what changed unannounced is unknown to it too
    if (tracking_ && full_reads_ > 0) {
        // Whatever others changed since the last read is in this one, unannounced: every kept
        // task must be compared with it.
        damage_.any = damage_.all_tasks = true;
        if (damage_.description.empty())
            damage_.description = "tables read again (announcements lost or a commit's outcome unknown)";
    }
    for (Backoff backoff; backoff.next();) {
        if (read_in_full())
            return;
        announcements_lost();
    }
    throw Error(errc::ruleset_changed,
                "read tables ip warren and ip6 warren: announcements kept being lost while they "
                "were read; retry later");
}

// Reads both tables; false when announcements were lost meanwhile (read again).
bool TableView::read_in_full()
{
    // A large table takes long to read, and on a busy host other programs commit meanwhile: a read
    // is still exact if the announcements say that none of them touched that table. The two tables
    // are read one after the other, each exact at its own generation; the announcements read in
    // between and after bring the earlier one up to the later one's.
    std::vector<ruleset::Change> later;
    bool lost = false;
    TaskIndex index;
    std::array<ruleset::TableSnapshot, 2> snapshots;
    for (const auto family : layout::families) {
        const auto unchanged = [&](std::uint32_t from, std::uint32_t to) {
            auto read = feed_->read(to);
            lost = lost || read.lost;
            bool untouched = !read.lost;
            for (auto& change : read.changes) {
                if (ruleset::generation_after(change.generation, from) && !ruleset::generation_after(change.generation, to))
                    for (const auto& event : change.events)
                        untouched = untouched && event.family != family;
                later.push_back(std::move(change));
            }
            return untouched;
        };
        auto& snapshot = snapshots[layout::family_index(family)];
        dumped();
        snapshot =
            backend_.snapshot_following(layout::table(family), layout::chain_names(family), layout::element_sets(), unchanged);
        index.load(family, snapshot, counting(snapshot));
    }
    const auto first = snapshots[0].generation, last = snapshots[1].generation;
    if (first != last) {
        // Commits came between the two reads: their announcements are queued, up to the later one.
        auto read = feed_->read(last);
        lost = lost || read.lost;
        for (auto& change : read.changes)
            later.push_back(std::move(change));
    }
    if (lost)
        return false;
    ++full_reads_;
    index_ = std::move(index);
    for (const auto family : layout::families) {
        auto deadlines = ingress::recorded_deadlines(family, snapshots[layout::family_index(family)]);
        std::move(deadlines.begin(), deadlines.end(), std::back_inserter(recorded_deadlines_));
    }
    const bool in_order = !ruleset::generation_after(first, last);
    const auto oldest = in_order ? first : last, newest = in_order ? last : first;
    generation_ = oldest;
    for (const auto family : layout::families) {
        const auto& snapshot = snapshots[layout::family_index(family)];
        auto& table = state(family);
        set_layout(family, snapshot, counting(snapshot));
        table.layout_read = table.last_full_read = snapshot.generation;
        table.layout_changed.reset();
    }
    fresh_ = true;
    for (const auto& change : later)
        absorb(change);
    if (ruleset::generation_after(newest, generation_))
        generation_ = newest;
    reread_layouts();
    return true;
}

void TableView::follow(ruleset::FeedRead read)
{
    if (read.lost) {
        // What changed is unknown: read it all (a healer then compares every task).
        announcements_lost();
        fresh_ = false;
        refresh();
        return;
    }
    for (const auto& change : read.changes)
        absorb(change);
    reread_layouts();
}

void TableView::absorb(const Change& change)
{
    // Already in the view: our own, or announced before we started to follow. Applying a change
    // twice is harmless, so a contested one is applied anyway, unless the last full read of its
    // table already holds it.
    if (!ruleset::generation_after(change.generation, generation_) && !change.contested)
        return;
    if (ruleset::generation_after(change.generation, generation_))
        generation_ = change.generation;
    bool applied = false;
    for (const auto& event : change.events) {
        if (!ruleset::generation_after(change.generation, state(event.family).last_full_read))
            continue;
        if (!applied && tracking_)
            note_damage(change);
        applied = true;
        apply(event);
    }
    changes_applied_ += applied;
}

void TableView::apply(const TableEvent& event)
{
    auto& touched = tracking_ ? damage_.tasks : scratch_;
    auto& table = state(event.family);
    switch (event.kind) {
        case TableEvent::Kind::table:
            table.layout_changed = generation_;
            ingress_.invalidate();
            if (event.removed) {
                // Its sets went with it, announced or not; a new one counts if we want it to.
                index_.forget_family(event.family, rules_.counting || !backend_.features().map_lookups, touched);
                table.exists = false;
                table.incomplete = true;
                damage_.all_tasks = damage_.all_tasks || tracking_;
            }
            break;
        case TableEvent::Kind::chain:
        case TableEvent::Kind::rule: table.layout_changed = generation_; break;
        case TableEvent::Kind::set:
            table.layout_changed = generation_;
            ingress_.invalidate();  // a set made again lost its elements unannounced
            if (event.removed) {
                index_.forget_set(event.family, event.name, touched);
                damage_.all_tasks = damage_.all_tasks || tracking_;
            }
            break;
        case TableEvent::Kind::element:
            index_.apply(event.family, event.element, event.removed, touched);
            if (ingress_.loaded())
                ingress_.apply(event.family, event.element, event.removed);
            if (!event.removed && event.element.set == layout::ingress_backends_set)
                if (auto deadline = ingress::recorded_deadline(event.family, event.element))
                    recorded_deadlines_.push_back(std::move(*deadline));
            break;
    }
    scratch_.clear();
}

bool TableView::layout_stale(Family family) const
{
    const auto& table = state(family);
    return table.layout_changed && ruleset::generation_after(*table.layout_changed, table.layout_read);
}

void TableView::reread_layouts()
{
    for (const auto family : layout::families)
        if (fresh_ && layout_stale(family) && !reread_layout(family))
            return;  // read in full instead
}

// Returns false when it read both tables in full instead.
bool TableView::reread_layout(Family family)
{
    auto& table = state(family);
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
            return lost || !table.layout_changed || !ruleset::generation_after(*table.layout_changed, from);
        };
        dumped();
        const auto snapshot =
            backend_.snapshot_following(layout::table(family), layout::chain_names(family), {}, layout_unchanged);
        auto read = feed_->read(snapshot.generation);
        if (lost || read.lost || counting(snapshot) != index_.counting(family)) {
            // Announcements lost, or a table that counts where ours did not (or the other way
            // round): the destinations must be read too.
            if (lost || read.lost)
                announcements_lost();
            fresh_ = false;
            refresh();
            return false;
        }
        for (const auto& change : read.changes)
            absorb(change);
        table.layout_read = snapshot.generation;
        set_layout(family, snapshot, counting(snapshot));
        if (!layout_stale(family))
            return true;
        // The layout changed again after the read: read it again.
    }
    fresh_ = false;
    throw Error(errc::ruleset_changed, "read table " + ruleset::display_name(layout::table(family)) +
                                           ": its layout kept changing while it was read; retry later");
}

void TableView::set_layout(Family family, const ruleset::TableSnapshot& snapshot, bool counting)
{
    auto& table = state(family);
    auto rules = rules_;
    rules.counting = counting;
    const auto& layout = layout::layout_of(family);
    table.repair = layout::ensure_transaction(layout, snapshot, table.rewrite_rules, rules);
    table.incomplete =
        !table.rewrite_rules ? table.repair.has_value() : layout::ensure_transaction(layout, snapshot, false, rules).has_value();
    table.exists = snapshot.exists;
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
