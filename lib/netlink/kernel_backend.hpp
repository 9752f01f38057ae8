// SPDX-License-Identifier: Apache-2.0
// The real backend: nf_tables over one netlink socket.
#pragma once

#include "netlink/socket.hpp"
#include "ruleset/backend.hpp"

namespace warren::nft::netlink {

class KernelBackend final : public ruleset::Backend {
public:
    KernelBackend();  // opens the socket and probes the kernel; throws Error

    const KernelFeatures& features() const noexcept override { return features_; }
    std::uint32_t generation() override;
    ruleset::TableSnapshot snapshot(const ruleset::Table& table, std::span<const std::string> chains,
                                   std::span<const std::string> element_sets) override;
    ruleset::TableSnapshot snapshot_following(const ruleset::Table& table, std::span<const std::string> chains,
                                             std::span<const std::string> element_sets,
                                             const Unchanged& unchanged) override;
    void commit(const ruleset::Transaction& transaction, std::optional<std::uint32_t> expected_generation) override;
    std::unique_ptr<ruleset::ChangeFeed> follow(const ruleset::Table& table) override;
    // The netlink port id our transactions are committed through (announcements carry it).
    std::uint32_t port_id() const noexcept { return socket_.portid(); }

private:
    KernelFeatures probe();
    bool probe_map_lookups(bool batch_acks);

    Socket socket_;
    KernelFeatures features_;
};

}  // namespace warren::nft::netlink
