// SPDX-License-Identifier: Apache-2.0
#include "netlink/conntrack.hpp"

#include "kernel_error.hpp"

#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace warren::nft::netlink {
namespace {

// The kernel's CTA_FILTER_F_* bits (net/netfilter/nf_conntrack_netlink.c); no uapi header has them.
constexpr std::uint32_t filter_ip_dst = 1u << 1;
constexpr std::uint32_t filter_proto_num = 1u << 3;
constexpr std::uint32_t filter_proto_dst_port = 1u << 5;

// Acks queue as one socket buffer each, and without CAP_NET_ADMIN in the initial user namespace the
// receive queue is capped at rmem_max (208 KiB by default): the acks of this many requests fit.
constexpr std::size_t requests_per_datagram = 128;

std::size_t address_length(int family) { return family == AF_INET ? 4 : 16; }

// Some parts of a tuple: a dump filter names only what it filters on.
struct TupleParts {
    int family = 0;
    std::uint8_t l4proto = 0;
    const std::uint8_t* source = nullptr;
    const std::uint8_t* destination = nullptr;
    std::optional<std::uint16_t> source_port;
    std::optional<std::uint16_t> destination_port;
};

void put_tuple_parts(nlmsghdr* nlh, std::uint16_t attribute, const TupleParts& t)
{
    const bool v4 = t.family == AF_INET;
    const auto length = address_length(t.family);
    nlattr* tuple = mnl_attr_nest_start(nlh, attribute);
    if (t.source || t.destination) {
        nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
        if (t.source)
            mnl_attr_put(nlh, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, length, t.source);
        if (t.destination)
            mnl_attr_put(nlh, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, length, t.destination);
        mnl_attr_nest_end(nlh, ip);
    }
    nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t.l4proto);
    if (t.source_port)
        mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(*t.source_port));
    if (t.destination_port)
        mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(*t.destination_port));
    mnl_attr_nest_end(nlh, proto);
    mnl_attr_nest_end(nlh, tuple);
}

std::optional<std::uint16_t> port_of(const nlattr* attr)
{
    if (mnl_attr_get_payload_len(attr) < sizeof(std::uint16_t))
        return std::nullopt;
    return ntohs(mnl_attr_get_u16(attr));
}

// Reads CTA_TUPLE_ORIG or CTA_TUPLE_REPLY into `t`, whose family is set. False when a part we need is missing (other
// protocols than ours have no ports) or malformed.
bool parse_tuple(const nlattr* nest, FlowTuple& t)
{
    const bool v4 = t.family == AF_INET;
    const auto length = address_length(t.family);
    bool source = false, destination = false, proto = false;
    std::optional<std::uint16_t> source_port, destination_port;
    for_each_attribute(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), [&](const nlattr* part) {
        if (mnl_attr_get_type(part) == CTA_TUPLE_IP) {
            for_each_attribute(mnl_attr_get_payload(part), mnl_attr_get_payload_len(part), [&](const nlattr* ip) {
                const auto type = mnl_attr_get_type(ip);
                if (mnl_attr_get_payload_len(ip) != length)
                    return;
                if (type == (v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC)) {
                    std::memcpy(t.source.data(), mnl_attr_get_payload(ip), length);
                    source = true;
                } else if (type == (v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST)) {
                    std::memcpy(t.destination.data(), mnl_attr_get_payload(ip), length);
                    destination = true;
                }
            });
        } else if (mnl_attr_get_type(part) == CTA_TUPLE_PROTO) {
            for_each_attribute(mnl_attr_get_payload(part), mnl_attr_get_payload_len(part), [&](const nlattr* p) {
                switch (mnl_attr_get_type(p)) {
                    case CTA_PROTO_NUM:
                        if (mnl_attr_get_payload_len(p) >= sizeof(std::uint8_t)) {
                            t.l4proto = mnl_attr_get_u8(p);
                            proto = true;
                        }
                        break;
                    case CTA_PROTO_SRC_PORT: source_port = port_of(p); break;
                    case CTA_PROTO_DST_PORT: destination_port = port_of(p); break;
                    default: break;
                }
            });
        }
    });
    if (!source || !destination || !proto || !source_port || !destination_port)
        return false;
    t.source_port = *source_port;
    t.destination_port = *destination_port;
    return true;
}

bool same_endpoint(int family, const Endpoint& a, const Endpoint& b)
{
    return a.second == b.second && std::memcmp(a.first.data(), b.first.data(), address_length(family)) == 0;
}

bool answered_by(const TrackedEntry& entry, const Endpoint& source)
{
    return entry.reply && same_endpoint(entry.original.family, {entry.reply->source, entry.reply->source_port}, source);
}

// Checked here for every entry a dump returns, filtered or not: kernels ignore the port filter for
// SCTP (only TCP and UDP ports are compared), ignore filters they do not know, and may lack CTA_FILTER.
bool matches(const FlowMatch& match, const TrackedEntry& entry)
{
    const auto& t = entry.original;
    return t.family == match.family && t.l4proto == match.l4proto && t.destination_port == match.port &&
           (!match.address || std::memcmp(match.address->data(), t.destination.data(), address_length(t.family)) == 0) &&
           (!match.unreplied_only || !(entry.status & IPS_SEEN_REPLY)) &&
           (!match.reply_source || answered_by(entry, *match.reply_source)) &&
           std::none_of(match.spared.begin(), match.spared.end(),
                        [&](const Endpoint& spared) { return answered_by(entry, spared); });
}

// Whether every entry `b` matches is also one `a` matches.
bool covers(const FlowMatch& a, const FlowMatch& b)
{
    const auto family = a.family;
    // An entry that `a` spares is one `b` spares too, or one `b` does not match anyway.
    const auto spared_by_b = [&](const Endpoint& spared) {
        return std::any_of(b.spared.begin(), b.spared.end(),
                           [&](const Endpoint& e) { return same_endpoint(family, e, spared); }) ||
               (b.reply_source && !same_endpoint(family, *b.reply_source, spared));
    };
    return a.family == b.family && a.l4proto == b.l4proto && a.port == b.port &&
           (!a.address || (b.address && std::memcmp(a.address->data(), b.address->data(), address_length(a.family)) == 0)) &&
           (!a.unreplied_only || b.unreplied_only) &&
           (!a.reply_source || (b.reply_source && same_endpoint(family, *a.reply_source, *b.reply_source))) &&
           std::all_of(a.spared.begin(), a.spared.end(), spared_by_b);
}

// Whether matches[i] can be left out: another match covers it (of two equal ones, the first stays).
bool redundant(std::span<const FlowMatch> matches, std::size_t i)
{
    for (std::size_t j = 0; j < matches.size(); ++j)
        if (j != i && covers(matches[j], matches[i]) && (j < i || !covers(matches[i], matches[j])))
            return true;
    return false;
}

std::string describe(const FlowMatch& match)
{
    std::string text = match.l4proto == IPPROTO_TCP    ? "tcp"
                       : match.l4proto == IPPROTO_UDP  ? "udp"
                       : match.l4proto == IPPROTO_SCTP ? "sctp"
                                                       : "protocol " + std::to_string(match.l4proto);
    text += " port " + std::to_string(match.port);
    if (match.address) {
        char address[INET6_ADDRSTRLEN] = "?";
        inet_ntop(match.family, match.address->data(), address, sizeof address);
        text += std::string(" of ") + address;
    }
    const auto endpoint = [&](const Endpoint& e) {
        char address[INET6_ADDRSTRLEN] = "?";
        inet_ntop(match.family, e.first.data(), address, sizeof address);
        return std::string(address) + " port " + std::to_string(e.second);
    };
    if (match.reply_source)
        text += " answered by " + endpoint(*match.reply_source);
    for (std::size_t i = 0; i < match.spared.size(); ++i)
        text += (i == 0 ? ", except those answered by " : " or ") + endpoint(match.spared[i]);
    return text + (match.family == AF_INET ? " (IPv4)" : " (IPv6)") + (match.unreplied_only ? ", unreplied" : "");
}

int request_dump(Socket& socket, const FlowMatch& match, bool filtered, std::vector<TrackedEntry>& out)
{
    alignas(nlmsghdr) std::uint8_t buffer[RequestBatcher::max_request_bytes];
    const std::uint32_t seq = socket.next_seq();
    nlmsghdr* nlh = put_conntrack_header(buffer, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, match.family, seq);
    if (filtered) {
        // The kernel compares IPv6 addresses the wrong way round in dump filters (an entry is skipped
        // when its address is equal), so only IPv4 addresses are left to the kernel.
        const bool by_address = match.address && match.family == AF_INET;
        put_tuple_parts(
            nlh, CTA_TUPLE_ORIG,
            {match.family, match.l4proto, nullptr, by_address ? match.address->data() : nullptr, std::nullopt, match.port});
        nlattr* filter = mnl_attr_nest_start(nlh, CTA_FILTER);
        mnl_attr_put_u32(nlh, CTA_FILTER_ORIG_FLAGS, filter_proto_num | filter_proto_dst_port | (by_address ? filter_ip_dst : 0));
        mnl_attr_nest_end(nlh, filter);
        if (match.unreplied_only) {
            // Kernels without the status filter ignore these.
            mnl_attr_put_u32(nlh, CTA_STATUS, 0);
            mnl_attr_put_u32(nlh, CTA_STATUS_MASK, htonl(IPS_SEEN_REPLY));
        }
    }
    socket.send({buffer, nlh->nlmsg_len});
    return receive_answer(socket, seq, [&](const nlmsghdr* reply) {
        auto entry = parse_entry(reply);
        if (entry && matches(match, *entry))
            out.push_back(std::move(*entry));
    });
}

// How many entries the namespace's table holds (IPCTNL_MSG_CT_GET_STATS); std::nullopt when the
// kernel does not say.
std::optional<std::uint32_t> tracked_entries(Socket& socket)
{
    alignas(nlmsghdr) std::uint8_t buffer[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg))];
    const std::uint32_t seq = socket.next_seq();
    const nlmsghdr* nlh = put_conntrack_header(buffer, IPCTNL_MSG_CT_GET_STATS, NLM_F_REQUEST | NLM_F_ACK, AF_UNSPEC, seq);
    socket.send({buffer, nlh->nlmsg_len});
    std::optional<std::uint32_t> entries;
    const int err = receive_answer(socket, seq, [&](const nlmsghdr* reply) {
        if (mnl_nlmsg_get_payload_len(reply) < sizeof(nfgenmsg))
            return;
        const auto* attributes = static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(reply)) + sizeof(nfgenmsg);
        for_each_attribute(attributes, mnl_nlmsg_get_payload_len(reply) - sizeof(nfgenmsg), [&](const nlattr* attr) {
            if (mnl_attr_get_type(attr) == CTA_STATS_GLOBAL_ENTRIES && mnl_attr_get_payload_len(attr) >= sizeof(std::uint32_t))
                entries = ntohl(mnl_attr_get_u32(attr));
        });
    });
    return err ? std::nullopt : entries;
}

// Adds the entries `match` matches to `out`: a dump of the family, filtered by the kernel while
// `kernel_filters` holds, and always here.
void collect(Socket& socket, const FlowMatch& match, bool& kernel_filters, std::vector<TrackedEntry>& out)
{
    const auto before = out.size();
    int err = request_dump(socket, match, kernel_filters, out);
    if (err && kernel_filters && (err == EOPNOTSUPP || err == EINVAL)) {
        // A kernel before 5.9 has no CTA_FILTER (older ones ignore it without a word). Then every
        // entry of the family comes to user space and matches() picks: the cost grows with the table.
        out.resize(before);
        err = request_dump(socket, match, false, out);
        if (!err)
            kernel_filters = false;
    }
    if (err)
        throw kernel_error(err, "dump conntrack entries to " + describe(match));
}

}  // namespace

std::optional<TrackedEntry> parse_entry(const nlmsghdr* nlh)
{
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(nfgenmsg))
        return std::nullopt;
    const auto* header = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    TrackedEntry entry;
    entry.original.family = header->nfgen_family;
    if (entry.original.family != AF_INET && entry.original.family != AF_INET6)
        return std::nullopt;
    bool tuple = false, status = false;
    const auto* attributes = static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(nlh)) + sizeof(nfgenmsg);
    for_each_attribute(attributes, mnl_nlmsg_get_payload_len(nlh) - sizeof(nfgenmsg), [&](const nlattr* attr) {
        const auto length = mnl_attr_get_payload_len(attr);
        switch (mnl_attr_get_type(attr)) {
            case CTA_TUPLE_ORIG: tuple = parse_tuple(attr, entry.original); break;
            case CTA_TUPLE_REPLY: {
                FlowTuple reply;
                reply.family = entry.original.family;
                if (parse_tuple(attr, reply))
                    entry.reply = reply;
                break;
            }
            case CTA_STATUS:
                if (length >= sizeof(std::uint32_t)) {
                    entry.status = ntohl(mnl_attr_get_u32(attr));
                    status = true;
                }
                break;
            case CTA_ID:
                if (length >= sizeof(std::uint32_t))
                    entry.id = mnl_attr_get_u32(attr);
                break;
            case CTA_ZONE:
                if (length >= sizeof(std::uint16_t))
                    entry.zone = mnl_attr_get_u16(attr);
                break;
            default: break;
        }
    });
    if (!tuple || !status)
        return std::nullopt;
    return entry;
}

FlowTuple FlowTuple::reversed() const
{
    FlowTuple r = *this;
    std::swap(r.source, r.destination);
    std::swap(r.source_port, r.destination_port);
    return r;
}

nlmsghdr* put_conntrack_header(void* buffer, std::uint16_t type, std::uint16_t flags, int family, std::uint32_t seq)
{
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer);
    nlh->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | type);
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = seq;
    auto* header = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    header->nfgen_family = static_cast<std::uint8_t>(family);
    header->version = NFNETLINK_V0;
    header->res_id = 0;
    return nlh;
}

void put_tuple(nlmsghdr* nlh, std::uint16_t attribute, const FlowTuple& tuple)
{
    put_tuple_parts(
        nlh, attribute,
        {tuple.family, tuple.l4proto, tuple.source.data(), tuple.destination.data(), tuple.source_port, tuple.destination_port});
}

RequestBatcher::RequestBatcher(Socket& socket, std::string operation, std::vector<int> tolerated)
    : socket_(socket),
      operation_(std::move(operation)),
      tolerated_(std::move(tolerated)),
      buffer_(requests_per_datagram * max_request_bytes)
{
}

nlmsghdr* RequestBatcher::start(std::uint16_t type, std::uint16_t flags, int family)
{
    if (pending_.size() == requests_per_datagram)
        flush();
    started_seq_ = socket_.next_seq();
    return put_conntrack_header(buffer_.data() + used_, type, static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags),
                                family, started_seq_);
}

void RequestBatcher::add()
{
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data() + used_);
    if (nlh->nlmsg_len > max_request_bytes)
        throw std::logic_error("a ctnetlink request outgrew its room");
    used_ += MNL_ALIGN(nlh->nlmsg_len);
    pending_.push_back(started_seq_);
}

std::size_t RequestBatcher::finish()
{
    flush();
    return carried_out_;
}

void RequestBatcher::flush()
{
    if (pending_.empty())
        return;
    socket_.send({buffer_.data(), used_});
    const std::uint32_t first = pending_.front();
    std::size_t answered = 0;
    int refused = 0;
    while (answered < pending_.size()) {
        const auto data = *socket_.receive(false);
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(data.data());
        int remaining = static_cast<int>(data.size());
        for (; message_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
            if (nlh->nlmsg_type != NLMSG_ERROR)
                continue;
            const Ack ack = parse_ack(nlh);
            if (ack.seq - first >= pending_.size())  // modulo 2^32: seqs may wrap
                continue;                            // a straggler from an earlier exchange
            ++answered;
            if (ack.error == 0)
                ++carried_out_;
            else if (!refused && std::find(tolerated_.begin(), tolerated_.end(), ack.error) == tolerated_.end())
                refused = ack.error;
        }
    }
    used_ = 0;
    pending_.clear();
    if (refused)
        throw kernel_error(refused, operation_);
}

ConntrackTable::ConntrackTable() = default;

std::size_t ConntrackTable::forget(std::span<const FlowMatch> matches)
{
    for (const auto& match : matches)
        if (match.family != AF_INET && match.family != AF_INET6)
            throw Error(errc::invalid_argument,
                        "forget conntrack entries: family " + std::to_string(match.family) + " is neither AF_INET nor AF_INET6");
    try {
        // A dump walks the kernel's whole hash table, which every namespace shares (262,144 buckets
        // on a host with 24 GiB): milliseconds even when this namespace tracks nothing. Entries made
        // after this count came after the commit that called us, under the new rules.
        if (matches.empty() || tracked_entries(socket_) == 0u)
            return 0;
        std::vector<TrackedEntry> doomed;
        for (std::size_t i = 0; i < matches.size(); ++i)
            if (!redundant(matches, i))
                collect(socket_, matches[i], kernel_filters_, doomed);
        if (doomed.empty())
            return 0;
        RequestBatcher deletes(socket_, "delete conntrack entries", {ENOENT});  // ENOENT: gone meanwhile
        for (const auto& entry : doomed) {
            nlmsghdr* nlh = deletes.start(IPCTNL_MSG_CT_DELETE, 0, entry.original.family);
            put_tuple(nlh, CTA_TUPLE_ORIG, entry.original);
            if (entry.id)
                mnl_attr_put_u32(nlh, CTA_ID, *entry.id);
            if (entry.zone)
                mnl_attr_put_u16(nlh, CTA_ZONE, *entry.zone);
            deletes.add();
        }
        return deletes.finish();
    } catch (...) {
        // Replies of the failed exchange may still come, or a dump still run; a new socket starts clean.
        try {
            socket_ = Socket();
        } catch (const Error&) {
        }
        throw;
    }
}

}  // namespace warren::nft::netlink
