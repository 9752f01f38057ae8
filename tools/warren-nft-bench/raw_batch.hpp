// SPDX-License-Identifier: Apache-2.0
// A bare netlink socket that commits hand-built nf_tables batches (libnftnl messages sent with
// libmnl) and waits for the kernel's ack: the least any program can do to commit, which is what the
// `floor` method measures and how the foreign writer commits without disturbing what it runs beside.
#pragma once

#include "netlink/batch.hpp"
#include "netlink/nftnl_ptr.hpp"

#include <libmnl/libmnl.h>
// glibc's first: <linux/netfilter.h> brings <linux/in.h>, which defers to glibc's only when it came
// before, and so lets includers of this header include <netinet/in.h> after it.
#include <netinet/in.h>
#include <linux/netfilter.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace bench {

class RawBatchSocket {
public:
    // `who` starts every error message ("floor", "foreign writer").
    explicit RawBatchSocket(std::string who);

    struct Message {
        std::uint16_t type;                      // NFT_MSG_*
        std::uint16_t flags;                     // NLM_F_*; the last message of a batch also gets NLM_F_ACK
        std::function<void(nlmsghdr*)> payload;  // e.g. nftnl_set_elems_nlmsg_build_payload
        std::uint16_t family = NFPROTO_IPV4;     // of the table it changes: NFPROTO_IPV4, NFPROTO_IPV6
    };
    // Sends `messages` as one batch, one transaction whatever tables they change, and returns once
    // the kernel acked the last: then the batch is committed. Only the last asks for an ack, so a
    // refusal of an earlier message arrives first and throws std::system_error.
    void commit(std::span<const Message> messages);
    void commit(std::initializer_list<Message> messages) { commit(std::span(messages.begin(), messages.size())); }
    // Sends a batch the library's encoder built, numbered from next_seq(), that asks for an ack of
    // its last message, and returns once the kernel acked it.
    void commit(const warren::nft::netlink::Batch& batch);
    std::uint32_t next_seq() const noexcept { return seq_; }

private:
    void send(const void* bytes, std::size_t size);
    void wait_for_ack();

    std::unique_ptr<mnl_socket, warren::nft::netlink::Deleter<mnl_socket_close>> socket_;
    std::string who_;
    std::vector<char> buffer_;
    std::uint32_t seq_ = 1;
    std::uint32_t last_seq_ = 0;
};

}  // namespace bench
