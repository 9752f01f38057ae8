// SPDX-License-Identifier: Apache-2.0
#include "conntrack.hpp"

#include "socket_address.hpp"
#include "system_calls.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

namespace sandbox {

namespace {

// Attributes by type (nullptr where absent), up to the highest type wanted.
struct AttributeTable {
    explicit AttributeTable(int max) : by_type(static_cast<std::size_t>(max) + 1, nullptr) {}
    std::vector<const nlattr*> by_type;
};

int remember_attribute(const nlattr* attribute, void* data)
{
    auto& table = *static_cast<AttributeTable*>(data);
    const auto type = mnl_attr_get_type(attribute);
    if (type < table.by_type.size())
        table.by_type[type] = attribute;
    return MNL_CB_OK;
}

std::vector<const nlattr*> attributes_of(const nlattr* nest, int max)
{
    AttributeTable table(max);
    mnl_attr_parse_nested(nest, remember_attribute, &table);
    return table.by_type;
}

std::string address_text(const nlattr* attribute, int family)
{
    if (attribute == nullptr)
        return "?";
    sockaddr_storage storage{};
    storage.ss_family = static_cast<sa_family_t>(family);
    const auto length = mnl_attr_get_payload_len(attribute);
    if (family == AF_INET && length == sizeof(in_addr))
        std::memcpy(&reinterpret_cast<sockaddr_in&>(storage).sin_addr, mnl_attr_get_payload(attribute), length);
    else if (family == AF_INET6 && length == sizeof(in6_addr))
        std::memcpy(&reinterpret_cast<sockaddr_in6&>(storage).sin6_addr, mnl_attr_get_payload(attribute), length);
    else
        return "?";
    return ip_of(storage);
}

std::uint16_t port_in(const nlattr* attribute)
{
    return attribute != nullptr && mnl_attr_get_payload_len(attribute) == 2 ? ntohs(mnl_attr_get_u16(attribute)) : 0;
}

// CTA_TUPLE_ORIG or CTA_TUPLE_REPLY: {CTA_TUPLE_IP {src, dst}, CTA_TUPLE_PROTO {num, sport, dport}}.
ConntrackTuple tuple_of(const nlattr* nest, int family, std::uint8_t& protocol)
{
    ConntrackTuple tuple;
    if (nest == nullptr)
        return tuple;
    const auto parts = attributes_of(nest, CTA_TUPLE_PROTO);
    if (const auto* ip = parts[CTA_TUPLE_IP]) {
        const auto addresses = attributes_of(ip, CTA_IP_V6_DST);
        const bool v4 = family == AF_INET;
        tuple.source = address_text(addresses[v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC], family);
        tuple.destination = address_text(addresses[v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST], family);
    }
    if (const auto* proto = parts[CTA_TUPLE_PROTO]) {
        const auto fields = attributes_of(proto, CTA_PROTO_DST_PORT);
        if (fields[CTA_PROTO_NUM] != nullptr)
            protocol = mnl_attr_get_u8(fields[CTA_PROTO_NUM]);
        tuple.source_port = port_in(fields[CTA_PROTO_SRC_PORT]);
        tuple.destination_port = port_in(fields[CTA_PROTO_DST_PORT]);
    }
    return tuple;
}

int collect_entry(const nlmsghdr* message, void* data)
{
    auto& entries = *static_cast<std::vector<ConntrackEntry>*>(data);
    const auto* header = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(message));
    ConntrackEntry entry;
    entry.family = header->nfgen_family;
    AttributeTable attributes(CTA_STATUS);
    mnl_attr_parse(message, sizeof(nfgenmsg), remember_attribute, &attributes);
    const auto& top = attributes.by_type;
    entry.original = tuple_of(top[CTA_TUPLE_ORIG], entry.family, entry.protocol);
    entry.reply = tuple_of(top[CTA_TUPLE_REPLY], entry.family, entry.protocol);
    if (top[CTA_STATUS] != nullptr)
        entry.seen_reply = (ntohl(mnl_attr_get_u32(top[CTA_STATUS])) & IPS_SEEN_REPLY) != 0;
    entries.push_back(std::move(entry));
    return MNL_CB_OK;
}

std::string protocol_name(std::uint8_t protocol)
{
    switch (protocol) {
        case IPPROTO_TCP: return "tcp";
        case IPPROTO_UDP: return "udp";
        case IPPROTO_SCTP: return "sctp";
        case IPPROTO_ICMP: return "icmp";
        case IPPROTO_ICMPV6: return "icmpv6";
        default: return "proto " + std::to_string(protocol);
    }
}

}  // namespace

std::string describe(const ConntrackTuple& tuple)
{
    return "src=" + tuple.source + " dst=" + tuple.destination + " sport=" + std::to_string(tuple.source_port) +
           " dport=" + std::to_string(tuple.destination_port);
}

std::string describe(const ConntrackEntry& entry)
{
    return protocol_name(entry.protocol) + " " + describe(entry.original) + (entry.seen_reply ? " " : " [UNREPLIED] ") +
           describe(entry.reply);
}

std::string describe(const std::vector<ConntrackEntry>& entries)
{
    std::string text;
    for (const auto& entry : entries)
        text += describe(entry) + "\n";
    return text.empty() ? "(no conntrack entries)\n" : text;
}

std::vector<ConntrackEntry> conntrack_entries(const Netns& netns)
{
    const std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> socket(
        netns.run([] { return mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC); }), mnl_socket_close);
    if (!socket)
        throw_errno("ctnetlink socket");
    if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        throw_errno("ctnetlink bind");

    std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE * 4);
    auto* request = mnl_nlmsg_put_header(buffer.data());
    request->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
    request->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request->nlmsg_seq = 1;
    auto* header = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(request, sizeof(nfgenmsg)));
    header->nfgen_family = AF_UNSPEC;  // every family
    header->version = NFNETLINK_V0;
    header->res_id = 0;
    if (mnl_socket_sendto(socket.get(), request, request->nlmsg_len) < 0)
        throw_errno("ctnetlink dump request");

    std::vector<ConntrackEntry> entries;
    const auto port_id = mnl_socket_get_portid(socket.get());
    for (;;) {
        const auto received = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
        if (received < 0)
            throw_errno("ctnetlink dump receive");
        const int status = mnl_cb_run(buffer.data(), static_cast<std::size_t>(received), 1, port_id, collect_entry, &entries);
        if (status < 0)
            throw_errno("ctnetlink dump");
        if (status == MNL_CB_STOP)
            return entries;
    }
}

}  // namespace sandbox
