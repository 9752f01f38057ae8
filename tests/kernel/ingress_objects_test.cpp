// SPDX-License-Identifier: Apache-2.0
// The objects ingress mode is built from (docs/ingress.md), through KernelBackend: a map keyed by
// protocol . port . slot and declared with nft's typeof, and a DNAT rule that draws the slot with
// `numgen random`; read back as written, listed by nft and reloaded from its listing. And the
// typeof user data itself, compared byte for byte with what nft writes.
#include "support.hpp"

#include "netlink/kernel_backend.hpp"
#include "netlink/nftnl_ptr.hpp"
#include "netlink/set_userdata.hpp"
#include "netlink/socket.hpp"

#include "../unit/ingress_map.hpp"

#include <libnftnl/common.h>
#include <libnftnl/set.h>

#include <linux/netfilter/nfnetlink.h>

#include <algorithm>
#include <cstring>
#include <map>

using namespace kt;
using namespace warren::nft::test::policy;
using namespace warren::nft::test::ingress;
using KernelBackendImpl = warren::nft::netlink::KernelBackend;  // kt::KernelBackend is a backends element

namespace {

Table warren(Family family) { return Table{family, "warren"}; }

// meta l4proto . th dport . numgen random mod 256 -> address . port, DNATed to.
Rule slot_rule(Family family)
{
    auto match = load_service();
    match.push_back(expr::Numgen{slots, Reg::r32_02});
    match.push_back(expr::Lookup{"ingress", slot_map_id, Reg::r1, Reg::r1});
    const auto address_registers = static_cast<std::uint32_t>((family == Family::ip ? 4 : 16) / 4);
    match.push_back(expr::Dnat{family, Reg::r1, reg32(address_registers)});
    return Rule{"prerouting", std::move(match), "slots"};
}

Element slot_element(std::uint32_t slot, const Bytes& address, std::uint16_t port)
{
    auto key = service_key(l4_tcp, 8080);
    key.resize(12);
    std::memcpy(key.data() + 8, &slot, 4);  // numgen writes the register in host byte order
    Bytes value = address;
    value.resize(address.size() + 4, 0);
    value[address.size()] = static_cast<std::uint8_t>(port >> 8);
    value[address.size() + 1] = static_cast<std::uint8_t>(port);
    return Element{"ingress", std::move(key), std::move(value), {}};
}

const char* family_name(Family family) { return family == Family::ip ? "ip" : "ip6"; }

// The user data of each set of the table, as the kernel holds it (read with libnftnl, as nft does).
std::map<std::string, Bytes> kernel_userdata(const Table& table)
{
    warren::nft::netlink::Socket socket;
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    const std::uint32_t seq = socket.next_seq();
    auto* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer.data()), NFT_MSG_GETSET,
                                      static_cast<std::uint16_t>(table.family), NLM_F_DUMP | NLM_F_ACK, seq);
    const auto filter = warren::nft::netlink::checked<warren::nft::netlink::SetPtr>(nftnl_set_alloc());
    nftnl_set_set_str(filter.get(), NFTNL_SET_TABLE, table.name.c_str());
    nftnl_set_nlmsg_build_payload(nlh, filter.get());
    socket.send({buffer.data(), nlh->nlmsg_len});
    std::map<std::string, Bytes> found;
    const int err = warren::nft::netlink::receive_answer(socket, seq, [&](const nlmsghdr* reply) {
        const auto set = warren::nft::netlink::checked<warren::nft::netlink::SetPtr>(nftnl_set_alloc());
        REQUIRE(nftnl_set_nlmsg_parse(reply, set.get()) == 0);
        std::uint32_t length = 0;
        const auto* data = static_cast<const std::uint8_t*>(nftnl_set_get_data(set.get(), NFTNL_SET_USERDATA, &length));
        found[nftnl_set_get_str(set.get(), NFTNL_SET_NAME)] = data ? Bytes(data, data + length) : Bytes{};
    });
    REQUIRE(err == 0);
    return found;
}

Set with_typeof(Set set, SetTypeof description)
{
    set.nft_typeof = std::move(description);
    return set;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "the typeof user data the library writes is nft's, byte for byte", "[ingress][typeof]")
{
    // nft writes, the kernel keeps a copy, and the encoder must write the same bytes for the same
    // declaration; the decoder reads nft's bytes as the declaration's typeof.
    struct Declared {
        std::string nft;
        Set set;
    };
    for (const Family family : {Family::ip, Family::ip6}) {
        INFO(family_name(family));
        const std::string address = family == Family::ip ? "ip daddr" : "ip6 daddr";
        const auto address_expression = family == Family::ip ? ip_daddr : ip6_daddr;
        const std::vector<Declared> declarations{
            {"map ingress { typeof meta l4proto . th dport . numgen random mod 256 : " + address + " . th dport; }",
             slot_map(family)},
            {"set addresses { typeof " + address + "; }",
             with_typeof(Set{"addresses", {address_field(family)}, {}}, SetTypeof{{address_expression}})},
            {"set protocols { typeof meta l4proto; }",
             with_typeof(Set{"protocols", {inet_proto}, {}}, SetTypeof{{typeof_expr::Meta{NFT_META_L4PROTO}}})},
            {"map by_port { typeof th dport : " + address + "; }",
             with_typeof(Set{"by_port", {inet_service}, {address_field(family)}}, SetTypeof{{th_dport}, {address_expression}})},
            {"map slot_by_port { typeof th dport : numgen random mod 16; }",
             with_typeof(Set{"slot_by_port", {inet_service}, {slot_field}}, SetTypeof{{th_dport}, {typeof_expr::Numgen{16}}})},
        };
        std::string script = std::string("table ") + family_name(family) + " warren {\n";
        for (const auto& declared : declarations)
            script += "\t" + declared.nft + "\n";
        // Declared with `type`, as the layout's maps are: nft's user data holds no typeof.
        script +=
            "\tmap ports { type inet_proto . inet_service : " + std::string(family == Family::ip ? "ipv4_addr" : "ipv6_addr") +
            " . inet_service; }\n}\n";
        nft_script(script);

        const auto userdata = kernel_userdata(warren(family));
        for (const auto& declared : declarations) {
            INFO(declared.nft);
            REQUIRE(userdata.contains(declared.set.name));
            const auto& nft_bytes = userdata.at(declared.set.name);
            CHECK(warren::nft::netlink::set_userdata(declared.set) == nft_bytes);
            CHECK(warren::nft::netlink::typeof_of(nft_bytes.data(), static_cast<std::uint32_t>(nft_bytes.size())) ==
                  declared.set.nft_typeof);
        }
        const auto& typed = userdata.at("ports");
        CHECK_FALSE(typed.empty());
        CHECK_FALSE(warren::nft::netlink::typeof_of(typed.data(), static_cast<std::uint32_t>(typed.size())));

        // Read back through the backend: the slot map nft made has the library's declaration's shape.
        KernelBackendImpl backend;
        const std::vector<std::string> none;
        const auto snap = backend.snapshot(warren(family), none, none);
        CHECK(snap.sets.at("ingress") == slot_map(family).shape());
        CHECK_FALSE(snap.sets.at("ports").nft_typeof);

        // Adding the map again without its typeof succeeds and leaves the typeof as it is (as the
        // FakeBackend does): the kernel does not compare user data.
        auto plain = slot_map(family);
        plain.nft_typeof.reset();
        Transaction again(warren(family));
        again.add(plain);
        backend.commit(again, std::nullopt);
        CHECK(backend.snapshot(warren(family), none, none).sets.at("ingress") == slot_map(family).shape());
        CHECK(kernel_userdata(warren(family)).at("ingress") == userdata.at("ingress"));
    }
}

TEST_CASE_METHOD(FreshNetns,
                 "a slot map with its typeof and a numgen DNAT rule read back as written, and nft lists and reloads them",
                 "[ingress][typeof]")
{
    KernelBackendImpl backend;
    for (const Family family : {Family::ip, Family::ip6}) {
        INFO(family_name(family));
        const Bytes backend_address =
            family == Family::ip ? v4(10, 88, 0, 5) : v6_prefix({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5});
        Transaction tx(warren(family));
        tx.add(warren(family)).add(slot_map(family)).add(prerouting()).add(slot_rule(family));
        for (std::uint32_t slot = 0; slot < slots; ++slot)
            tx.create(slot_element(slot, backend_address, 80));
        backend.commit(tx, std::nullopt);

        const std::vector<std::string> chains{"prerouting"}, maps{"ingress"};
        const auto check_read_back = [&] {
            const auto snap = backend.snapshot(warren(family), chains, maps);
            REQUIRE(snap.exists);
            CHECK(snap.sets.at("ingress") == slot_map(family).shape());
            CHECK(snap.rules.at("prerouting") == std::vector<Rule>{as_reported(slot_rule(family))});
            CHECK(snap.elements.at("ingress").size() == slots);
            CHECK(std::count(snap.elements.at("ingress").begin(), snap.elements.at("ingress").end(),
                             slot_element(255, backend_address, 80)) == 1);
        };
        check_read_back();
        CHECK(kernel_userdata(warren(family)).at("ingress") == warren::nft::netlink::set_userdata(slot_map(family)));

        // nft 1.0.6 lists it (without the typeof it aborts), by the typeof the library wrote.
        const std::string table_name = std::string(family_name(family)) + " warren";
        const std::string listing = nft({"list", "table", family_name(family), "warren"});
        const std::string address = family == Family::ip ? "ip daddr" : "ip6 daddr";
        CHECK_THAT(listing,
                   Catch::Contains("typeof meta l4proto . th dport . numgen random mod 256 : " + address + " . th dport"));
        CHECK_THAT(listing, Catch::Contains("meta l4proto . th dport . numgen random mod 256 map @ingress"));

        // The listing reloads into an emptied namespace and lists the same; what nft wrote reads back
        // as what the library wrote.
        nft({"flush", "ruleset"});
        nft_script(listing);
        CHECK(nft({"list", "table", family_name(family), "warren"}) == listing);
        check_read_back();
        CHECK(kernel_userdata(warren(family)).at("ingress") == warren::nft::netlink::set_userdata(slot_map(family)));
        nft({"flush", "ruleset"});
    }
}
