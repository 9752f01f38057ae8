// SPDX-License-Identifier: Apache-2.0
// The element and comment decoder (lib/netlink/decode.cpp) on any datagram: every message is read
// as a NEWSETELEM reply of a dump (decode_elements, then the layout's decoding of ports of either
// family, as adoption does), and the whole input as a comment's userdata.
#include "datagram.hpp"
#include "one_line.hpp"

#include "netlink/decode.hpp"
#include "publisher/element_codec.hpp"
#include "publisher/schema.hpp"

#include <libnftnl/udata.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace layout = warren::nft::layout;
namespace netlink = warren::nft::netlink;
using warren::fuzz::fail;
using warren::nft::ruleset::Element;
using warren::nft::ruleset::Family;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const warren::fuzz::Datagram datagram(data, size);
    datagram.for_each_message([](const nlmsghdr* nlh) {
        std::vector<Element> elements;
        netlink::decode_elements(nlh, layout::ports_map, elements);
        for (const auto& element : elements) {
            if (element.comment.size() > nlh->nlmsg_len)
                fail("a comment longer than its message");
            for (const Family family : {Family::ip, Family::ip6})
                (void)layout::decode_port_element(family, element);
            (void)layout::parse_owner_comment(element.comment);
        }
    });
    const auto comment =
        netlink::comment_of(datagram.bytes().data(), static_cast<std::uint32_t>(size), NFTNL_UDATA_SET_ELEM_COMMENT);
    if (comment.size() > size)
        fail("a comment longer than its userdata");
    return 0;
}
