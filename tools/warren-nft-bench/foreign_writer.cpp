// SPDX-License-Identifier: Apache-2.0
#include "foreign_writer.hpp"

#include "raw_batch.hpp"

#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <poll.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace bench {
namespace {

using namespace warren::nft::netlink;
using Clock = std::chrono::steady_clock;

constexpr const char* table_name = "foreign";
constexpr const char* set_name = "addresses";
constexpr std::uint32_t ipv4_addr_type = 7;  // nft's TYPE_IPADDR: `type ipv4_addr`

constexpr char start_byte = 'g';
constexpr char stop_byte = 's';

SetPtr addresses_set()
{
    auto set = checked<SetPtr>(nftnl_set_alloc());
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table_name);
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, set_name);
    nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, NFPROTO_IPV4);
    return set;
}

// `table ip foreign { set addresses { type ipv4_addr; } }`, in one commit.
void create_table(RawBatchSocket& socket)
{
    auto table = checked<TablePtr>(nftnl_table_alloc());
    nftnl_table_set_str(table.get(), NFTNL_TABLE_NAME, table_name);
    nftnl_table_set_u32(table.get(), NFTNL_TABLE_FAMILY, NFPROTO_IPV4);
    auto set = addresses_set();
    nftnl_set_set_u32(set.get(), NFTNL_SET_ID, 1);
    nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_TYPE, ipv4_addr_type);
    nftnl_set_set_u32(set.get(), NFTNL_SET_KEY_LEN, 4);
    socket.commit({{NFT_MSG_NEWTABLE, NLM_F_CREATE, [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, table.get()); }},
                   {NFT_MSG_NEWSET, NLM_F_CREATE, [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, set.get()); }}});
}

// Adds 192.0.2.1 to the set, or deletes it again: one commit either way.
void toggle_element(RawBatchSocket& socket, bool add)
{
    auto set = addresses_set();
    auto element = checked<SetElemPtr>(nftnl_set_elem_alloc());
    const std::uint8_t address[4] = {192, 0, 2, 1};
    nftnl_set_elem_set(element.get(), NFTNL_SET_ELEM_KEY, address, sizeof address);
    nftnl_set_elem_add(set.get(), element.release());
    socket.commit({{static_cast<std::uint16_t>(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM),
                    static_cast<std::uint16_t>(add ? NLM_F_CREATE : 0),
                    [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, set.get()); }}});
}

// Waits until `deadline` or a byte on `control`; returns that byte (0 at the deadline, stop_byte
// when the pipe closed).
char wait_for_control(int control, Clock::time_point deadline)
{
    for (;;) {
        const auto left = std::max(Clock::duration::zero(), deadline - Clock::now());
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        const timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        pollfd pfd{control, POLLIN, 0};
        const int ready = ppoll(&pfd, 1, deadline == Clock::time_point::max() ? nullptr : &timeout, nullptr);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            throw std::system_error(errno, std::generic_category(), "foreign writer: ppoll");
        if (ready == 0)
            return 0;
        char byte = stop_byte;
        if (read(control, &byte, 1) != 1)
            return stop_byte;
        return byte;
    }
}

int write_loop(int control, std::chrono::microseconds period, int report_fd)
{
    if (wait_for_control(control, Clock::time_point::max()) != start_byte)
        return 0;
    const auto started = Clock::now();
    RawBatchSocket socket("foreign writer");
    create_table(socket);
    std::uint64_t commits = 1;
    // Ticks on a fixed schedule; a late tick is skipped rather than caught up in a burst.
    auto next = started + period;
    while (wait_for_control(control, next) != stop_byte) {
        toggle_element(socket, commits % 2 == 1);
        ++commits;
        next += period;
        if (const auto now = Clock::now(); next < now)
            next = now + period;
    }
    sandbox::write_all(
        report_fd,
        nlohmann::json{{"commits", commits}, {"seconds", std::chrono::duration<double>(Clock::now() - started).count()}}.dump());
    return 0;
}

}  // namespace

ForeignWriter::ForeignWriter(std::chrono::microseconds period)
{
    int control[2];
    if (pipe2(control, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "foreign writer: pipe2");
    try {
        child_ = std::make_unique<sandbox::ForkedChild>([=](int report_fd) {
            close(control[1]);
            return write_loop(control[0], period, report_fd);
        });
    } catch (...) {
        close(control[0]);
        close(control[1]);
        throw;
    }
    close(control[0]);
    control_ = control[1];
}

ForeignWriter::~ForeignWriter()
{
    if (control_ >= 0)
        close(control_);
}

void ForeignWriter::start()
{
    if (write(control_, &start_byte, 1) != 1)
        throw std::system_error(errno, std::generic_category(), "foreign writer: start");
}

ForeignWriter::Stats ForeignWriter::stop()
{
    // A byte, not only the closed pipe: another forked copy of this process may hold the pipe open.
    [[maybe_unused]] const auto ignored = write(control_, &stop_byte, 1);
    close(control_);
    control_ = -1;
    const auto status = child_->wait(std::chrono::seconds(10));
    const auto& report = child_->report();
    if (status != 0 || report.empty() || report.front() != '{')
        throw std::runtime_error("the foreign writer failed (status " + std::to_string(status) + "): " + report);
    const auto j = nlohmann::json::parse(report);
    return {j.at("commits"), j.at("seconds")};
}

}  // namespace bench
