// SPDX-License-Identifier: Apache-2.0
#include "flows.hpp"

#include "netns.hpp"

#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdexcept>
#include <string>

namespace bench {
namespace {

constexpr std::size_t unrelated_capacity = std::size_t{1} << 22;  // sources in 10.128.0.0/10
constexpr std::uint16_t first_unrelated_port = 20000;
constexpr std::uint16_t unrelated_ports = 10000;

}  // namespace

void insert_flows(std::span<const TrackedFlow> flows)
{
    using namespace warren::nft::netlink;
    Socket socket;
    RequestBatcher inserts(socket, "insert conntrack entries");
    for (const auto& flow : flows) {
        nlmsghdr* nlh = inserts.start(IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, flow.original.family);
        put_tuple(nlh, CTA_TUPLE_ORIG, flow.original);
        put_tuple(nlh, CTA_TUPLE_REPLY, flow.original.reversed());
        mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(flow.timeout_seconds));
        // The kernel has confirmed a new entry before it applies the status, and refuses to unset that bit.
        if (flow.replied)
            mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_SEEN_REPLY | IPS_CONFIRMED));
        inserts.add();
    }
    inserts.finish();
}

std::size_t max_unrelated_flows() { return unrelated_capacity; }

std::vector<TrackedFlow> unrelated_flows(std::size_t count)
{
    if (count > unrelated_capacity)
        throw std::invalid_argument("at most " + std::to_string(unrelated_capacity) + " unrelated flows");
    std::vector<TrackedFlow> flows(count);
    for (std::size_t i = 0; i < count; ++i) {
        auto& t = flows[i].original;
        t.family = AF_INET;
        t.l4proto = IPPROTO_UDP;
        const auto host = static_cast<std::uint32_t>(i);
        t.source[0] = 10;
        t.source[1] = static_cast<std::uint8_t>(128 + (host >> 16));
        t.source[2] = static_cast<std::uint8_t>(host >> 8);
        t.source[3] = static_cast<std::uint8_t>(host);
        t.destination[0] = 10;
        t.destination[1] = 127;
        t.destination[3] = 1;
        t.source_port = 40000;
        t.destination_port = static_cast<std::uint16_t>(first_unrelated_port + i % unrelated_ports);
    }
    return flows;
}

std::size_t tracked_flow_count() { return std::stoul(sandbox::read_net_sysctl("net/netfilter/nf_conntrack_count")); }

}  // namespace bench
