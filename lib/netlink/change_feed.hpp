// SPDX-License-Identifier: Apache-2.0
// The kernel's change announcements for one table, read from a netlink socket joined to
// NFNLGRP_NFTABLES.
#pragma once

#include "netlink/socket.hpp"
#include "ruleset/changes.hpp"


namespace warren::nft::netlink {

class KernelChangeFeed final : public ruleset::ChangeFeed {
public:
    explicit KernelChangeFeed(ruleset::Table table);  // throws Error

    int fd() const noexcept override { return socket_.fd(); }
    ruleset::FeedRead read(std::optional<std::uint32_t> until) override;
    void ignore(std::uint32_t generation) override;

private:
    void take(std::span<const std::uint8_t> datagram, ruleset::FeedRead& out);
    bool ours(const nlmsghdr* message) const;
    void close_transaction(const nlmsghdr* newgen, ruleset::FeedRead& out);

    Socket socket_;
    ruleset::Table table_;
    // The followed table's announcements of the transaction being read, undecoded until its NEWGEN
    // says whether it is one of ours to leave out.
    std::vector<std::vector<std::uint8_t>> pending_;
    ruleset::OwnGenerations ignored_;
    std::optional<std::uint32_t> last_generation_;
};

}  // namespace warren::nft::netlink
