// SPDX-License-Identifier: Apache-2.0
// The change feed's reading of NFNLGRP_NFTABLES announcements (Announcements, lib/netlink/
// change_feed.cpp) on any datagram: which messages belong to the followed tables, transactions
// closed by NEWGEN and their events decoded. The input is given twice, as two datagrams of one feed,
// so that a transaction may span them.
#include "datagram.hpp"
#include "one_line.hpp"

#include "netlink/change_feed.hpp"

#include <cstddef>
#include <cstdint>

namespace netlink = warren::nft::netlink;
using warren::fuzz::fail;
using warren::nft::ruleset::Family;
using warren::nft::ruleset::FeedRead;
using warren::nft::ruleset::Table;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const warren::fuzz::Datagram datagram(data, size);
    netlink::Announcements announcements({Table{Family::ip, "warren"}, Table{Family::ip6, "warren"}}, 1);
    FeedRead out;
    announcements.take(datagram.bytes(), out);
    announcements.take(datagram.bytes(), out);
    for (const auto& change : out.changes)
        if (!announcements.last_generation())
            fail("a transaction was closed without a generation", change.process);
    return 0;
}
