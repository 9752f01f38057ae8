// SPDX-License-Identifier: Apache-2.0
// The change feed's reading of announcements (Announcements) on hand-made datagrams: element
// announcements libnftnl cannot parse safely are reported as unreadable (the table is read anew)
// instead of being handed to it.
#include "netlink/change_feed.hpp"

#include <arpa/inet.h>  // before the linux/ headers, which then skip their own struct in_addr

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

using namespace warren::nft;
using ruleset::FeedRead;
using ruleset::TableEvent;

namespace {

// Linux 6.3's DESTROYSETELEM, which Debian 12's headers predate.
constexpr std::uint16_t destroy_set_element = 30;
constexpr std::uint32_t committer_port = 4242;

// A datagram of nf_tables messages, as the kernel announces them.
class Datagram {
public:
    Datagram() : bytes_(8192, 0) {}

    // An element message of table ip warren, set "ports", with one element whose key is 4 bytes;
    // `extra_type`, if not 0, adds an element attribute of that type.
    nlmsghdr* elements(std::uint16_t message, std::uint16_t extra_type = 0)
    {
        auto* nlh = header(message);
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "warren");
        mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "ports");
        auto* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        auto* element = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        auto* key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
        const std::array<std::uint8_t, 4> value{0, 6, 0x1f, 0x90};
        mnl_attr_put(nlh, NFTA_DATA_VALUE, value.size(), value.data());
        mnl_attr_nest_end(nlh, key);
        if (extra_type)
            mnl_attr_put_u32(nlh, extra_type, 0);
        mnl_attr_nest_end(nlh, element);
        mnl_attr_nest_end(nlh, list);
        return nlh;
    }

    void new_generation(std::uint32_t generation)
    {
        auto* nlh = header(NFT_MSG_NEWGEN);
        mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(generation));
    }

    // Ends the message being written; the next one starts at its aligned end.
    void end() { used_ += MNL_ALIGN(last_->nlmsg_len); }

    FeedRead read() const
    {
        ruleset::Table table{ruleset::Family::ip, "warren"};
        netlink::Announcements announcements({table}, 1);
        FeedRead out;
        announcements.take({bytes_.data(), used_}, out);
        return out;
    }

private:
    nlmsghdr* header(std::uint16_t message)
    {
        auto* nlh = mnl_nlmsg_put_header(bytes_.data() + used_);
        nlh->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | message);
        nlh->nlmsg_pid = committer_port;
        auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
        nfg->nfgen_family = NFPROTO_IPV4;
        nfg->version = NFNETLINK_V0;
        last_ = nlh;
        return nlh;
    }

    std::vector<std::uint8_t> bytes_;
    std::size_t used_ = 0;
    nlmsghdr* last_ = nullptr;
};

}  // namespace

TEST_CASE("an element announcement is read whatever removing message carries it", "[feed]")
{
    for (const std::uint16_t message : {std::uint16_t(NFT_MSG_DELSETELEM), destroy_set_element}) {
        Datagram datagram;
        datagram.elements(message);
        datagram.end();
        datagram.new_generation(7);
        datagram.end();
        const auto out = datagram.read();
        INFO("message type " << message);
        CHECK_FALSE(out.lost);
        REQUIRE(out.changes.size() == 1);
        REQUIRE(out.changes[0].events.size() == 1);
        CHECK(out.changes[0].events[0].kind == TableEvent::Kind::element);
        CHECK(out.changes[0].events[0].removed);
        CHECK(out.changes[0].events[0].name == "ports");
    }
}

TEST_CASE("an element attribute libnftnl would write past its array makes the announcement unreadable", "[feed]")
{
    // libnftnl keeps an element's attributes in an array of NFTA_SET_ELEM_MAX + 1 entries on its
    // stack but accepts types up to NFTA_SET_MAX: it must never see such an element, whichever of
    // the three element messages carries it.
    for (const std::uint16_t message :
         {std::uint16_t(NFT_MSG_NEWSETELEM), std::uint16_t(NFT_MSG_DELSETELEM), destroy_set_element}) {
        Datagram datagram;
        datagram.elements(message, NFTA_SET_ELEM_MAX + 1);
        datagram.end();
        datagram.new_generation(7);
        datagram.end();
        const auto out = datagram.read();
        INFO("message type " << message);
        CHECK(out.lost);
        CHECK(out.changes.empty());
    }
}

TEST_CASE("an element announcement whose length is not aligned is unreadable", "[feed]")
{
    // libmnl walks attributes up to the aligned end of a message: an attribute reaching into the
    // padding would be parsed by libnftnl without having been checked.
    Datagram datagram;
    auto* nlh = datagram.elements(NFT_MSG_NEWSETELEM);
    datagram.end();
    nlh->nlmsg_len -= 1;
    datagram.new_generation(7);
    datagram.end();
    const auto out = datagram.read();
    CHECK(out.lost);
    CHECK(out.changes.empty());
}
