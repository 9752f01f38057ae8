// SPDX-License-Identifier: Apache-2.0
#include "netlink/batch.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nfnetlink.h>

#include <arpa/inet.h>

#include <cstring>

namespace warren::nft::netlink {
namespace {
// Room reserved for the message being built; element messages are capped well below this.
constexpr std::size_t max_message_bytes = 64 * 1024;
}  // namespace

Batch::Batch(std::uint32_t first_seq, std::optional<std::uint32_t> generation, bool ack_begin)
    : begin_seq_(first_seq), next_seq_(first_seq + 1)
{
    auto* nlh = static_cast<nlmsghdr*>(nftnl_batch_begin(reinterpret_cast<char*>(tail()), begin_seq_));
    if (ack_begin)
        nlh->nlmsg_flags |= NLM_F_ACK;
    // libnftnl never adds the generation id; the kernel checks it before applying anything.
    if (generation)
        mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(*generation));
    size_ += MNL_ALIGN(nlh->nlmsg_len);
}

nlmsghdr* Batch::tail()
{
    if (capacity_ < size_ + max_message_bytes) {
        const auto capacity = (size_ + max_message_bytes) * 2;
        auto larger = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
        if (size_ > 0)
            std::memcpy(larger.get(), buffer_.get(), size_);
        buffer_ = std::move(larger);
        capacity_ = capacity;
    }
    return reinterpret_cast<nlmsghdr*>(buffer_.get() + size_);
}

nlmsghdr* Batch::start(std::uint16_t type, std::uint16_t family, std::uint16_t flags)
{
    return nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(tail()), type, family, flags, next_seq_);
}

nlmsghdr* Batch::start_zeroed(std::uint16_t type, std::uint16_t family, std::uint16_t flags)
{
    std::memset(tail(), 0, max_message_bytes);
    return start(type, family, flags);
}

void Batch::finish(std::vector<std::size_t> operations)
{
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.get() + size_);
    messages_.push_back(Message{next_seq_++, size_, std::move(operations)});
    size_ += MNL_ALIGN(nlh->nlmsg_len);
}

void Batch::request_ack_of_last_message()
{
    if (!messages_.empty())
        reinterpret_cast<nlmsghdr*>(buffer_.get() + messages_.back().offset)->nlmsg_flags |= NLM_F_ACK;
}

void Batch::end(bool ack_end)
{
    end_seq_ = next_seq_++;
    auto* nlh = static_cast<nlmsghdr*>(nftnl_batch_end(reinterpret_cast<char*>(tail()), end_seq_));
    if (ack_end)
        nlh->nlmsg_flags |= NLM_F_ACK;
    size_ += MNL_ALIGN(nlh->nlmsg_len);
}

const nlmsghdr* Batch::header(const Message& message) const noexcept
{
    return reinterpret_cast<const nlmsghdr*>(buffer_.get() + message.offset);
}

const Batch::Message* Batch::message(std::uint32_t seq) const noexcept
{
    for (const auto& message : messages_)
        if (message.seq == seq)
            return &message;
    return nullptr;
}

}  // namespace warren::nft::netlink
