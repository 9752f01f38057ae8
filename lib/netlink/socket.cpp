// SPDX-License-Identifier: Apache-2.0
#include "netlink/socket.hpp"

#include "kernel_error.hpp"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <string>

namespace warren::nft::netlink {
namespace {

// Replies to a large batch (acks plus echoes) must fit, or recv fails with ENOBUFS after the
// kernel already committed. Unprivileged namespaces are capped by rmem_max/wmem_max.
constexpr int buffer_bytes = 8 * 1024 * 1024;
// A reply never takes longer than this; waiting longer means our idea of the protocol is wrong,
// and an error beats hanging the agent forever.
constexpr int receive_timeout_seconds = 10;
// Dump datagrams are at most 32 KiB; an uncapped error ack echoes a whole request (up to 64 KiB).
constexpr std::size_t receive_buffer_bytes = 128 * 1024;

// Returns whether the forced size was allowed.
bool set_buffer(int fd, int force_option, int option, int bytes = buffer_bytes)
{
    if (setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) == 0)
        return true;
    setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);  // best effort, capped
    return false;
}

// netlink_sendmsg() refuses a datagram longer than the send buffer less this.
constexpr std::size_t send_buffer_reserve = 32;

}  // namespace

int errno_of(const void* code)
{
    int error = 0;
    std::memcpy(&error, code, sizeof error);
    if (error == 0)
        return 0;
    return error < 0 && error != std::numeric_limits<int>::min() ? -error : EPROTO;
}

Socket::Socket() : Socket(NETLINK_NETFILTER, "NETLINK_NETFILTER") {}

Socket::Socket(int bus, const char* bus_name)
    : socket_(mnl_socket_open2(bus, SOCK_CLOEXEC), mnl_socket_close),
      seq_(static_cast<std::uint32_t>(std::time(nullptr))),
      receive_buffer_(receive_buffer_bytes)
{
    if (!socket_)
        throw kernel_error(errno, std::string("open netlink socket (") + bus_name + ")");
    if (mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        throw kernel_error(errno, "bind netlink socket");
    portid_ = mnl_socket_get_portid(socket_.get());

    const int fd = mnl_socket_get_fd(socket_.get());
    const int on = 1;
    // Extended acks tell which attribute the kernel refused; capped acks spare copying our request back.
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
    force_allowed_ = set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
    read_send_capacity();
    set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
    const timeval timeout{receive_timeout_seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

Socket::Socket(unsigned group, int receive_queue_bytes) : Socket()
{
    if (setsockopt(fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
        throw kernel_error(errno, "join netlink group " + std::to_string(group));
    set_buffer(fd(), SO_RCVBUFFORCE, SO_RCVBUF, receive_queue_bytes);
}

void Socket::send(std::span<const std::uint8_t> bytes)
{
    if (mnl_socket_sendto(socket_.get(), bytes.data(), bytes.size()) < 0)
        throw kernel_error(errno, "send netlink message", errno == EMSGSIZE ? "the batch exceeds the socket send buffer" : "");
}

void Socket::read_send_capacity()
{
    int bytes = 0;
    socklen_t length = sizeof bytes;
    if (getsockopt(fd(), SOL_SOCKET, SO_SNDBUF, &bytes, &length) < 0)
        throw kernel_error(errno, "read the netlink socket's send buffer size");
    const auto size = static_cast<std::size_t>(std::max(bytes, 0));
    send_capacity_ = size > send_buffer_reserve ? size - send_buffer_reserve : 0;
}

bool Socket::raise_send_buffer(std::size_t bytes)
{
    // The kernel doubles the size it is given (for its bookkeeping), and keeps back only 32 bytes of
    // it: asking for the datagram's size is enough, and stays within what an int can say.
    constexpr std::size_t most = std::numeric_limits<int>::max() / 2;
    if (bytes > most)
        return false;
    auto wanted = static_cast<int>(bytes + send_buffer_reserve);
    if (send_buffer_limit_)
        wanted = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(wanted), *send_buffer_limit_));
    if (force_allowed_ && setsockopt(fd(), SOL_SOCKET, SO_SNDBUFFORCE, &wanted, sizeof wanted) < 0)
        force_allowed_ = false;
    if (!force_allowed_)
        setsockopt(fd(), SOL_SOCKET, SO_SNDBUF, &wanted, sizeof wanted);  // capped at net.core.wmem_max
    read_send_capacity();
    return bytes <= send_capacity_;
}

void Socket::limit_send_buffer(std::size_t bytes)
{
    send_buffer_limit_ = std::min<std::size_t>(bytes, std::numeric_limits<int>::max() / 2);
    force_allowed_ = false;
    const auto size = static_cast<int>(*send_buffer_limit_);
    setsockopt(fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    read_send_capacity();
}

std::optional<std::span<const std::uint8_t>> Socket::receive(bool nonblocking)
{
    for (;;) {
        const int fd = mnl_socket_get_fd(socket_.get());
        // MSG_TRUNC makes recv report the datagram's real size, so a cut-off reply is an error
        // instead of a silently lost ack.
        const ssize_t n = recv(fd, receive_buffer_.data(), receive_buffer_.size(), MSG_TRUNC | (nonblocking ? MSG_DONTWAIT : 0));
        if (n > static_cast<ssize_t>(receive_buffer_.size()))
            throw kernel_error(EMSGSIZE, "receive netlink reply",
                               "a reply of " + std::to_string(n) + " bytes did not fit the receive buffer");
        if (n >= 0)
            return std::span<const std::uint8_t>(receive_buffer_.data(), static_cast<std::size_t>(n));
        if (errno == EINTR)
            continue;
        if (nonblocking && (errno == EAGAIN || errno == EWOULDBLOCK))
            return std::nullopt;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            throw kernel_error(ETIMEDOUT, "receive netlink reply", "the kernel did not answer");
        if (errno == ENOBUFS)
            throw kernel_error(ENOBUFS, "receive netlink reply", "replies were lost; the kernel may have applied the change");
        throw kernel_error(errno, "receive netlink reply");
    }
}

Ack parse_ack(const nlmsghdr* nlh)
{
    const auto* payload = static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(nlh));
    const std::size_t payload_len = mnl_nlmsg_get_payload_len(nlh);
    if (payload_len < sizeof(int))
        return Ack{nlh->nlmsg_seq, EPROTO, std::nullopt};
    Ack ack{nlh->nlmsg_seq, errno_of(payload), std::nullopt};
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || payload_len < sizeof(nlmsgerr))
        return ack;
    nlmsgerr err;
    std::memcpy(&err, payload, sizeof err);
    // The TLVs follow the echoed request: only its header when capped, all of it otherwise.
    std::size_t tlv_offset = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
        if (err.msg.nlmsg_len < sizeof(nlmsghdr))
            return ack;
        // The kernel starts the TLVs at an aligned offset (as libmnl reads them): an odd echoed
        // length must not make us read attributes at a misaligned address.
        tlv_offset += MNL_ALIGN(err.msg.nlmsg_len - sizeof(nlmsghdr));
    }
    if (tlv_offset > payload_len)
        return ack;
    for_each_attribute(payload + tlv_offset, payload_len - tlv_offset, [&](const nlattr* attr) {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_OFFS && mnl_attr_get_payload_len(attr) >= sizeof(std::uint32_t))
            ack.offset = mnl_attr_get_u32(attr);
    });
    return ack;
}

std::optional<Ack> scan_answer(std::span<const std::uint8_t> datagram, std::uint32_t seq, std::uint32_t portid,
                               const std::function<void(const nlmsghdr*)>& on_message)
{
    const auto* reply = reinterpret_cast<const nlmsghdr*>(datagram.data());
    int remaining = static_cast<int>(datagram.size());
    for (; message_ok(reply, remaining); reply = mnl_nlmsg_next(reply, &remaining)) {
        if (reply->nlmsg_seq != seq || reply->nlmsg_pid != portid)
            continue;  // a straggler from an earlier exchange
        if (reply->nlmsg_type == NLMSG_DONE) {
            // A dump that failed half-way says why in NLMSG_DONE's payload.
            if (mnl_nlmsg_get_payload_len(reply) >= sizeof(int))
                return Ack{seq, errno_of(mnl_nlmsg_get_payload(reply)), std::nullopt};
            return Ack{seq, 0, std::nullopt};
        }
        if (reply->nlmsg_type == NLMSG_ERROR)
            return parse_ack(reply);
        on_message(reply);
    }
    return std::nullopt;
}

int receive_answer(Socket& socket, std::uint32_t seq, const std::function<void(const nlmsghdr*)>& on_message)
{
    for (;;)
        if (const auto result = scan_answer(*socket.receive(false), seq, socket.portid(), on_message))
            return result->error;
}

std::vector<Ack> receive_acks(Socket& socket, std::uint32_t first_seq, std::size_t count,
                              const std::function<void(std::size_t, const nlmsghdr*)>& on_message)
{
    std::vector<std::optional<Ack>> acks(count);
    for (std::size_t acked = 0; acked < count;) {
        const auto datagram = *socket.receive(false);
        const auto* reply = reinterpret_cast<const nlmsghdr*>(datagram.data());
        int remaining = static_cast<int>(datagram.size());
        for (; message_ok(reply, remaining); reply = mnl_nlmsg_next(reply, &remaining)) {
            const std::size_t index = reply->nlmsg_seq - first_seq;  // wraps around like the numbers
            if (index >= count || reply->nlmsg_pid != socket.portid() || acks[index])
                continue;  // a straggler from an earlier exchange
            if (reply->nlmsg_type == NLMSG_ERROR) {
                acks[index] = parse_ack(reply);
                ++acked;
            } else {
                on_message(index, reply);
            }
        }
    }
    std::vector<Ack> out;
    out.reserve(count);
    for (auto& ack : acks)
        out.push_back(*ack);
    return out;
}

}  // namespace warren::nft::netlink
