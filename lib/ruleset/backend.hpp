// SPDX-License-Identifier: Apache-2.0
// The seam between the publisher's policy and the kernel: the netlink backend and the in-memory fake
// both implement it, with the same all-or-nothing semantics and the same errors.
#pragma once

#include "netlink/sock_diag.hpp"

#include "ruleset/changes.hpp"
#include "ruleset/objects.hpp"
#include "ruleset/transaction.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/kernel_features.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <type_traits>
#include <span>
#include <string>
#include <utility>
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
    bool owned_by_us = false;                                       // the owner is the backend's own socket
    std::map<std::string, Chain> chains;                            // those asked for that exist, with their hooks and policies
    std::map<std::string, std::vector<std::string>> rule_comments;  // per chain, in rule order
    std::map<std::string, std::vector<Rule>> rules;                 // the same rules, as as_reported() gives them
    std::map<std::string, SetShape> sets;
    std::map<std::string, std::vector<Element>> elements;  // for the sets asked for
};

// A register as the kernel reports it: it keeps registers in 4-byte units and names the first of
// each 16-byte register by the 16-byte register's number (NFT_REG32_04 reads back as NFT_REG_2).
constexpr Reg as_reported(Reg reg) noexcept
{
    const auto n = static_cast<std::uint32_t>(reg);
    return n >= 8 && (n - 8) % 4 == 0 ? static_cast<Reg>((n - 8) / 4 + 1) : reg;
}

// A rule as a snapshot reads it back: its registers as the kernel reports them, and no set ids of
// lookups and updates (the kernel does not report them).
inline Rule as_reported(Rule rule)
{
    const auto regs = [](auto&... r) { ((r = as_reported(r)), ...); };
    for (auto& expression : rule.expressions)
        std::visit(
            [&](auto& e) {
                using T = std::decay_t<decltype(e)>;
                if constexpr (std::is_same_v<T, expr::Meta> || std::is_same_v<T, expr::Payload> || std::is_same_v<T, expr::Ct> ||
                              std::is_same_v<T, expr::Fib> || std::is_same_v<T, expr::Numgen>)
                    regs(e.dreg);
                else if constexpr (std::is_same_v<T, expr::MetaSet> || std::is_same_v<T, expr::Cmp>)
                    regs(e.sreg);
                else if constexpr (std::is_same_v<T, expr::Bitwise>)
                    regs(e.sreg, e.dreg);
                else if constexpr (std::is_same_v<T, expr::Dnat>)
                    regs(e.addr, e.port);
                else if constexpr (std::is_same_v<T, expr::Lookup>) {
                    regs(e.sreg);
                    if (e.dreg)
                        regs(*e.dreg);
                    e.set_id = 0;
                } else if constexpr (std::is_same_v<T, expr::Dynset>) {
                    regs(e.key);
                    e.set_id = 0;
                }
            },
            expression);
    return rule;
}

// An address (the family's length is used) and port: where a connection's answers come from.
struct FlowEndpoint {
    std::array<std::uint8_t, 16> address{};
    std::uint16_t port = 0;
    friend auto operator<=>(const FlowEndpoint&, const FlowEndpoint&) = default;
};

// Connections to one host port, for deleting their connection tracking entries: those whose
// original direction went to `port` (and to `address`, when given) over `l4proto`.
struct FlowMatch {
    Family family = Family::ip;
    std::uint8_t l4proto = 0;
    std::uint16_t port = 0;
    std::optional<std::array<std::uint8_t, 16>> address = std::nullopt;  // the family's length is used
    bool unreplied_only = false;                                         // only connections that never saw a reply
    // Only connections NATed to this destination (their reply direction's source): one backend's.
    std::optional<FlowEndpoint> reply_source = std::nullopt;
    // Except connections NATed to one of these destinations: they already go where the port leads
    // now (a client's first datagram after the publish, sent before the entries were forgotten).
    std::vector<FlowEndpoint> spared = {};
    // Ordered, so that flows can key a map (FlowCleaner's timed requests).
    friend auto operator<=>(const FlowMatch&, const FlowMatch&) = default;
};

// A commit refused before anything was sent because it is larger than one batch may be: the
// netlink socket cannot send it and may not raise its send buffer far enough (kernel errno
// EMSGSIZE; what() says how large, the limit and how to raise it). Whoever knows which parts of the
// commit may go in separate transactions can commit them one after the other instead.
class TransactionTooLarge : public Error {
public:
    explicit TransactionTooLarge(Error error) : Error(std::move(error)) {}
};

// A commit sent to the kernel whose answer is still to be read (Backend::send()).
class PendingCommit {
public:
    virtual ~PendingCommit() = default;
    // Reads what the kernel answered so far, without waiting: true once the whole answer is read and
    // the commit applied; false while more is to come (the backend's answer_fd() polls readable
    // when it is there). Throws the Error commit() would have thrown, once the answer says so.
    virtual bool answered() = 0;
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
    // The elements of set `set` of `table` whose keys are among `keys`, read now; a key the set does
    // not hold is left out, and so is every key when the table or set does not exist. Costs the
    // number of keys, not the size of the set: a dump of a large hash set costs the square of its
    // size (the kernel walks it from its start again for every message). Throws Error.
    virtual std::vector<Element> elements_of(const Table& table, const std::string& set, std::span<const Bytes> keys) = 0;
    // Applies the whole commit (every table's transaction) or nothing. With `expected_generation`,
    // the kernel refuses it (errc::ruleset_changed) if anyone committed since that generation.
    // Throws Error; TransactionTooLarge when it is too large to send, nothing sent.
    virtual void commit(const Commit& commit, std::optional<std::uint32_t> expected_generation) = 0;
    void commit(const Transaction& transaction, std::optional<std::uint32_t> expected_generation)
    {
        commit(Commit(transaction), expected_generation);
    }
    // The host's sockets of one protocol and of `families` that receive traffic for their local
    // port (netlink::SocketDiag::receiving()), on `ports` or on any: what a publish must not shadow.
    virtual std::vector<netlink::SocketEntry> receiving_sockets(Protocol protocol, std::span<const Family> families,
                                                                netlink::PortFilter ports) = 0;
    // Those of `among` that are configured on an interface of the host (of the publisher's network
    // namespace): the host addresses a port may be published on.
    virtual std::vector<layout::Address> host_addresses(std::span<const layout::Address> among) = 0;

    // commit() in two steps, for callers that must not wait: sends the commit and returns at once;
    // the PendingCommit reads the answer. `commit` must outlive it. Throws Error (TransactionTooLarge
    // when it cannot be sent). By default it commits at once, and the answer is there already.
    virtual std::unique_ptr<PendingCommit> send(const Commit& commit, std::optional<std::uint32_t> expected_generation)
    {
        struct Answered final : PendingCommit {
            bool answered() override { return true; }
        };
        this->commit(commit, expected_generation);
        return std::make_unique<Answered>();
    }
    // Polls readable when an answer to send() arrives; -1 when send() commits at once.
    virtual int answer_fd() const noexcept { return -1; }
    // Starts following the announcements of changes to `tables`: every transaction committed from
    // now on, by anyone, is read from the feed (those of other tables only as a bare generation).
    virtual std::unique_ptr<ChangeFeed> follow(std::span<const Table> tables) = 0;

    // Beyond nf_tables, the host state that published ports depend on.
    // Deletes the connection tracking entries that match any of `matches`; returns how many.
    virtual std::size_t forget_flows(std::span<const FlowMatch> matches) = 0;
    // Lets connections from the host's loopback addresses be routed to `container` (an IPv4
    // address): sets route_localnet on the interface the host reaches it through. Throws Error.
    virtual void route_localnet_towards(const std::array<std::uint8_t, 4>& container) = 0;
};

}  // namespace warren::nft::ruleset
