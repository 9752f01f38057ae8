// SPDX-License-Identifier: Apache-2.0
// A NETLINK_NETFILTER socket (libmnl) with extended acks, sized for our batches (or a socket of
// another netlink bus, such as NETLINK_SOCK_DIAG).
#pragma once

#include <libmnl/libmnl.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace warren::nft::netlink {

// One NLMSG_ERROR reply: the kernel's ack (error 0) or refusal of the message with `seq`.
struct Ack {
    std::uint32_t seq;
    int error;                            // positive errno, 0 for success
    std::optional<std::uint32_t> offset;  // NLMSGERR_ATTR_OFFS: offending attribute, from the message start
};

class Socket {
public:
    Socket();  // throws Error
    // A socket of the netlink bus `bus` (NETLINK_SOCK_DIAG, ...), named `bus_name` in errors.
    Socket(int bus, const char* bus_name);
    // A socket that also receives the announcements multicast to `group` (NFNLGRP_*), with a receive
    // queue of `receive_queue_bytes` where the kernel allows it.
    Socket(unsigned group, int receive_queue_bytes);

    std::uint32_t next_seq() noexcept { return seq_++; }
    // After a batch numbered its own messages from next_seq().
    void skip_to(std::uint32_t seq) noexcept { seq_ = seq; }
    std::uint32_t portid() const noexcept { return portid_; }
    int fd() const noexcept { return mnl_socket_get_fd(socket_.get()); }

    void send(std::span<const std::uint8_t> bytes);  // throws Error naming `what` on failure

    // The longest datagram send() can take now: the kernel refuses one longer than the send buffer
    // (SO_SNDBUF) less 32 bytes with EMSGSIZE, and nf_tables takes a batch in one datagram.
    std::size_t send_capacity() const noexcept { return send_capacity_; }
    // Raises the send buffer, as far as allowed, until a datagram of `bytes` fits; returns whether it
    // does. SO_SNDBUFFORCE needs CAP_NET_ADMIN in the initial user namespace; elsewhere SO_SNDBUF
    // takes at most net.core.wmem_max.
    bool make_room(std::size_t bytes) { return bytes <= send_capacity_ || raise_send_buffer(bytes); }
    // Makes the socket behave as if SO_SNDBUFFORCE were refused and net.core.wmem_max were `bytes`
    // (for tests of large transactions on hosts where the buffer can be raised).
    void limit_send_buffer(std::size_t bytes);
    // Whether the send buffer may be raised beyond net.core.wmem_max (as far as we know).
    bool send_buffer_forced() const noexcept { return force_allowed_; }
    // Receives one datagram. Returns std::nullopt when `nonblocking` and nothing is queued.
    std::optional<std::span<const std::uint8_t>> receive(bool nonblocking);

private:
    bool raise_send_buffer(std::size_t bytes);
    void read_send_capacity();

    std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> socket_;
    std::uint32_t portid_ = 0;
    std::size_t send_capacity_ = 0;
    bool force_allowed_ = true;
    std::optional<std::size_t> send_buffer_limit_;  // limit_send_buffer()
    std::uint32_t seq_ = 0;
    std::vector<std::uint8_t> receive_buffer_;
};

// Whether a whole message starts at `nlh` with `remaining` bytes left in the datagram. Not
// mnl_nlmsg_ok: it compares the message length as an int, so a length beyond INT_MAX passes, and
// the walk then jumps far outside the datagram.
inline bool message_ok(const nlmsghdr* nlh, int remaining) noexcept
{
    return remaining >= static_cast<int>(sizeof(nlmsghdr)) && nlh->nlmsg_len >= sizeof(nlmsghdr) &&
           nlh->nlmsg_len <= static_cast<unsigned>(remaining);
}

// Calls f(attr) for each netlink attribute in [start, start + length); the C macros of libmnl do
// not compile as C++.
template <typename F>
void for_each_attribute(const void* start, std::size_t length, F&& f)
{
    const auto* attr = static_cast<const nlattr*>(start);
    int remaining = static_cast<int>(length);
    while (mnl_attr_ok(attr, remaining)) {
        f(attr);
        remaining -= static_cast<int>(MNL_ALIGN(attr->nla_len));
        attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const std::uint8_t*>(attr) + MNL_ALIGN(attr->nla_len));
    }
}

// The errno of a netlink error code (an int, 0 or a negated errno, at `code`, unaligned): 0 or a
// positive errno, EPROTO for a code that is no negated errno.
int errno_of(const void* code);

// Decodes an NLMSG_ERROR message (with or without extended-ack TLVs); one too short to hold its
// error code counts as EPROTO.
Ack parse_ack(const nlmsghdr* nlh);

// Reads one datagram of the answer to the request numbered `seq` from the socket with port id
// `portid`, handing each message of the answer to `on_message`. Returns the ack that ends the answer
// (error 0 or the errno the kernel answered with, and the attribute it refused) when the datagram
// ends it, std::nullopt when more is to come.
std::optional<Ack> scan_answer(std::span<const std::uint8_t> datagram, std::uint32_t seq, std::uint32_t portid,
                               const std::function<void(const nlmsghdr*)>& on_message);

// Reads the answer to the request numbered `seq` (a dump, or a request answered with messages and an
// ack) to its end, handing each message to `on_message`. Returns 0 or the errno the kernel answered
// with, also one a dump ended with half-way. Reading always goes to the end: a dump abandoned
// half-way keeps running in the kernel, and the next dump request on the socket fails with EBUSY.
int receive_answer(Socket& socket, std::uint32_t seq, const std::function<void(const nlmsghdr*)>& on_message);
// Reads the answers to `count` requests numbered from `first_seq` on, sent at once, each asking for
// an ack: hands each message of an answer to `on_message` with its request's index, and returns
// each request's ack, by index, once every request has one.
std::vector<Ack> receive_acks(Socket& socket, std::uint32_t first_seq, std::size_t count,
                              const std::function<void(std::size_t, const nlmsghdr*)>& on_message);

}  // namespace warren::nft::netlink
