// SPDX-License-Identifier: Apache-2.0
// Method `floor`: the least any program can do for the same publish. One hand-built libnftnl batch
// that adds (or deletes) exactly the elements warren-nft writes for the service (the ports-map
// elements with their task comments; its table does not count, so no backends-set elements) to the
// table warren-nft created, sent with libmnl, waiting only for the kernel's ack of the message. No validation, no view of
// the table, no conflict check, no generation guard: what warren-nft adds on top is its policy.
#include "method.hpp"
#include "raw_batch.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <linux/netfilter/nf_tables.h>

#include <array>
#include <stdexcept>

namespace bench {
namespace {

using namespace warren::nft::netlink;

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
    void prepare(std::span<const Task> filler) override { publish_with_library(filler); }
    void publish(const Task& service) override { send(service, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL); }
    void unpublish(const Task& service) override { send(service, NFT_MSG_DELSETELEM, 0); }

private:
    void send(const Task& service, std::uint16_t type, std::uint16_t flags)
    {
        const bool adding = type == NFT_MSG_NEWSETELEM;
        auto ports = checked<SetPtr>(nftnl_set_alloc());
        nftnl_set_set_str(ports.get(), NFTNL_SET_TABLE, "warren");
        nftnl_set_set_str(ports.get(), NFTNL_SET_NAME, "ports");
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
        // One message, which alone asks for an ack: when it arrives, the batch has been committed.
        socket_.commit({{type, flags, [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, ports.get()); }}});
    }

    RawBatchSocket socket_{"floor"};
};

}  // namespace

MethodInfo floor_method()
{
    return {"floor", "one bare libnftnl batch of the same elements: the kernel's cost, no policy",
            [] { return std::optional<std::string>(); }, [] { return std::make_unique<Floor>(); }};
}

}  // namespace bench
