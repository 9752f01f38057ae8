// SPDX-License-Identifier: Apache-2.0
// Method `floor`: the least any program can do for the same publish. One hand-built libnftnl batch
// that adds (or deletes) exactly the elements warren-nft writes for the service (the ports-map
// elements with their task comments; its table does not count, so no backends-set elements) to the
// table warren-nft created, sent with libmnl, waiting only for the kernel's ack of the message. No validation, no view of
// the table, no conflict check, no generation guard: what warren-nft adds on top is its policy.
#include "method.hpp"

#include "netlink/nftnl_ptr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace bench {
namespace {

using namespace warren::nft::netlink;
using SocketPtr = std::unique_ptr<mnl_socket, Deleter<mnl_socket_close>>;

std::uint8_t ip_protocol(warren::nft::Protocol protocol)
{
    switch (protocol) {
    case warren::nft::Protocol::tcp: return IPPROTO_TCP;
    case warren::nft::Protocol::udp: return IPPROTO_UDP;
    case warren::nft::Protocol::sctp: return IPPROTO_SCTP;
    }
    return 0;
}

std::array<std::uint8_t, 4> ipv4(const std::string& text)
{
    std::array<std::uint8_t, 4> address{};
    if (inet_pton(AF_INET, text.c_str(), address.data()) != 1)
        throw std::invalid_argument("not an IPv4 address: " + text);
    return address;
}

// Concatenations put every field in its own 4-byte register, zero-padded.
void put_port(std::uint8_t* field, std::uint16_t port)
{
    field[0] = static_cast<std::uint8_t>(port >> 8);
    field[1] = static_cast<std::uint8_t>(port);
}

class Floor final : public Method {
public:
    Floor() : socket_(mnl_socket_open(NETLINK_NETFILTER)), buffer_(MNL_SOCKET_BUFFER_SIZE * 4)
    {
        if (!socket_ || mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
            throw std::system_error(errno, std::generic_category(), "floor: netlink socket");
        portid_ = mnl_socket_get_portid(socket_.get());
    }

    void prepare(std::span<const Task> filler) override { publish_with_library(filler); }
    void publish(const Task& service) override { send(service, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL); }
    void unpublish(const Task& service) override { send(service, NFT_MSG_DELSETELEM, 0); }

private:
    void send(const Task& service, std::uint16_t type, std::uint16_t flags)
    {
        const bool adding = type == NFT_MSG_NEWSETELEM;
        auto ports = make_set("ports");
        const auto address = ipv4(service.container_ip);
        const auto comment = "task=" + service.id;
        for (const auto& port : service.ports) {
            std::uint8_t key[8] = {ip_protocol(port.protocol)};
            put_port(key + 4, port.host_port);
            auto element = checked<SetElemPtr>(nftnl_set_elem_alloc());
            nftnl_set_elem_set(element.get(), NFTNL_SET_ELEM_KEY, key, sizeof key);
            if (adding) {
                std::uint8_t data[8] = {address[0], address[1], address[2], address[3]};
                put_port(data + 4, port.container_port);
                nftnl_set_elem_set(element.get(), NFTNL_SET_ELEM_DATA, data, sizeof data);
                auto udata = checked<UdataBufPtr>(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
                nftnl_udata_put_strz(udata.get(), NFTNL_UDATA_SET_ELEM_COMMENT, comment.c_str());
                nftnl_set_elem_set(element.get(), NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(udata.get()),
                                   nftnl_udata_buf_len(udata.get()));
            }
            nftnl_set_elem_add(ports.get(), element.release());
        }

        auto* batch = mnl_nlmsg_batch_start(buffer_.data(), buffer_.size() / 2);
        nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq_++);
        mnl_nlmsg_batch_next(batch);
        // The only message asks for an ack: when it arrives, the batch has been committed.
        auto* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(mnl_nlmsg_batch_current(batch)), type, NFPROTO_IPV4,
                                          static_cast<std::uint16_t>(flags | NLM_F_ACK), seq_);
        last_seq_ = seq_++;
        nftnl_set_elems_nlmsg_build_payload(nlh, ports.get());
        mnl_nlmsg_batch_next(batch);
        nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch)), seq_++);
        mnl_nlmsg_batch_next(batch);
        const auto sent = mnl_socket_sendto(socket_.get(), mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch));
        mnl_nlmsg_batch_stop(batch);
        if (sent < 0)
            throw std::system_error(errno, std::generic_category(), "floor: sendmsg");
        wait_for_ack();
    }

    SetPtr make_set(const char* name)
    {
        auto set = checked<SetPtr>(nftnl_set_alloc());
        nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, "warren");
        nftnl_set_set_str(set.get(), NFTNL_SET_NAME, name);
        return set;
    }

    // Errors of earlier messages arrive before the last message's ack, so the first error ends it.
    void wait_for_ack()
    {
        for (;;) {
            const auto received = mnl_socket_recvfrom(socket_.get(), buffer_.data(), buffer_.size());
            if (received < 0)
                throw std::system_error(errno, std::generic_category(), "floor: recvmsg");
            auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data());
            auto remaining = static_cast<int>(received);
            for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
                if (nlh->nlmsg_type != NLMSG_ERROR)
                    continue;
                const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
                if (error->error != 0)
                    throw std::system_error(-error->error, std::generic_category(), "floor: the kernel refused the batch");
                if (nlh->nlmsg_seq == last_seq_)
                    return;
            }
        }
    }

    SocketPtr socket_;
    std::vector<char> buffer_;
    std::uint32_t portid_ = 0;
    std::uint32_t seq_ = 1;
    std::uint32_t last_seq_ = 0;
};

}  // namespace

MethodInfo floor_method()
{
    return {"floor", "one bare libnftnl batch of the same elements: the kernel's cost, no policy",
            [] { return std::optional<std::string>(); }, [] { return std::make_unique<Floor>(); }};
}

}  // namespace bench
