// SPDX-License-Identifier: Apache-2.0
#include "commit_monitor.hpp"

#include "system_calls.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

// Large enough that a repair of 100,000 elements, announced element by element, does not overflow
// it before the reading thread gets to run (SO_RCVBUFFORCE works only with CAP_NET_ADMIN over the
// initial namespace; otherwise the kernel caps SO_RCVBUF at net.core.rmem_max).
constexpr int receive_queue_bytes = 32 << 20;

struct GenAttributes {
    const nlattr* attribute[NFTA_GEN_MAX + 1] = {};
};

int keep_attribute(const nlattr* attr, void* data)
{
    const auto type = mnl_attr_get_type(attr);
    if (type <= NFTA_GEN_MAX)
        static_cast<GenAttributes*>(data)->attribute[type] = attr;
    return MNL_CB_OK;
}

std::optional<Commit> decode_newgen(const nlmsghdr* nlh, Clock::time_point seen)
{
    if (nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN))
        return std::nullopt;
    GenAttributes gen;
    if (mnl_attr_parse(nlh, sizeof(nfgenmsg), keep_attribute, &gen) < 0)
        return std::nullopt;
    Commit commit;
    commit.seen = seen;
    if (const auto* a = gen.attribute[NFTA_GEN_ID])
        commit.generation = ntohl(mnl_attr_get_u32(a));
    if (const auto* a = gen.attribute[NFTA_GEN_PROC_PID])
        commit.pid = ntohl(mnl_attr_get_u32(a));
    if (const auto* a = gen.attribute[NFTA_GEN_PROC_NAME])
        commit.process = mnl_attr_get_str(a);
    return commit;
}

}  // namespace

CommitMonitor::CommitMonitor()
{
    socket_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (socket_ < 0)
        sandbox::throw_errno("commit monitor: netlink socket");
    const int group = NFNLGRP_NFTABLES;
    const int size = receive_queue_bytes;
    if (setsockopt(socket_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        setsockopt(socket_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    if (bind(socket_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        setsockopt(socket_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
        const int saved = errno;
        close(socket_);
        errno = saved;
        sandbox::throw_errno("commit monitor: subscribing to nf_tables announcements");
    }
    stop_ = eventfd(0, EFD_CLOEXEC);
    if (stop_ < 0) {
        const int saved = errno;
        close(socket_);
        errno = saved;
        sandbox::throw_errno("commit monitor: eventfd");
    }
    thread_ = std::thread([this] { read_loop(); });
    // Where allowed (root outside a user namespace), the reading thread runs before the healing
    // publisher and nft on a busy machine: a late wake-up would start the outage clock late and make
    // the repair look faster than it is. It sleeps but for the moments of each commit.
    const sched_param realtime{.sched_priority = 1};
    realtime_ = pthread_setschedparam(thread_.native_handle(), SCHED_FIFO, &realtime) == 0;
}

CommitMonitor::~CommitMonitor()
{
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto ignored = write(stop_, &one, sizeof one);
    thread_.join();
    close(socket_);
    close(stop_);
}

void CommitMonitor::read_loop()
{
    std::vector<char> buffer(1 << 20);
    for (;;) {
        pollfd fds[2] = {{socket_, POLLIN, 0}, {stop_, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (fds[1].revents)
            return;
        const auto received = recv(socket_, buffer.data(), buffer.size(), MSG_DONTWAIT);
        const auto seen = Clock::now();
        if (received < 0) {
            if (errno == ENOBUFS) {
                const std::lock_guard lock(mutex_);
                lost_ = true;
            }
            continue;
        }
        std::vector<Commit> found;
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
        for (auto remaining = static_cast<int>(received); mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining))
            if (auto commit = decode_newgen(nlh, seen))
                found.push_back(std::move(*commit));
        if (found.empty())
            continue;
        const std::lock_guard lock(mutex_);
        for (auto& commit : found)
            commits_.push_back(std::move(commit));
        announced_.notify_all();
    }
}

std::size_t CommitMonitor::count() const
{
    const std::lock_guard lock(mutex_);
    return commits_.size();
}

std::optional<Commit> CommitMonitor::wait_for(std::size_t from, const std::function<bool(const Commit&)>& match,
                                              std::chrono::milliseconds timeout) const
{
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mutex_);
    for (;;) {
        for (; from < commits_.size(); ++from)
            if (match(commits_[from]))
                return commits_[from];
        if (announced_.wait_until(lock, deadline) == std::cv_status::timeout && from == commits_.size())
            return std::nullopt;
    }
}

void CommitMonitor::wait_until_quiet(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const
{
    const auto start = Clock::now();
    const auto deadline = start + timeout;
    std::unique_lock lock(mutex_);
    for (;;) {
        const auto now = Clock::now();
        const auto last = commits_.empty() ? start : std::max(start, commits_.back().seen);
        if (now >= deadline || now >= last + quiet)
            return;
        const auto seen = commits_.size();
        announced_.wait_until(lock, std::min(deadline, last + quiet), [&] { return commits_.size() != seen; });
    }
}

bool CommitMonitor::lost_some() const
{
    const std::lock_guard lock(mutex_);
    return lost_;
}

}  // namespace bench
