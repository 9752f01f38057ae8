// SPDX-License-Identifier: Apache-2.0
// The parsers of the kernel's replies on any datagram, truncated and corrupted ones included:
//   - scan_answer (lib/netlink/socket.cpp), as every dump and request reads its answer, with each
//     message of the answer given to the decoders of a table's dumps (lib/netlink/decode.cpp) and of
//     a conntrack dump (parse_entry, lib/netlink/conntrack.cpp);
//   - parse_ack on every NLMSG_ERROR, as the batch and conntrack replies are read;
//   - output_interface (lib/netlink/route.cpp), the answer to RTM_GETROUTE.
// The answer's seq and port id are taken from the first message, so that the rest is read as ours.
#include "datagram.hpp"
#include "one_line.hpp"

#include "netlink/conntrack.hpp"
#include "netlink/decode.hpp"
#include "netlink/route.hpp"
#include "netlink/socket.hpp"

#include <warren/nft/error.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace netlink = warren::nft::netlink;
using warren::fuzz::fail;

namespace {

// What TableReader and the conntrack dump do with each message of an answer.
void decode_every_way(const nlmsghdr* nlh)
{
    static const std::string table = "warren";
    warren::nft::ruleset::TableSnapshot snapshot;
    netlink::decode_table(nlh, 1, snapshot);
    (void)netlink::decode_chain(nlh);
    (void)netlink::decode_rule_comment(nlh, table);
    (void)netlink::decode_rule(nlh, table);
    (void)netlink::decode_set(nlh, table);
    std::vector<warren::nft::ruleset::Element> elements;
    netlink::decode_elements(nlh, "ports", elements);
    (void)netlink::decode_generation(nlh);
    (void)netlink::parse_entry(nlh);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const warren::fuzz::Datagram datagram(data, size);
    std::uint32_t seq = 0, portid = 0;
    if (size >= sizeof(nlmsghdr)) {
        const auto* first = reinterpret_cast<const nlmsghdr*>(datagram.bytes().data());
        seq = first->nlmsg_seq;
        portid = first->nlmsg_pid;
    }
    const auto result = netlink::scan_answer(datagram.bytes(), seq, portid, decode_every_way);
    if (result && result->error < 0)
        fail("an answer ended with a negative errno");

    datagram.for_each_message([](const nlmsghdr* nlh) {
        if (nlh->nlmsg_type != NLMSG_ERROR)
            return;
        const auto ack = netlink::parse_ack(nlh);
        if (ack.error < 0)
            fail("an ack with a negative errno");
    });

    try {
        (void)netlink::output_interface(datagram.bytes(), "find the interface towards 10.0.0.1");
    } catch (const warren::nft::Error& e) {
        warren::fuzz::check_message(e.what());
        if (e.code().value() <= 0)
            fail("a route answer refused without an errno", e.what());
    }
    return 0;
}
