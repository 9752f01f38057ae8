// SPDX-License-Identifier: Apache-2.0
// What other writers changed: nf_tables announces every committed transaction to listeners of
// NFNLGRP_NFTABLES, object by object, closed by NEWGEN with the new ruleset generation. A feed
// delivers those announcements for the tables it follows, one transaction at a time.
#pragma once

#include "ruleset/objects.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace warren::nft::ruleset {

// One object of a followed table that a transaction added or removed.
struct TableEvent {
    enum class Kind : std::uint8_t { table, chain, rule, set, element };
    Kind kind = Kind::table;
    Family family = Family::ip;  // of the table, which is one of those followed
    bool removed = false;        // DEL* (and DESTROY*); otherwise NEW*
    // The chain of a chain or rule event, the set of a set event (elements name theirs in
    // element.set). A flushed set is announced element by element.
    std::string name;
    Element element;  // element events only
    friend bool operator==(const TableEvent&, const TableEvent&) = default;
};

// One committed transaction as announced: its generation, who committed it, and what it did to the
// followed tables (nothing, for a commit to other tables only).
struct Change {
    std::uint32_t generation = 0;
    std::uint32_t pid = 0;      // of the committing thread, in the initial pid namespace (0: not said)
    std::string process;        // the committing process's name, as it calls itself: untrusted
    std::uint32_t port_id = 0;  // the netlink port id of the socket that committed it
    std::vector<TableEvent> events;
    // A generation one of our commits was expected to become, committed by someone else: apply it
    // although the view believes it is past it.
    bool contested = false;
    friend bool operator==(const Change&, const Change&) = default;
};

struct FeedRead {
    std::vector<Change> changes;  // complete transactions, in commit order
    // Announcements were dropped (the receive queue overflowed, ENOBUFS): what the table holds is
    // unknown until it is read again. Changes after the loss follow in later reads.
    bool lost = false;
};

// Generations wrap around; within the small distances that matter, serial-number order tells which
// of two came first.
inline bool generation_after(std::uint32_t a, std::uint32_t b) noexcept { return static_cast<std::int32_t>(a - b) > 0; }

// The generations our own commits became, each with the netlink port id of the socket that
// committed it (the kernel stamps a commit's announcements with it): what a feed leaves out. A
// generation we expected that another socket took (our transaction changed nothing, so the kernel
// did not count it) is contested: it must be applied even though the view believes it is past it.
class OwnGenerations {
public:
    enum class Verdict { other, mine, contested };

    void expect(std::uint32_t generation, std::uint32_t port_id) { expected_.emplace_back(generation, port_id); }
    // What the transaction announced as `generation`, committed through `port_id`, is to us.
    Verdict judge(std::uint32_t generation, std::uint32_t port_id)
    {
        while (!expected_.empty() && generation_after(generation, expected_.front().first))
            expected_.pop_front();
        if (expected_.empty() || expected_.front().first != generation)
            return Verdict::other;
        const bool same_socket = expected_.front().second == port_id;
        expected_.pop_front();
        return same_socket ? Verdict::mine : Verdict::contested;
    }

private:
    std::deque<std::pair<std::uint32_t, std::uint32_t>> expected_;
};

class ChangeFeed {
public:
    virtual ~ChangeFeed() = default;

    // Polls readable when announcements are queued (for a thread that waits for them).
    virtual int fd() const noexcept = 0;
    // Returns every complete transaction queued. With `until`, first waits (up to a bound; then it
    // reports the feed as lost) until the transaction of that generation, or a later one, arrived.
    virtual FeedRead read(std::optional<std::uint32_t> until) = 0;
    // Our own transaction, committed through the backend that made this feed, became `generation`:
    // leave it out of what read() returns, undecoded (the caller already knows what it changed). If
    // another socket committed that generation after all, it is returned, marked contested.
    virtual void ignore(std::uint32_t generation) = 0;
    // Forgets the announcements of a transaction read only in part (its NEWGEN not yet read): the
    // caller is about to read the table in full, which holds that transaction, and its remaining
    // announcements would otherwise be taken for another transaction's.
    virtual void start_over() = 0;
};

}  // namespace warren::nft::ruleset
