// SPDX-License-Identifier: Apache-2.0
#include "commit_log.hpp"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <set>
#include <stdexcept>
#include <system_error>

namespace chaos {
namespace {

std::string family_name(std::uint8_t family)
{
    switch (family) {
        case NFPROTO_IPV4: return "ip";
        case NFPROTO_IPV6: return "ip6";
        case NFPROTO_INET: return "inet";
        case NFPROTO_ARP: return "arp";
        case NFPROTO_BRIDGE: return "bridge";
        case NFPROTO_NETDEV: return "netdev";
        default: return "family-" + std::to_string(family);
    }
}

// The value of attribute `type` of an nf_tables message, as a string ("" when absent or not one).
std::string string_attribute(const nlmsghdr* nlh, std::uint16_t type)
{
    std::string value;
    const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
    for (auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
         mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr))); attr = mnl_attr_next(attr))
        if (mnl_attr_get_type(attr) == type && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
            value = mnl_attr_get_str(attr);
    return value;
}

struct Listener {
    CommitLog::Summary summary;
    std::set<std::string> touched;  // tables of the transaction being announced

    void message(const nlmsghdr* nlh)
    {
        if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg))
            return;
        const auto type = NFNL_MSG_TYPE(nlh->nlmsg_type);
        const auto* header = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
        if (type != NFT_MSG_NEWGEN) {
            // Every object message names its table in attribute 1 (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE,
            // NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE, ...).
            touched.insert(family_name(header->nfgen_family) + " " + string_attribute(nlh, 1));
            return;
        }
        const auto process = string_attribute(nlh, NFTA_GEN_PROC_NAME);
        ++summary.transactions[process.empty() ? "(unnamed)" : process];
        if (process.rfind(CommitLog::watched, 0) == 0)
            for (const auto& table : touched)
                if (table != "ip warren" && table != "ip6 warren")
                    summary.violations.push_back(process + " committed to " + table);
        touched.clear();
    }

    // Reads what is queued; false when the socket failed for another reason than lost messages.
    void drain(mnl_socket* socket)
    {
        std::vector<char> buffer(1 << 20);
        for (;;) {
            const auto got = recv(mnl_socket_get_fd(socket), buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (got < 0 && errno == ENOBUFS) {
                ++summary.losses;
                touched.clear();
                continue;
            }
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return;
            auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
            int left = static_cast<int>(got);
            for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
                message(nlh);
        }
    }
};

int listen(int control, int ready, int report)
{
    std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> socket(mnl_socket_open(NETLINK_NETFILTER), mnl_socket_close);
    if (!socket || mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        throw std::system_error(errno, std::generic_category(), "commit log: netlink socket");
    int group = NFNLGRP_NFTABLES;
    const int size = 64 << 20;
    if (mnl_socket_setsockopt(socket.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
        throw std::system_error(errno, std::generic_category(), "commit log: join NFNLGRP_NFTABLES");
    if (setsockopt(mnl_socket_get_fd(socket.get()), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(mnl_socket_get_fd(socket.get()), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sandbox::write_all(ready, "r");
    close(ready);
    Listener listener;
    for (;;) {
        pollfd fds[2] = {{mnl_socket_get_fd(socket.get()), POLLIN, 0}, {control, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "commit log: poll");
        listener.drain(socket.get());
        if (fds[1].revents != 0)
            break;
    }
    listener.drain(socket.get());
    sandbox::write_all(report, nlohmann::json{{"transactions", listener.summary.transactions},
                                              {"violations", listener.summary.violations},
                                              {"losses", listener.summary.losses}}
                                   .dump());
    return 0;
}

}  // namespace

CommitLog::CommitLog()
{
    int control[2], ready[2];
    if (pipe2(control, O_CLOEXEC) != 0 || pipe2(ready, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "commit log: pipe2");
    child_ = std::make_unique<sandbox::ForkedChild>([=](int report) {
        close(control[1]);
        close(ready[0]);
        return listen(control[0], ready[1], report);
    });
    close(control[0]);
    close(ready[1]);
    control_ = control[1];
    char byte = 0;
    const auto got = read(ready[0], &byte, 1);
    close(ready[0]);
    if (got != 1)
        throw std::runtime_error("commit log: the listener did not start: " + std::to_string(child_->wait()) + " " +
                                 child_->report());
}

CommitLog::~CommitLog()
{
    if (control_ >= 0)
        close(control_);
}

CommitLog::Summary CommitLog::stop()
{
    [[maybe_unused]] const auto ignored = write(control_, "s", 1);
    close(control_);
    control_ = -1;
    const int status = child_->wait(std::chrono::seconds(30));
    const auto& report = child_->report();
    if (status != 0 || report.empty() || report.front() != '{')
        throw std::runtime_error("commit log failed (status " + std::to_string(status) + "): " + report);
    const auto j = nlohmann::json::parse(report);
    Summary summary;
    summary.transactions = j.at("transactions").get<std::map<std::string, unsigned long>>();
    summary.violations = j.at("violations").get<std::vector<std::string>>();
    summary.losses = j.at("losses").get<unsigned long>();
    return summary;
}

}  // namespace chaos
