// SPDX-License-Identifier: Apache-2.0
// A set's typeof user data: written as nft 1.0.6 writes it (its bytes, read back from the kernel
// after `nft -f`, are the fixtures here; tests/kernel/ingress_objects_test.cpp compares with nft
// itself), read back as untrusted bytes, and carried by the set's NEWSET and its shape.
#include "netlink/batch.hpp"
#include "netlink/decode.hpp"
#include "netlink/encode.hpp"
#include "netlink/nftnl_ptr.hpp"
#include "netlink/set_userdata.hpp"
#include "ruleset/fake_backend.hpp"

#include <warren/nft/error.hpp>

#include <catch2/catch.hpp>

#include "ingress_map.hpp"

#include <cstdio>
#include <sstream>
#include <string>

using namespace warren::nft;
using namespace warren::nft::ruleset;
using namespace warren::nft::test::ingress;
using warren::nft::test::policy::inet_proto;
using warren::nft::test::policy::inet_service;
using warren::nft::test::policy::ipv4_addr;

namespace {

Bytes hex(const std::string& text)
{
    Bytes bytes;
    std::istringstream in(text);
    for (std::string byte; in >> byte;)
        bytes.push_back(static_cast<std::uint8_t>(std::stoul(byte, nullptr, 16)));
    return bytes;
}

// What nft 1.0.6 wrote, as libnftnl read it back from the kernel.
const Bytes ingress_ip =
    hex("00 04 00 00 00 00 01 04 00 00 00 00 03 4a 00 04 0d 00 00 00 01 42 00 0e 00 04 09 00 00 00 01 06 00 04 10 00 00 00 "
        "01 14 00 04 07 00 00 00 01 0c 00 04 0b 00 00 00 01 04 02 00 00 00 02 1a 00 04 17 00 00 00 01 12 00 04 01 00 00 00 "
        "01 04 00 01 00 00 02 04 00 00 00 00 04 34 00 04 0d 00 00 00 01 2c 00 14 00 04 07 00 00 00 01 0c 00 04 0c 00 00 00 "
        "01 04 0c 00 00 00 01 14 00 04 07 00 00 00 01 0c 00 04 0b 00 00 00 01 04 02 00 00 00 06 04 00 00 00 00");
const Bytes ingress_ip6 =
    hex("00 04 00 00 00 00 01 04 00 00 00 00 03 4a 00 04 0d 00 00 00 01 42 00 0e 00 04 09 00 00 00 01 06 00 04 10 00 00 00 "
        "01 14 00 04 07 00 00 00 01 0c 00 04 0b 00 00 00 01 04 02 00 00 00 02 1a 00 04 17 00 00 00 01 12 00 04 01 00 00 00 "
        "01 04 00 01 00 00 02 04 00 00 00 00 04 34 00 04 0d 00 00 00 01 2c 00 14 00 04 07 00 00 00 01 0c 00 04 0d 00 00 00 "
        "01 04 09 00 00 00 01 14 00 04 07 00 00 00 01 0c 00 04 0b 00 00 00 01 04 02 00 00 00 06 04 00 00 00 00");
// typeof ip daddr; typeof meta l4proto; typeof th dport : ip daddr.
const Bytes address_set = hex("00 04 02 00 00 00 03 14 00 04 07 00 00 00 01 0c 00 04 0c 00 00 00 01 04 0c 00 00 00");
const Bytes protocol_set = hex("00 04 01 00 00 00 03 0e 00 04 09 00 00 00 01 06 00 04 10 00 00 00");
const Bytes port_map =
    hex("00 04 02 00 00 00 01 04 02 00 00 00 03 14 00 04 07 00 00 00 01 0c 00 04 0b 00 00 00 01 04 02 00 00 00 04 14 00 04 "
        "07 00 00 00 01 0c 00 04 0c 00 00 00 01 04 0c 00 00 00 06 04 00 00 00 00");
// type inet_proto . inet_service : ipv4_addr . inet_service: an empty concatenation in each typeof.
const Bytes typed_map =
    hex("00 04 00 00 00 00 01 04 00 00 00 00 03 08 00 04 0d 00 00 00 01 00 04 08 00 04 0d 00 00 00 01 00 "
        "06 04 00 00 00 00");

Set with_typeof(Set set, SetTypeof description)
{
    set.nft_typeof = std::move(description);
    return set;
}

const Set address_set_declaration = with_typeof(Set{"s1", {ipv4_addr}, {}}, SetTypeof{{ip_daddr}});
const Set protocol_set_declaration = with_typeof(Set{"s2", {inet_proto}, {}}, SetTypeof{{typeof_expr::Meta{NFT_META_L4PROTO}}});
const Set port_map_declaration = with_typeof(Set{"m3", {inet_service}, {ipv4_addr}}, SetTypeof{{th_dport}, {ip_daddr}});

std::optional<SetTypeof> read(const Bytes& bytes)
{
    return netlink::typeof_of(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
}

}  // namespace

TEST_CASE("a set's typeof is written byte for byte as nft 1.0.6 writes it", "[typeof]")
{
    CHECK(netlink::set_userdata(slot_map(Family::ip)) == ingress_ip);
    CHECK(netlink::set_userdata(slot_map(Family::ip6)) == ingress_ip6);
    CHECK(netlink::set_userdata(address_set_declaration) == address_set);
    CHECK(netlink::set_userdata(protocol_set_declaration) == protocol_set);
    CHECK(netlink::set_userdata(port_map_declaration) == port_map);
    // A set without one has no user data: its NEWSET is what it was before sets had a typeof.
    auto plain = slot_map(Family::ip);
    plain.nft_typeof.reset();
    CHECK(netlink::set_userdata(plain).empty());
}

TEST_CASE("a typeof reads back as written, and nft's own reads as what nft declared", "[typeof]")
{
    for (const auto& set :
         {slot_map(Family::ip), slot_map(Family::ip6), address_set_declaration, protocol_set_declaration, port_map_declaration})
        CHECK(read(netlink::set_userdata(set)) == set.nft_typeof);
    CHECK(read(ingress_ip) == slot_map_typeof(Family::ip));
    CHECK(read(ingress_ip6) == slot_map_typeof(Family::ip6));
    CHECK(read(port_map) == port_map_declaration.nft_typeof);
    // nft's user data of a set declared with `type`: no typeof.
    CHECK_FALSE(read(typed_map));
    CHECK_FALSE(read({}));
    // Other TLVs (a comment after it) are skipped.
    auto commented = address_set;
    for (const int byte : {int{NFTNL_UDATA_SET_COMMENT}, 3, int{'h'}, int{'i'}, 0})
        commented.push_back(static_cast<std::uint8_t>(byte));
    CHECK(read(commented) == address_set_declaration.nft_typeof);
}

TEST_CASE("a typeof that cannot be written is refused before anything is sent", "[typeof]")
{
    // One expression for each field of the key and value.
    auto short_key = slot_map(Family::ip);
    short_key.nft_typeof->key.pop_back();
    auto no_value = slot_map(Family::ip);
    no_value.nft_typeof->data.clear();
    // A meta key of one field whose byte order the model does not know.
    const auto mark = with_typeof(Set{"marks", {{19, 4}}, {}}, SetTypeof{{typeof_expr::Meta{NFT_META_MARK}}});
    for (const auto& set : {short_key, no_value, mark}) {
        try {
            (void)netlink::set_userdata(set);
            FAIL("written: " << set.name);
        } catch (const Error& e) {
            CHECK(e.code() == errc::invalid_argument);
        }
        Transaction tx(Table{Family::ip, "warren"});
        tx.add(set);
        netlink::Batch batch(1, std::nullopt, false);
        CHECK_THROWS_AS(netlink::encode(batch, tx), Error);
    }
}

TEST_CASE("a NEWSET carries the typeof, and its shape reads back with it", "[typeof]")
{
    auto plain = slot_map(Family::ip6);
    plain.nft_typeof.reset();
    plain.name = "plain";
    Transaction tx(Table{Family::ip6, "warren"});
    tx.add(slot_map(Family::ip6)).add(plain);
    netlink::Batch batch(1, std::nullopt, false);
    netlink::encode(batch, tx);
    REQUIRE(batch.messages().size() == 2);
    const auto* declared = batch.header(batch.messages()[0]);
    auto set = netlink::checked<netlink::SetPtr>(nftnl_set_alloc());
    REQUIRE(nftnl_set_nlmsg_parse(declared, set.get()) == 0);
    std::uint32_t length = 0;
    const auto* userdata = static_cast<const std::uint8_t*>(nftnl_set_get_data(set.get(), NFTNL_SET_USERDATA, &length));
    REQUIRE(userdata);
    CHECK(Bytes(userdata, userdata + length) == ingress_ip6);

    // The kernel reports a NEWSET as it was sent: decoded, its shape is the declaration's.
    const auto shape = netlink::decode_set(declared, "warren");
    REQUIRE(shape);
    CHECK(shape->second == slot_map(Family::ip6).shape());
    const auto plain_shape = netlink::decode_set(batch.header(batch.messages()[1]), "warren");
    REQUIRE(plain_shape);
    CHECK_FALSE(plain_shape->second.nft_typeof);
    CHECK(plain_shape->second == plain.shape());
    CHECK(plain.shape() != slot_map(Family::ip6).shape());
}

TEST_CASE("hostile or cut typeof user data reads as none, never past its end", "[typeof]")
{
    // Cut anywhere: none, except at the end of a whole TLV after the key's typeof, where what came
    // whole is all there is. Each cut is a copy of exactly its length: a read past it leaves the
    // allocation (which the sanitizer builds catch).
    std::size_t whole = 0;
    for (std::size_t length = 0; length < ingress_ip.size(); ++length) {
        INFO("cut to " << length);
        const Bytes cut(ingress_ip.begin(), ingress_ip.begin() + static_cast<std::ptrdiff_t>(length));
        const auto found = read(cut);
        if (found) {
            CHECK((*found == SetTypeof{slot_map_typeof(Family::ip).key} || *found == slot_map_typeof(Family::ip)));
            ++whole;
        }
    }
    CHECK(whole == 2);  // after the key's typeof, and after the value's
    // Every byte changed to every value: whatever reads back, it reads within the bytes.
    std::size_t read_back = 0;
    for (std::size_t at = 0; at < ingress_ip.size(); ++at) {
        for (unsigned value = 0; value < 256; ++value) {
            auto changed = ingress_ip;
            changed[at] = static_cast<std::uint8_t>(value);
            read_back += read(changed).has_value();
        }
    }
    CHECK(read_back > 0);

    const auto tamper = [](std::size_t at, std::uint8_t value) {
        auto changed = ingress_ip;
        changed[at] = value;
        return read(changed);
    };
    CHECK_FALSE(tamper(16, 14));    // the key an expression type nft does not have
    CHECK_FALSE(tamper(26, 10));    // its first field not meta
    CHECK_FALSE(tamper(13, 0x4b));  // the key's nest longer than the bytes after it
    CHECK_FALSE(tamper(84, 1));     // numgen with an offset
    CHECK_FALSE(tamper(72, 0));     // numgen incremental
    // The key's typeof twice.
    auto twice = ingress_ip;
    twice.insert(twice.end(), ingress_ip.begin() + 12, ingress_ip.begin() + 12 + 2 + 0x4a);
    CHECK_FALSE(read(twice));
}

TEST_CASE("the fake backend, like the kernel, keeps a set's typeof when the set is added again without it", "[typeof]")
{
    // Checked with nft on the kernel: `add map` of a map that exists with the same types succeeds
    // whatever its user data, and the map keeps the user data it had.
    FakeBackend backend;
    const Table table{Family::ip, "warren"};
    Transaction first(table);
    first.add(table).add(slot_map(Family::ip));
    backend.commit(first, std::nullopt);
    auto plain = slot_map(Family::ip);
    plain.nft_typeof.reset();
    Transaction again(table);
    again.add(plain);
    backend.commit(again, std::nullopt);
    const std::vector<std::string> none;
    CHECK(backend.snapshot(table, none, none).sets.at("ingress") == slot_map(Family::ip).shape());
    // Another type is another set: refused.
    auto other = plain;
    other.key.pop_back();
    Transaction refused(table);
    refused.add(other);
    CHECK_THROWS_AS(backend.commit(refused, std::nullopt), Error);
}
