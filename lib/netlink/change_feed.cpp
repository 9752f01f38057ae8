// SPDX-License-Identifier: Apache-2.0
#include "netlink/change_feed.hpp"

#include "kernel_error.hpp"
#include "netlink/decode.hpp"
#include "netlink/nftnl_ptr.hpp"

#include <arpa/inet.h>  // before the linux/ headers, which then skip their own struct in_addr

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

namespace warren::nft::netlink {

using namespace ruleset;

namespace {

// The kernel queues a commit's announcements before the committing sendmsg() returns, but a
// generation id may be visible (GETGEN) a moment earlier; this bounds the wait for them.
constexpr auto announcement_wait = std::chrono::seconds(1);

// Debian 12's uapi headers (6.1) predate the DESTROY* messages (Linux 6.3); they are announced like
// the DEL* they resemble.
constexpr std::uint16_t nft_msg_destroy_first = 26;  // DESTROYTABLE
constexpr std::uint16_t nft_msg_destroy_last = 30;   // DESTROYSETELEM

// Every nf_tables object message names its table in attribute 1 (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE,
// NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE).
constexpr std::uint16_t table_name_attribute = 1;

std::uint16_t message_type(const nlmsghdr* nlh) { return NFNL_MSG_TYPE(nlh->nlmsg_type); }

// DESTROY* as the DEL* it resembles; the rest as they are.
std::uint16_t canonical(std::uint16_t type)
{
    static constexpr std::uint16_t del[] = {NFT_MSG_DELTABLE, NFT_MSG_DELCHAIN, NFT_MSG_DELRULE, NFT_MSG_DELSET,
                                            NFT_MSG_DELSETELEM};
    if (type >= nft_msg_destroy_first && type <= nft_msg_destroy_last)
        return del[type - nft_msg_destroy_first];
    return type;
}

// The first attribute `type` of an nf_tables message (after its nfgenmsg header), or nullptr.
const nlattr* find_attribute(const nlmsghdr* nlh, std::uint16_t type)
{
    const nlattr* found = nullptr;
    const std::size_t payload = mnl_nlmsg_get_payload_len(nlh);
    if (payload < sizeof(nfgenmsg))
        return nullptr;
    for_each_attribute(static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(nlh)) + sizeof(nfgenmsg),
                       payload - sizeof(nfgenmsg), [&](const nlattr* attr) {
                           if (!found && mnl_attr_get_type(attr) == type)
                               found = attr;
                       });
    return found;
}

std::optional<std::string_view> string_attribute(const nlmsghdr* nlh, std::uint16_t type)
{
    const auto* attr = find_attribute(nlh, type);
    if (!attr)
        return std::nullopt;
    const auto* text = static_cast<const char*>(mnl_attr_get_payload(attr));
    return std::string_view(text, strnlen(text, mnl_attr_get_payload_len(attr)));
}

// The string attribute `type`, if it holds its terminating NUL; else nullptr.
const char* terminated_string(const nlmsghdr* nlh, std::uint16_t type)
{
    const auto* attr = find_attribute(nlh, type);
    if (!attr)
        return nullptr;
    const auto* text = static_cast<const char*>(mnl_attr_get_payload(attr));
    return strnlen(text, mnl_attr_get_payload_len(attr)) < mnl_attr_get_payload_len(attr) ? text : nullptr;
}

std::optional<std::uint32_t> u32_attribute(const nlmsghdr* nlh, std::uint16_t type)
{
    const auto* attr = find_attribute(nlh, type);
    if (!attr || mnl_attr_get_payload_len(attr) < sizeof(std::uint32_t))
        return std::nullopt;
    return ntohl(mnl_attr_get_u32(attr));
}

// The events one announcement stands for: one per element for element messages, else one.
void decode(const nlmsghdr* nlh, std::vector<TableEvent>& out)
{
    const auto type = canonical(message_type(nlh));
    const auto family = static_cast<Family>(static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh))->nfgen_family);
    const auto text = [&](std::uint16_t attribute) { return std::string(string_attribute(nlh, attribute).value_or("")); };
    switch (type) {
        case NFT_MSG_NEWTABLE:
        case NFT_MSG_DELTABLE:
            out.push_back(TableEvent{TableEvent::Kind::table, family, type == NFT_MSG_DELTABLE, {}, {}});
            return;
        case NFT_MSG_NEWCHAIN:
        case NFT_MSG_DELCHAIN:
            out.push_back(TableEvent{TableEvent::Kind::chain, family, type == NFT_MSG_DELCHAIN, text(NFTA_CHAIN_NAME), {}});
            return;
        case NFT_MSG_NEWRULE:
        case NFT_MSG_DELRULE:
            out.push_back(TableEvent{TableEvent::Kind::rule, family, type == NFT_MSG_DELRULE, text(NFTA_RULE_CHAIN), {}});
            return;
        case NFT_MSG_NEWSET:
        case NFT_MSG_DELSET:
            out.push_back(TableEvent{TableEvent::Kind::set, family, type == NFT_MSG_DELSET, text(NFTA_SET_NAME), {}});
            return;
        case NFT_MSG_NEWSETELEM:
        case NFT_MSG_DELSETELEM: {
            const bool removed = type == NFT_MSG_DELSETELEM;
            const auto set_name = terminated_string(nlh, NFTA_SET_ELEM_LIST_SET);
            auto set = checked<SetPtr>(nftnl_set_alloc());
            if (!set_name || !safe_for_libnftnl(nlh, NftnlParser::elements) || nftnl_set_elems_nlmsg_parse(nlh, set.get()) != 0)
                throw kernel_error(EPROTO, "read change announcements", "an element announcement that does not parse");
            const std::string name(set_name);
            const auto iter = checked<SetElemsIterPtr>(nftnl_set_elems_iter_create(set.get()));
            // Each element is announced, a flushed set's too. (A catch-all element has no key: the
            // view ignores it, as it ignores every key it never writes.)
            for (auto* e = nftnl_set_elems_iter_next(iter.get()); e; e = nftnl_set_elems_iter_next(iter.get()))
                out.push_back(TableEvent{TableEvent::Kind::element, family, removed, name, decode_element(e, name)});
            return;
        }
        default: return;  // objects we do not keep (flowtables, stateful objects)
    }
}

}  // namespace

Announcements::Announcements(std::vector<Table> tables, std::uint32_t own_port_id)
    : tables_(std::move(tables)), own_port_id_(own_port_id)
{
}

KernelChangeFeed::KernelChangeFeed(std::vector<Table> tables, std::uint32_t own_port_id, int queue_bytes)
    : socket_(NFNLGRP_NFTABLES, queue_bytes),
      announcements_(std::move(tables), own_port_id),
      buffer_(batch_datagrams * datagram_bytes)
{
}

// Receives what is queued, up to a batch of datagrams in one system call: a publisher reads the
// feed before every decision, usually to find its own last transaction and nothing else. Returns the
// number received (0: none queued), or nullopt when announcements were dropped (ENOBUFS).
std::optional<std::size_t> KernelChangeFeed::receive_batch()
{
    std::array<mmsghdr, batch_datagrams> headers{};
    std::array<iovec, batch_datagrams> vectors{};
    for (std::size_t i = 0; i < batch_datagrams; ++i) {
        vectors[i] = iovec{buffer_.data() + i * datagram_bytes, datagram_bytes};
        headers[i].msg_hdr.msg_iov = &vectors[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        const int received = recvmmsg(socket_.fd(), headers.data(), batch_datagrams, MSG_DONTWAIT, nullptr);
        if (received >= 0) {
            for (int i = 0; i < received; ++i) {
                // Announcements are at most a page or two; one that did not fit is lost.
                if (headers[static_cast<std::size_t>(i)].msg_hdr.msg_flags & MSG_TRUNC)
                    return std::nullopt;
                sizes_[static_cast<std::size_t>(i)] = headers[static_cast<std::size_t>(i)].msg_len;
            }
            return static_cast<std::size_t>(received);
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == ENOBUFS)
            return std::nullopt;
        throw kernel_error(errno, "read change announcements");
    }
}

FeedRead KernelChangeFeed::read(std::optional<std::uint32_t> until)
{
    FeedRead out;
    const auto deadline = std::chrono::steady_clock::now() + announcement_wait;
    for (;;) {
        const auto received = receive_batch();
        if (!received) {
            // Announcements were dropped: the transaction being read is incomplete, and any wait
            // for a generation is moot, since the table must be read anew (after start_over()).
            out.lost = true;
            announcements_.start_over();
            until.reset();
            continue;
        }
        for (std::size_t i = 0; i < *received; ++i)
            announcements_.take({buffer_.data() + i * datagram_bytes, sizes_[i]}, out);
        if (*received == batch_datagrams)
            continue;  // more may be queued
        const auto last_generation = announcements_.last_generation();
        if (!until || (last_generation && !generation_after(*until, *last_generation)))
            return out;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            out.lost = true;  // never announced in time: treat the table as unknown
            return out;
        }
        pollfd waiting{socket_.fd(), POLLIN, 0};
        poll(&waiting, 1, static_cast<int>(left.count()) + 1);
    }
}

bool Announcements::ours(const nlmsghdr* nlh) const
{
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nfgenmsg))
        return false;
    const auto* header = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    const auto name = string_attribute(nlh, table_name_attribute);
    if (!name)
        return false;
    for (const auto& table : tables_)
        if (header->nfgen_family == static_cast<std::uint8_t>(table.family) && *name == table.name)
            return true;
    return false;
}

void Announcements::take(std::span<const std::uint8_t> datagram, FeedRead& out)
{
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data());
    int remaining = static_cast<int>(datagram.size());
    for (; message_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
        if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
            continue;
        if (message_type(nlh) == NFT_MSG_NEWGEN)
            close_transaction(nlh, out);
        else if (ours(nlh)) {
            // Each at an aligned offset, as in a datagram, so that the next header is aligned too.
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(nlh);
            pending_.insert(pending_.end(), bytes, bytes + nlh->nlmsg_len);
            pending_.resize(pending_.size() + (NLMSG_ALIGN(nlh->nlmsg_len) - nlh->nlmsg_len));
        }
    }
}

void Announcements::close_transaction(const nlmsghdr* newgen, FeedRead& out)
{
    Change change;
    change.port_id = newgen->nlmsg_pid;  // the committing socket's, as for all its announcements
    change.generation = u32_attribute(newgen, NFTA_GEN_ID).value_or(0);
    change.pid = u32_attribute(newgen, NFTA_GEN_PROC_PID).value_or(0);
    change.process = std::string(string_attribute(newgen, NFTA_GEN_PROC_NAME).value_or(""));
    last_generation_ = change.generation;
    const auto verdict = ignored_.judge(change.generation, change.port_id);
    struct Forget {
        std::vector<std::uint8_t>& pending;
        ~Forget() { pending.clear(); }
    } forget{pending_};
    if (verdict == OwnGenerations::Verdict::mine)
        return;
    change.contested = verdict == OwnGenerations::Verdict::contested;
    try {
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(pending_.data());
        // Whole messages only: take() copied each in full.
        for (int left = static_cast<int>(pending_.size()); message_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
            decode(nlh, change.events);
    } catch (const Error&) {
        // An announcement we cannot read: what it changed is unknown, as after a loss.
        out.lost = true;
        return;
    }
    out.changes.push_back(std::move(change));
}

}  // namespace warren::nft::netlink
