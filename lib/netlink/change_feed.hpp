// SPDX-License-Identifier: Apache-2.0
// The kernel's change announcements for one table, read from a netlink socket joined to
// NFNLGRP_NFTABLES.
#pragma once

#include "netlink/socket.hpp"
#include "ruleset/changes.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace warren::nft::netlink {

// What the announcements in the datagrams of NFNLGRP_NFTABLES say about some tables: the parsing
// half of the feed, apart from its socket.
class Announcements {
public:
    // `own_port_id`: the netlink port id of the socket our own transactions are committed through.
    Announcements(std::vector<ruleset::Table> tables, std::uint32_t own_port_id);

    // Takes the announcements of one datagram; each transaction they complete (NEWGEN) is added to
    // `out`, or `out.lost` set when one cannot be decoded.
    void take(std::span<const std::uint8_t> datagram, ruleset::FeedRead& out);
    void ignore(std::uint32_t generation) { ignored_.expect(generation, own_port_id_); }
    // Forgets the transaction being read (its announcements were dropped).
    void start_over() { pending_.clear(); }
    std::optional<std::uint32_t> last_generation() const noexcept { return last_generation_; }

private:
    bool ours(const nlmsghdr* message) const;
    void close_transaction(const nlmsghdr* newgen, ruleset::FeedRead& out);

    std::vector<ruleset::Table> tables_;
    // The followed table's announcements of the transaction being read, one after the other as in
    // a datagram, undecoded until its NEWGEN says whether it is one of ours to leave out. Kept in
    // one buffer whose room is reused: a publish reads its own transaction's, an element each.
    std::vector<std::uint8_t> pending_;
    std::uint32_t own_port_id_;
    ruleset::OwnGenerations ignored_;
    std::optional<std::uint32_t> last_generation_;
};

class KernelChangeFeed final : public ruleset::ChangeFeed {
public:
    // Announcements of a large transaction (a repair that puts back 100,000 ports) must fit, or the
    // kernel drops them and the table has to be read again. Memory is only used while they wait.
    static constexpr int default_queue_bytes = 64 * 1024 * 1024;

    // `own_port_id`: the netlink port id of the socket our own transactions are committed through.
    // `queue_bytes`: the receive queue asked for; SO_RCVBUFFORCE needs CAP_NET_ADMIN in the initial
    // user namespace, elsewhere the kernel caps it at net.core.rmem_max.
    KernelChangeFeed(std::vector<ruleset::Table> tables, std::uint32_t own_port_id,
                     int queue_bytes = default_queue_bytes);  // throws Error

    int fd() const noexcept override { return socket_.fd(); }
    ruleset::FeedRead read(std::optional<std::uint32_t> until) override;
    void ignore(std::uint32_t generation) override { announcements_.ignore(generation); }
    void start_over() override { announcements_.start_over(); }

    // How many datagrams one read takes at most, and the room for each (announcements are
    // coalesced into datagrams of a page or two).
    static constexpr std::size_t batch_datagrams = 8;
    static constexpr std::size_t datagram_bytes = 64 * 1024;

private:
    std::optional<std::size_t> receive_batch();

    Socket socket_;
    Announcements announcements_;
    std::vector<std::uint8_t> buffer_;
    std::array<std::size_t, batch_datagrams> sizes_{};
};

}  // namespace warren::nft::netlink
