// SPDX-License-Identifier: Apache-2.0
// An in-memory nf_tables for unit tests: applies a transaction to a copy of its state and keeps the
// copy only if every operation succeeded, with the kernel's errnos and generation-id check.
// Modelled as the kernel behaves: elements of a set of concatenated ranges (NFT_SET_INTERVAL with a
// key of several fields) are refused when their first or last key lies in an existing element's
// ranges (EEXIST, the same ranges again being fine without EXCL), a range that ends before it starts
// is EINVAL, and a removal removes the element whose ranges hold its first key, whatever key end it
// names (ENOENT when none does); a key end anywhere else is EINVAL.
// A packet limit without a burst gets 5; a rule's Dynset gives its set the size 65535 if it has
// none, and cannot update a set of ranges or a plain set with a size (EOPNOTSUPP), which takes no
// element expressions either; an element with a ct count added to an NFT_SET_EVAL set is accepted
// and gone at once (the kernel collects it within seconds when it counts no connection, and the
// fake has none); a Jump needs a regular chain that exists.
// Sets and chains that rules refer to cannot be removed (EBUSY).
#pragma once

#include "ruleset/backend.hpp"

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace warren::nft::ruleset {

class FakeBackend final : public Backend {
public:
    struct SetState {
        Set declaration;
        std::map<Bytes, Element> elements;
        // Kept by the kernel in a hash of a fixed size (chosen when it is created, with the size it
        // was created with): such a set takes no element expressions and no updates.
        bool fixed_size = false;
        friend bool operator==(const SetState&, const SetState&) = default;
    };
    struct ChainState {
        Chain declaration;
        std::vector<Rule> rules;
        friend bool operator==(const ChainState&, const ChainState&) = default;
    };
    struct TableState {
        std::uint32_t flags = 0;  // NFT_TABLE_F_*; set NFT_TABLE_F_OWNER together with `owner`
        // The port id of the socket that owns the table; another than port_id makes every change fail
        // with EPERM, as the kernel does.
        std::optional<std::uint32_t> owner;
        std::map<std::string, ChainState> chains;
        std::map<std::string, SetState> sets;
        friend bool operator==(const TableState&, const TableState&) = default;
    };
    using State = std::map<std::pair<Family, std::string>, TableState>;
    // The fake's own netlink port id: the owner of the tables it creates with NFT_TABLE_F_OWNER.
    static constexpr std::uint32_t port_id = 1000;

    explicit FakeBackend(KernelFeatures features = {true, true, true}) : features_(features) {}

    const KernelFeatures& features() const noexcept override { return features_; }
    std::uint32_t generation() override;
    TableSnapshot snapshot(const Table& table, std::span<const std::string> chains,
                           std::span<const std::string> element_sets) override;
    std::vector<Element> elements_of(const Table& table, const std::string& set, std::span<const Bytes> keys) override;
    using Backend::commit;
    void commit(const Commit& commit, std::optional<std::uint32_t> expected_generation) override;
    // Announces each committed transaction's operations as the kernel would (a chain flush as one
    // removed rule); changes made through mutable_state() are announced as lost announcements.
    std::unique_ptr<ChangeFeed> follow(std::span<const Table> tables) override;
    // Recorded, for tests to read: the fake has no connections and no interfaces.
    std::size_t forget_flows(std::span<const FlowMatch> matches) override;
    void route_localnet_towards(const std::array<std::uint8_t, 4>& container) override;
    // The sockets set with set_sockets(), as a sock_diag dump would filter them.
    std::vector<netlink::SocketEntry> receiving_sockets(Protocol protocol, std::span<const Family> families,
                                                        netlink::PortFilter ports) override;
    // Those of `among` set with set_host_addresses(); until then the fake models no interfaces and
    // has every address it is asked about.
    std::vector<layout::Address> host_addresses(std::span<const layout::Address> among) override;

    // Test hooks ------------------------------------------------------------------------------
    const State& state() const noexcept { return state_; }
    State& mutable_state() noexcept { return state_; }  // a foreign writer; call bump_generation()
    // After a change through mutable_state(): a new generation, and every feed told that it lost
    // announcements (it cannot be told what changed).
    void bump_generation();
    const std::vector<Commit>& committed() const noexcept { return committed_; }
    // A copy, taken under the lock: the flow cleaner's thread adds to them.
    std::vector<FlowMatch> forgotten_flows() const
    {
        std::lock_guard lock(mutex_);
        return forgotten_;
    }
    const std::vector<std::array<std::uint8_t, 4>>& route_localnet() const noexcept { return route_localnet_; }
    std::size_t commit_attempts() const noexcept { return attempts_; }
    // The host's sockets, as far as the publisher's socket check can see: none unless set here.
    void set_sockets(std::vector<netlink::SocketEntry> sockets)
    {
        std::lock_guard lock(mutex_);
        sockets_ = std::move(sockets);
    }
    // The host's interface addresses, for the publisher's host address check: from now on only these.
    void set_host_addresses(std::vector<layout::Address> addresses)
    {
        std::lock_guard lock(mutex_);
        host_addresses_ = std::move(addresses);
    }
    std::size_t host_address_reads() const noexcept { return host_address_reads_; }
    // Runs before a commit is applied; lets a test act as a concurrent writer or inject a failure.
    std::function<void(const Commit&)> before_commit;
    // The same, for a test whose publisher commits from another thread too (a healing thread).
    void set_before_commit(std::function<void(const Commit&)> hook)
    {
        std::lock_guard lock(mutex_);
        before_commit = std::move(hook);
    }

    struct FeedQueue;

private:
    void announce(const Commit& commit);

    // Calls come from a self-healing publisher's thread too. Recursive: before_commit may call back.
    mutable std::recursive_mutex mutex_;
    std::vector<std::weak_ptr<FeedQueue>> feeds_;
    KernelFeatures features_;
    std::uint32_t generation_ = 1;
    State state_;
    std::vector<Commit> committed_;
    std::vector<FlowMatch> forgotten_;
    std::vector<std::array<std::uint8_t, 4>> route_localnet_;
    std::vector<netlink::SocketEntry> sockets_;
    std::optional<std::vector<layout::Address>> host_addresses_;
    std::size_t host_address_reads_ = 0;
    std::size_t attempts_ = 0;
};

}  // namespace warren::nft::ruleset
