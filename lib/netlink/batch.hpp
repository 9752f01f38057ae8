// SPDX-License-Identifier: Apache-2.0
// An nfnetlink batch in one buffer: BATCH_BEGIN, messages, BATCH_END, sent with one sendmsg.
// Remembers which transaction operations each message carries so that errors can name them.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace warren::nft::netlink {

class Batch {
public:
    struct Message {
        std::uint32_t seq;
        std::size_t offset;                   // of its nlmsghdr in bytes()
        std::vector<std::size_t> operations;  // transaction operation indexes it carries
    };

    // `first_seq` numbers BATCH_BEGIN; messages take the following numbers.
    // `generation`: NFNL_BATCH_GENID, the kernel then refuses the batch if the ruleset moved on.
    Batch(std::uint32_t first_seq, std::optional<std::uint32_t> generation, bool ack_begin);

    // Starts an nf_tables message at the end of the buffer; fill its payload, then call finish().
    // The room after the header is not zeroed: the writer must write every byte, padding included.
    nlmsghdr* start(std::uint16_t type, std::uint16_t family, std::uint16_t flags);
    // The same, for writers that leave attribute padding as it was (libmnl and libnftnl do): the
    // room for the message is zeroed first.
    nlmsghdr* start_zeroed(std::uint16_t type, std::uint16_t family, std::uint16_t flags);
    void finish(std::vector<std::size_t> operations);
    // Appends BATCH_END; `ack_end` asks the kernel to acknowledge it (honoured from Linux 6.10).
    void end(bool ack_end);

    // Asks for an ack of the last message, the end-of-batch marker on kernels that ignore batch acks.
    void request_ack_of_last_message();

    std::span<const std::uint8_t> bytes() const noexcept { return {buffer_.get(), size_}; }
    const std::vector<Message>& messages() const noexcept { return messages_; }
    std::uint32_t begin_seq() const noexcept { return begin_seq_; }
    std::uint32_t end_seq() const noexcept { return end_seq_; }
    // The seq after the last one used, for the socket's counter.
    std::uint32_t next_seq() const noexcept { return next_seq_; }
    const nlmsghdr* header(const Message& message) const noexcept;
    // The message numbered `seq`; nullptr for BATCH_BEGIN/BATCH_END and numbers not in the batch.
    const Message* message(std::uint32_t seq) const noexcept;

private:
    nlmsghdr* tail();

    // Not zero-filled as a whole: zeroing the room reserved for the largest message cost every
    // publish a few microseconds. Element messages, the hot path, write their own padding.
    std::unique_ptr<std::uint8_t[]> buffer_;
    std::size_t capacity_ = 0;
    std::size_t size_ = 0;
    std::uint32_t begin_seq_;
    std::uint32_t end_seq_ = 0;
    std::uint32_t next_seq_;
    std::vector<Message> messages_;
};

}  // namespace warren::nft::netlink
