// SPDX-License-Identifier: Apache-2.0
#include "raw_batch.hpp"

#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <system_error>

namespace bench {

RawBatchSocket::RawBatchSocket(std::string who)
    : socket_(mnl_socket_open(NETLINK_NETFILTER)), who_(std::move(who)), buffer_(MNL_SOCKET_BUFFER_SIZE * 4)
{
    if (!socket_ || mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        throw std::system_error(errno, std::generic_category(), who_ + ": netlink socket");
}

void RawBatchSocket::commit(std::span<const Message> messages)
{
    auto* batch = mnl_nlmsg_batch_start(buffer_.data(), buffer_.size() / 2);
    nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq_++);
    mnl_nlmsg_batch_next(batch);
    std::size_t left = messages.size();
    for (const auto& message : messages) {
        const auto flags = static_cast<std::uint16_t>(message.flags | (--left == 0 ? NLM_F_ACK : 0));
        auto* nlh =
            nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)), message.type, message.family, flags, seq_);
        last_seq_ = seq_++;
        message.payload(nlh);
        mnl_nlmsg_batch_next(batch);
    }
    nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq_++);
    mnl_nlmsg_batch_next(batch);
    // The batch's bytes are in buffer_; only its bookkeeping is freed here.
    const auto* head = mnl_nlmsg_batch_head(batch);
    const auto size = mnl_nlmsg_batch_size(batch);
    mnl_nlmsg_batch_stop(batch);
    send(head, size);
    wait_for_ack();
}

void RawBatchSocket::commit(const warren::nft::netlink::Batch& batch)
{
    if (batch.messages().empty())
        return;
    seq_ = batch.next_seq();
    last_seq_ = batch.messages().back().seq;
    send(batch.bytes().data(), batch.bytes().size());
    wait_for_ack();
}

void RawBatchSocket::send(const void* bytes, std::size_t size)
{
    if (mnl_socket_sendto(socket_.get(), bytes, size) < 0)
        throw std::system_error(errno, std::generic_category(), who_ + ": sendmsg");
}

void RawBatchSocket::wait_for_ack()
{
    for (;;) {
        const auto received = mnl_socket_recvfrom(socket_.get(), buffer_.data(), buffer_.size());
        if (received < 0)
            throw std::system_error(errno, std::generic_category(), who_ + ": recvmsg");
        auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data());
        auto remaining = static_cast<int>(received);
        for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
            if (nlh->nlmsg_type != NLMSG_ERROR)
                continue;
            const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
            if (error->error != 0)
                throw std::system_error(-error->error, std::generic_category(), who_ + ": the kernel refused the batch");
            if (nlh->nlmsg_seq == last_seq_)
                return;
        }
    }
}

}  // namespace bench
