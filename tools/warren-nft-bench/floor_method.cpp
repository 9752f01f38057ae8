// SPDX-License-Identifier: Apache-2.0
// Method `floor`: the least any program can do for the same publish. One hand-built libnftnl batch
// that adds (or deletes) exactly the elements warren-nft writes for the service (the ports-map
// elements with their task comments, in table ip warren and/or table ip6 warren as the service has
// addresses; its tables do not count, so no backends-set elements) to the tables warren-nft
// created, sent with libmnl, waiting only for the kernel's ack of the last message. No validation,
// no view of the tables, no conflict check, no generation guard: what warren-nft adds on top is its
// policy. The element bytes come from the library's own element codec, so they cannot drift apart.
#include "method.hpp"
#include "raw_batch.hpp"

#include "publisher/element_codec.hpp"

#include <linux/netfilter/nf_tables.h>

#include <array>
#include <stdexcept>
#include <vector>

namespace bench {
namespace {

using namespace warren::nft::netlink;
namespace layout = warren::nft::layout;

layout::Address parse(const std::string& text)
{
    const auto address = layout::parse_address(text);
    if (!address)
        throw std::invalid_argument("not an IP address: " + text);
    return *address;
}

// The ports-map elements of one table.
struct TableElements {
    std::uint16_t family;  // NFPROTO_IPV4, NFPROTO_IPV6
    std::vector<warren::nft::ruleset::Element> elements;
};

// The service's elements, IPv4 table first as warren-nft orders them.
std::vector<TableElements> elements_of(const Task& service)
{
    std::vector<TableElements> tables;
    const auto comment = layout::owner_comment(service.id, {});
    for (const auto* container_ip : {&service.container_ip, &service.container_ipv6}) {
        if (container_ip->empty())
            continue;
        const auto address = parse(*container_ip);
        auto& table = tables.emplace_back(TableElements{static_cast<std::uint16_t>(address.family), {}});
        for (const auto& port : service.ports)
            table.elements.push_back(layout::port_element({port.protocol, port.host_port, layout::any_address(address.family)},
                                                          {address, port.protocol, port.container_port}, comment));
    }
    return tables;
}

class Floor final : public Method {
public:
    void prepare(std::span<const Task> filler, AddressFamily family) override { publish_with_library(filler, family); }
    void publish(const Task& service) override { send(service, NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL); }
    void unpublish(const Task& service) override { send(service, NFT_MSG_DELSETELEM, 0); }

private:
    // One message per table in one batch: one transaction.
    void send(const Task& service, std::uint16_t type, std::uint16_t flags)
    {
        const bool adding = type == NFT_MSG_NEWSETELEM;
        // Encoded once per service, as a program that knows what it publishes would: the timed calls
        // only build the messages.
        if (service.id != cached_id_) {
            cached_ = elements_of(service);
            cached_id_ = service.id;
        }
        std::array<SetPtr, 2> maps;
        std::array<RawBatchSocket::Message, 2> messages{};
        for (std::size_t i = 0; i < cached_.size(); ++i) {
            auto& map = maps[i];
            map = checked<SetPtr>(nftnl_set_alloc());
            nftnl_set_set_str(map.get(), NFTNL_SET_TABLE, layout::table_name);
            nftnl_set_set_str(map.get(), NFTNL_SET_NAME, layout::ports_map);
            for (const auto& element : cached_[i].elements) {
                auto nftnl_element = checked<SetElemPtr>(nftnl_set_elem_alloc());
                nftnl_set_elem_set(nftnl_element.get(), NFTNL_SET_ELEM_KEY, element.key.data(),
                                   static_cast<std::uint32_t>(element.key.size()));
                if (adding) {
                    nftnl_set_elem_set(nftnl_element.get(), NFTNL_SET_ELEM_DATA, element.data.data(),
                                       static_cast<std::uint32_t>(element.data.size()));
                    auto udata = checked<UdataBufPtr>(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
                    nftnl_udata_put_strz(udata.get(), NFTNL_UDATA_SET_ELEM_COMMENT, element.comment.c_str());
                    nftnl_set_elem_set(nftnl_element.get(), NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(udata.get()),
                                       nftnl_udata_buf_len(udata.get()));
                }
                nftnl_set_elem_add(map.get(), nftnl_element.release());
            }
            messages[i] = {type, flags, [set = map.get()](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, set); },
                           cached_[i].family};
        }
        socket_.commit(std::span(messages.data(), cached_.size()));
    }

    RawBatchSocket socket_{"floor"};
    std::string cached_id_;
    std::vector<TableElements> cached_;
};

}  // namespace

MethodInfo floor_method()
{
    return {"floor", "one bare libnftnl batch of the same elements: the kernel's cost, no policy",
            [] { return std::optional<std::string>(); }, [] { return std::make_unique<Floor>(); }};
}

}  // namespace bench
