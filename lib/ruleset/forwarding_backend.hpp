// SPDX-License-Identifier: Apache-2.0
// A backend that passes every call on to another: the base of test doubles that share one backend
// between publishers, or watch or alter some of its calls.
#pragma once

#include "ruleset/backend.hpp"

namespace warren::nft::ruleset {

class ForwardingBackend : public Backend {
public:
    explicit ForwardingBackend(Backend& next) : next_(next) {}

    const KernelFeatures& features() const noexcept override { return next_.features(); }
    std::uint32_t generation() override { return next_.generation(); }
    TableSnapshot snapshot(const Table& table, std::span<const std::string> chains,
                           std::span<const std::string> element_sets) override
    {
        return next_.snapshot(table, chains, element_sets);
    }
    TableSnapshot snapshot_following(const Table& table, std::span<const std::string> chains,
                                     std::span<const std::string> element_sets, const Unchanged& unchanged) override
    {
        return next_.snapshot_following(table, chains, element_sets, unchanged);
    }
    std::vector<Element> elements_of(const Table& table, const std::string& set, std::span<const Bytes> keys) override
    {
        return next_.elements_of(table, set, keys);
    }
    using Backend::commit;
    void commit(const Commit& commit, std::optional<std::uint32_t> expected_generation) override
    {
        next_.commit(commit, expected_generation);
    }
    std::unique_ptr<ChangeFeed> follow(std::span<const Table> tables) override { return next_.follow(tables); }
    std::size_t forget_flows(std::span<const FlowMatch> matches) override { return next_.forget_flows(matches); }
    std::vector<netlink::SocketEntry> receiving_sockets(Protocol protocol, std::span<const Family> families,
                                                        netlink::PortFilter ports) override
    {
        return next_.receiving_sockets(protocol, families, ports);
    }
    std::vector<layout::Address> host_addresses(std::span<const layout::Address> among) override
    {
        return next_.host_addresses(among);
    }
    void route_localnet_towards(const std::array<std::uint8_t, 4>& container) override
    {
        next_.route_localnet_towards(container);
    }

protected:
    Backend& next_;
};

}  // namespace warren::nft::ruleset
