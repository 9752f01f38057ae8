// SPDX-License-Identifier: Apache-2.0
// The real backend: nf_tables over one netlink socket.
#pragma once

#include "netlink/conntrack.hpp"
#include "netlink/route.hpp"
#include "netlink/socket.hpp"
#include "ruleset/backend.hpp"

namespace warren::nft::netlink {

class KernelBackend final : public ruleset::Backend {
public:
    struct Options {
        // Behave as if the send buffer could not be raised beyond what net.core.wmem_max = this
        // allows (SO_SNDBUFFORCE refused): for tests of large transactions on hosts that allow more.
        std::optional<std::size_t> send_buffer_limit;
    };

    KernelBackend() : KernelBackend(Options{}) {}
    explicit KernelBackend(const Options& options);  // opens the socket and probes the kernel; throws Error

    const KernelFeatures& features() const noexcept override { return features_; }
    std::uint32_t generation() override;
    ruleset::TableSnapshot snapshot(const ruleset::Table& table, std::span<const std::string> chains,
                                    std::span<const std::string> element_sets) override;
    ruleset::TableSnapshot snapshot_following(const ruleset::Table& table, std::span<const std::string> chains,
                                              std::span<const std::string> element_sets, const Unchanged& unchanged) override;
    // GETSETELEM requests of the keys (not a dump).
    std::vector<ruleset::Element> elements_of(const ruleset::Table& table, const std::string& set,
                                              std::span<const ruleset::Bytes> keys) override;
    using Backend::commit;
    void commit(const ruleset::Commit& commit, std::optional<std::uint32_t> expected_generation) override;
    // The answer is read with MSG_DONTWAIT: the socket stays blocking for the other requests.
    std::unique_ptr<ruleset::PendingCommit> send(const ruleset::Commit& commit,
                                                 std::optional<std::uint32_t> expected_generation) override;
    int answer_fd() const noexcept override { return socket_.fd(); }
    std::unique_ptr<ruleset::ChangeFeed> follow(std::span<const ruleset::Table> tables) override;
    std::size_t forget_flows(std::span<const ruleset::FlowMatch> matches) override;
    void route_localnet_towards(const std::array<std::uint8_t, 4>& container) override;
    std::vector<SocketEntry> receiving_sockets(Protocol protocol, std::span<const layout::Family> families,
                                               PortFilter ports) override;
    // One rtnetlink dump of the namespace's addresses, filtered.
    std::vector<layout::Address> host_addresses(std::span<const layout::Address> among) override;
    // The netlink port id our transactions are committed through (announcements carry it).
    std::uint32_t port_id() const noexcept { return socket_.portid(); }

private:
    class Pending;
    KernelFeatures probe();
    bool probe_map_lookups(bool batch_acks);

    Socket socket_;
    std::optional<std::size_t> send_buffer_limit_;
    KernelFeatures features_;
    std::optional<ConntrackTable> conntrack_;  // opened by the first cleanup
    std::optional<SocketDiag> sock_diag_;      // opened by the first socket check
};

}  // namespace warren::nft::netlink
