// SPDX-License-Identifier: Apache-2.0
// The access policies' objects (sets of ranges, dynamic sets, element expressions, Dynset, Jump,
// Return) through the encoder and back through the decoder, and through the FakeBackend.
#include "netlink/batch.hpp"
#include "netlink/decode.hpp"
#include "netlink/encode.hpp"
#include "netlink/nftnl_ptr.hpp"
#include "netlink/socket.hpp"
#include "ruleset/fake_backend.hpp"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

#include <catch2/catch.hpp>

#include "error_of.hpp"
#include "policy_objects.hpp"

#include <algorithm>
#include <cerrno>

using namespace warren::nft;
using namespace warren::nft::test::policy;
using netlink::Batch;
using warren::nft::test::error_of;

namespace {

std::uint16_t nft_type(const nlmsghdr* nlh) { return NFNL_MSG_TYPE(nlh->nlmsg_type); }

Batch encoded(const Transaction& tx)
{
    Batch batch(1, std::nullopt, false);
    netlink::encode(batch, tx);
    return batch;
}

// The first attribute `type` of a message, or nullptr.
const nlattr* attribute(const nlmsghdr* nlh, std::uint16_t type)
{
    const nlattr* found = nullptr;
    const auto* base = reinterpret_cast<const std::uint8_t*>(nlh);
    const std::size_t header = MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg));
    netlink::for_each_attribute(base + header, nlh->nlmsg_len - header, [&](const nlattr* a) {
        if (!found && mnl_attr_get_type(a) == type)
            found = a;
    });
    return found;
}

// An element message as libnftnl builds it from the same element (key end and expressions included).
std::vector<std::uint8_t> libnftnl_elements(const nlmsghdr* like, const Table& table, const std::vector<Element>& elements)
{
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    auto set = netlink::checked<netlink::SetPtr>(nftnl_set_alloc());
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.name.c_str());
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, elements.front().set.c_str());
    for (const auto& element : elements) {
        auto e = netlink::checked<netlink::SetElemPtr>(nftnl_set_elem_alloc());
        nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, element.key.data(), static_cast<std::uint32_t>(element.key.size()));
        if (!element.key_end.empty())
            nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY_END, element.key_end.data(),
                               static_cast<std::uint32_t>(element.key_end.size()));
        if (!element.comment.empty()) {
            auto udata = netlink::checked<netlink::UdataBufPtr>(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
            REQUIRE(nftnl_udata_put_strz(udata.get(), NFTNL_UDATA_SET_ELEM_COMMENT, element.comment.c_str()));
            nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(udata.get()),
                               nftnl_udata_buf_len(udata.get()));
        }
        for (const auto& expression : element.expressions) {
            nftnl_expr* x = nullptr;
            if (const auto* connlimit = std::get_if<expr::ConnLimit>(&expression)) {
                x = nftnl_expr_alloc("connlimit");
                nftnl_expr_set_u32(x, NFTNL_EXPR_CONNLIMIT_COUNT, connlimit->count);
                nftnl_expr_set_u32(x, NFTNL_EXPR_CONNLIMIT_FLAGS, connlimit->invert ? NFT_CONNLIMIT_F_INV : 0);
            } else {
                const auto& limit = std::get<expr::Limit>(expression);
                x = nftnl_expr_alloc("limit");
                nftnl_expr_set_u64(x, NFTNL_EXPR_LIMIT_RATE, limit.rate);
                nftnl_expr_set_u64(x, NFTNL_EXPR_LIMIT_UNIT, limit.unit_seconds);
                nftnl_expr_set_u32(x, NFTNL_EXPR_LIMIT_BURST, limit.burst);
                nftnl_expr_set_u32(x, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
                nftnl_expr_set_u32(x, NFTNL_EXPR_LIMIT_FLAGS, limit.invert ? NFT_LIMIT_F_INV : 0);
            }
            nftnl_set_elem_add_expr(e.get(), x);
        }
        nftnl_set_elem_add(set.get(), e.release());
    }
    const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(like));
    auto* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer.data()), nft_type(like), nfg->nfgen_family,
                                      like->nlmsg_flags, like->nlmsg_seq);
    nftnl_set_elems_nlmsg_build_payload(nlh, set.get());
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

std::vector<std::uint8_t> bytes_of(const nlmsghdr* nlh)
{
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(nlh);
    return {bytes, bytes + nlh->nlmsg_len};
}

}  // namespace

TEST_CASE("a set of concatenated ranges is sent with NFT_SET_CONCAT and each field's length, as nft does",
          "[encode][policy-objects]")
{
    for (const Family family : {Family::ip, Family::ip6}) {
        Transaction tx(table(family));
        tx.add(allowed(family)).add(policed_dynamic());
        const auto batch = encoded(tx);
        REQUIRE(batch.messages().size() == 2);

        auto set = netlink::checked<netlink::SetPtr>(nftnl_set_alloc());
        REQUIRE(nftnl_set_nlmsg_parse(batch.header(batch.messages()[0]), set.get()) == 0);
        CHECK(nftnl_set_get_u32(set.get(), NFTNL_SET_FLAGS) == (NFT_SET_INTERVAL | NFT_SET_CONCAT));
        CHECK(allowed(family).shape().flags == (NFT_SET_INTERVAL | NFT_SET_CONCAT));
        std::uint32_t count = 0;
        const auto* lengths = static_cast<const std::uint8_t*>(nftnl_set_get_data(set.get(), NFTNL_SET_DESC_CONCAT, &count));
        const std::uint8_t address_length = family == Family::ip ? 4 : 16;
        CHECK(std::vector<std::uint8_t>(lengths, lengths + count) == std::vector<std::uint8_t>{1, 2, address_length});
        CHECK(nftnl_set_get_u32(set.get(), NFTNL_SET_KEY_LEN) == 8u + address_length);
        CHECK_FALSE(nftnl_set_is_set(set.get(), NFTNL_SET_DESC_SIZE));

        // A dynamic set of one key of two fields: no ranges, so no description of its fields.
        auto dynamic = netlink::checked<netlink::SetPtr>(nftnl_set_alloc());
        REQUIRE(nftnl_set_nlmsg_parse(batch.header(batch.messages()[1]), dynamic.get()) == 0);
        CHECK(nftnl_set_get_u32(dynamic.get(), NFTNL_SET_FLAGS) == NFT_SET_EVAL);
        CHECK(nftnl_set_get_u32(dynamic.get(), NFTNL_SET_KEY_TYPE) == 0x30du);  // as nft: inet_proto . inet_service
        CHECK(nftnl_set_get_u32(dynamic.get(), NFTNL_SET_DESC_SIZE) == 1u << 20);
        CHECK_FALSE(nftnl_set_is_set(dynamic.get(), NFTNL_SET_DESC_CONCAT));
    }
}

TEST_CASE("element messages with key ends and expressions are byte for byte what libnftnl builds", "[encode][policy-objects]")
{
    // One element per message: libnftnl numbers the elements of a message 1, 2, ... where the
    // encoder gives each the type NFTA_LIST_ELEM (the kernel reads neither).
    for (const Family family : {Family::ip, Family::ip6}) {
        auto elements = policed_elements();
        const auto ranges = allowed_elements(family);
        elements.insert(elements.end(), ranges.begin(), ranges.end());
        for (const auto& element : elements) {
            INFO(element.set << " element " << element.comment);
            Transaction tx(table(family));
            tx.create(element).remove(element);
            const auto batch = encoded(tx);
            REQUIRE(batch.messages().size() == 2);
            const auto* added = batch.header(batch.messages()[0]);
            CHECK(bytes_of(added) == libnftnl_elements(added, table(family), {element}));
            // A removal names the element by its key and key end, and nothing else.
            const auto* removed = batch.header(batch.messages()[1]);
            CHECK(nft_type(removed) == NFT_MSG_DELSETELEM);
            Element named{element.set, element.key, {}, {}};
            named.key_end = element.key_end;
            CHECK(bytes_of(removed) == libnftnl_elements(removed, table(family), {named}));
        }
    }
}

TEST_CASE("an element with ct count and limit is encoded as nft 1.0.6 sends it", "[encode][policy-objects]")
{
    // `nft --debug=mnl add element ip t policed { l4_tcp . 8080 ct count 2 limit rate 5/second burst 5
    // packets }`: its NFTA_SET_ELEM_LIST_ELEMENTS attribute, as nft 1.0.6 printed it.
    const std::vector<std::uint8_t> nft_sends = {
        0x88, 0x00, 0x03, 0x80,                                                                          // elements (136)
        0x84, 0x00, 0x01, 0x80,                                                                          //  element (132)
        0x10, 0x00, 0x01, 0x80, 0x0c, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x90, 0x00, 0x00,  // key
        0x70, 0x00, 0x0b, 0x80,                                                                          //  expressions
        0x28, 0x00, 0x01, 0x80,                                                                          //   connlimit
        0x0e, 0x00, 0x01, 0x00, 'c',  'o',  'n',  'n',  'l',  'i',  'm',  'i',  't',  0x00, 0x00, 0x00,  //
        0x14, 0x00, 0x02, 0x80, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x02, 0x00,  //
        0x00, 0x00, 0x00, 0x00,                                                                          //
        0x44, 0x00, 0x01, 0x80,                                                                          //   limit
        0x0a, 0x00, 0x01, 0x00, 'l',  'i',  'm',  'i',  't',  0x00, 0x00, 0x00,                          //
        0x34, 0x00, 0x02, 0x80,                                                                          //
        0x0c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,                          //    rate
        0x0c, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,                          //    unit
        0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x05,                                                  //    burst
        0x08, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,                                                  //    type
        0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,                                                  //    flags
    };
    Transaction tx(table(Family::ip));
    tx.add(policed_element(l4_tcp, 8080, {expr::ConnLimit{2}, expr::Limit{5, 1, 5}}, ""));
    const auto batch = encoded(tx);
    const auto* list = attribute(batch.header(batch.messages()[0]), NFTA_SET_ELEM_LIST_ELEMENTS);
    REQUIRE(list);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(list);
    CHECK(std::vector<std::uint8_t>(bytes, bytes + list->nla_len) == nft_sends);
}

TEST_CASE("elements, set shapes and rules read back as they were written", "[encode][policy-objects]")
{
    for (const Family family : {Family::ip, Family::ip6}) {
        const auto tx = create_all(family);
        const auto batch = encoded(tx);
        std::vector<Element> elements;
        std::vector<Rule> rules;
        for (const auto& message : batch.messages()) {
            const auto* nlh = batch.header(message);
            if (nft_type(nlh) == NFT_MSG_NEWSETELEM) {
                std::vector<Element> decoded;
                netlink::decode_elements(nlh, std::get<Element>(tx.operations()[message.operations.front()].object).set, decoded);
                elements.insert(elements.end(), decoded.begin(), decoded.end());
            }
            if (nft_type(nlh) == NFT_MSG_NEWRULE) {
                auto rule = netlink::decode_rule(nlh, table(family).name);
                REQUIRE(rule);
                rules.push_back(std::move(*rule));
                CHECK_FALSE(netlink::decode_rule(nlh, "another"));
            }
        }
        auto written = policed_elements();
        const auto ranges = allowed_elements(family);
        written.insert(written.end(), ranges.begin(), ranges.end());
        CHECK(elements == written);
        CHECK(rules == std::vector<Rule>{as_reported(police_rule(family)), as_reported(drop_rule()), as_reported(jump_rule())});
    }
}

TEST_CASE("expressions the model does not describe read back as foreign, never as ours", "[encode][policy-objects]")
{
    // Elements: a byte limit, a quota, and ct count with a flag we never write. One element per
    // message: libnftnl numbers the elements of a message it builds 1, 2, ... and parses only 1s.
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    const auto key = service_key(l4_tcp, 80);
    std::vector<Element> decoded;
    const auto decode_with = [&](nftnl_expr* x) {
        auto set = netlink::checked<netlink::SetPtr>(nftnl_set_alloc());
        nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, "policy_test");
        nftnl_set_set_str(set.get(), NFTNL_SET_NAME, "policed");
        auto e = netlink::checked<netlink::SetElemPtr>(nftnl_set_elem_alloc());
        nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, key.data(), static_cast<std::uint32_t>(key.size()));
        nftnl_set_elem_add_expr(e.get(), x);
        nftnl_set_elem_add(set.get(), e.release());
        auto* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer.data()), NFT_MSG_NEWSETELEM, NFPROTO_IPV4, 0, 1);
        nftnl_set_elems_nlmsg_build_payload(nlh, set.get());
        netlink::decode_elements(nlh, "policed", decoded);
    };
    auto* bytes_limit = nftnl_expr_alloc("limit");
    nftnl_expr_set_u64(bytes_limit, NFTNL_EXPR_LIMIT_RATE, 5);
    nftnl_expr_set_u64(bytes_limit, NFTNL_EXPR_LIMIT_UNIT, 1);
    nftnl_expr_set_u32(bytes_limit, NFTNL_EXPR_LIMIT_BURST, 5);
    nftnl_expr_set_u32(bytes_limit, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKT_BYTES);
    decode_with(bytes_limit);
    auto* quota = nftnl_expr_alloc("quota");
    nftnl_expr_set_u64(quota, NFTNL_EXPR_QUOTA_BYTES, 1000);
    decode_with(quota);
    auto* odd_connlimit = nftnl_expr_alloc("connlimit");
    nftnl_expr_set_u32(odd_connlimit, NFTNL_EXPR_CONNLIMIT_COUNT, 2);
    nftnl_expr_set_u32(odd_connlimit, NFTNL_EXPR_CONNLIMIT_FLAGS, 2);
    decode_with(odd_connlimit);
    REQUIRE(decoded.size() == 3);
    CHECK(decoded[0].expressions == std::vector<ElementExpression>{expr::Foreign{"limit"}});
    CHECK(decoded[1].expressions == std::vector<ElementExpression>{expr::Foreign{"quota"}});
    CHECK(decoded[2].expressions == std::vector<ElementExpression>{expr::Foreign{"connlimit"}});
    for (const auto& element : decoded)
        CHECK(element != policed_element(l4_tcp, 80, {expr::Limit{5, 1, 5}}, ""));

    // Rules: a goto, a counter, a lookup with a flag we never write and an update with a timeout.
    auto rule = netlink::checked<netlink::RulePtr>(nftnl_rule_alloc());
    nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, "policy_test");
    nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, "police");
    auto* jump = nftnl_expr_alloc("immediate");
    nftnl_expr_set_u32(jump, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(jump, NFTNL_EXPR_IMM_VERDICT, static_cast<std::uint32_t>(NFT_GOTO));
    nftnl_expr_set_str(jump, NFTNL_EXPR_IMM_CHAIN, "police");
    nftnl_rule_add_expr(rule.get(), jump);
    nftnl_rule_add_expr(rule.get(), nftnl_expr_alloc("counter"));
    auto* lookup = nftnl_expr_alloc("lookup");
    nftnl_expr_set_str(lookup, NFTNL_EXPR_LOOKUP_SET, "allowed");
    nftnl_expr_set_u32(lookup, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(lookup, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV << 1);
    nftnl_rule_add_expr(rule.get(), lookup);
    auto* dynset = nftnl_expr_alloc("dynset");
    nftnl_expr_set_str(dynset, NFTNL_EXPR_DYNSET_SET_NAME, "policed");
    nftnl_expr_set_u32(dynset, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
    nftnl_expr_set_u32(dynset, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
    nftnl_expr_set_u64(dynset, NFTNL_EXPR_DYNSET_TIMEOUT, 1000);
    nftnl_rule_add_expr(rule.get(), dynset);
    auto* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer.data()), NFT_MSG_NEWRULE, NFPROTO_IPV4, 0, 1);
    nftnl_rule_nlmsg_build_payload(nlh, rule.get());
    const auto read = netlink::decode_rule(nlh, "policy_test");
    REQUIRE(read);
    CHECK(read->expressions == std::vector<Expression>{expr::Foreign{"immediate"}, expr::Foreign{"counter"},
                                                       expr::Foreign{"lookup"}, expr::Foreign{"dynset"}});
}

TEST_CASE("foreign expressions are never written", "[encode][policy-objects]")
{
    Transaction tx(table(Family::ip));
    tx.add(policed_element(l4_tcp, 80, {expr::Foreign{"quota"}}));
    Batch batch(1, std::nullopt, false);
    CHECK(error_of([&] { netlink::encode(batch, tx); }).code() == errc::invalid_argument);
    Transaction rules(table(Family::ip));
    rules.add(Rule{"police", {expr::Foreign{"counter"}}, ""});
    CHECK(error_of([&] { netlink::encode(batch, rules); }).code() == errc::invalid_argument);
}

TEST_CASE("elements with expressions and comments split into messages the kernel takes", "[encode][policy-objects]")
{
    // The largest elements there can be: keys, key ends and values of 64 bytes, the longest comment.
    Transaction tx(table(Family::ip6));
    for (std::uint8_t i = 1; i <= 128; ++i) {
        Element element{"any", Bytes(64, i), Bytes(64, 0), std::string(253, 'c')};
        element.key_end = Bytes(64, 0xff);
        element.expressions = {expr::ConnLimit{1}, expr::Limit{1, 1, 1}};
        tx.create(element);
    }
    const auto batch = encoded(tx);
    CHECK(batch.messages().size() == 2);
    std::size_t carried = 0;
    for (const auto& message : batch.messages()) {
        CHECK(batch.header(message)->nlmsg_len <= 60u * 1024);
        carried += message.operations.size();
    }
    CHECK(carried == 128);
}

namespace {

int errno_of(ruleset::FakeBackend& fake, const Transaction& tx)
{
    try {
        fake.commit(tx, std::nullopt);
    } catch (const Error& e) {
        return e.kernel_errno();
    }
    return 0;
}

std::vector<std::string> element_sets() { return {"policed", "allowed"}; }

}  // namespace

TEST_CASE("the fake keeps key ends, expressions, set flags and rules as written", "[fake][policy-objects]")
{
    for (const Family family : {Family::ip, Family::ip6}) {
        ruleset::FakeBackend fake;
        fake.commit(create_all(family), std::nullopt);
        const std::vector<std::string> chains = {"police", "prerouting"};
        const auto sets = element_sets();
        const auto snap = fake.snapshot(table(family), chains, sets);
        CHECK(snap.sets.at("policed") == policed_as_bound().shape());
        CHECK(snap.sets.at("allowed") == allowed(family).shape());
        auto policed_read = snap.elements.at("policed");
        auto policed_written = policed_elements();
        const auto by_key = [](const Element& a, const Element& b) { return a.key < b.key; };
        std::sort(policed_written.begin(), policed_written.end(), by_key);
        CHECK(policed_read == policed_written);
        auto ranges = allowed_elements(family);
        std::sort(ranges.begin(), ranges.end(), by_key);
        CHECK(snap.elements.at("allowed") == ranges);
        CHECK(snap.rules.at("police") == std::vector<Rule>{as_reported(police_rule(family)), as_reported(drop_rule())});
        CHECK(snap.rules.at("prerouting") == std::vector<Rule>{as_reported(jump_rule())});
    }
}

TEST_CASE("the fake refuses ranges that overlap as the kernel does, and removes the range that holds a key",
          "[fake][policy-objects]")
{
    ruleset::FakeBackend fake;
    fake.commit(create_all(Family::ip), std::nullopt);
    const auto with = [](Verb verb, Element element) {
        Transaction tx(table(Family::ip));
        tx.append(Operation{verb, std::move(element)});
        return tx;
    };
    const auto ten = allowed_element(l4_tcp, 8080, cidr(v4(10, 0, 0, 0), 8));
    // The same range: EEXIST when created, fine when added (the element stays as it was).
    CHECK(errno_of(fake, with(Verb::create, ten)) == EEXIST);
    CHECK(errno_of(fake, with(Verb::add, ten)) == 0);
    // A range inside it, one that starts in it, one that ends in it: EEXIST (the kernel's ENOTEMPTY).
    CHECK(errno_of(fake, with(Verb::add, allowed_element(l4_tcp, 8080, cidr(v4(10, 1, 0, 0), 16)))) == EEXIST);
    auto ends_inside = allowed_element(l4_tcp, 8080, cidr(v4(9, 0, 0, 0), 8));
    ends_inside.key_end = source_key(l4_tcp, 8080, v4(10, 0, 0, 5));
    CHECK(errno_of(fake, with(Verb::add, ends_inside)) == EEXIST);
    // Another port, or another protocol, is another range.
    CHECK(errno_of(fake, with(Verb::add, allowed_element(l4_tcp, 8081, cidr(v4(10, 0, 0, 0), 8)))) == 0);
    CHECK(errno_of(fake, with(Verb::add, allowed_element(l4_udp, 8080, cidr(v4(10, 0, 0, 0), 8)))) == 0);
    // A range that ends before it starts, and a key end in a set without ranges.
    auto backwards = allowed_element(l4_tcp, 9999, cidr(v4(10, 0, 0, 0), 8));
    std::swap(backwards.key, backwards.key_end);
    CHECK(errno_of(fake, with(Verb::add, backwards)) == EINVAL);
    auto ranged_service = policed_element(l4_tcp, 9, {});
    ranged_service.key_end = service_key(l4_tcp, 10);
    CHECK(errno_of(fake, with(Verb::add, ranged_service)) == EINVAL);

    // Removal: the range that holds the key goes, whatever key end is named.
    CHECK(errno_of(fake, with(Verb::remove, allowed_element(l4_tcp, 8080, cidr(v4(11, 0, 0, 0), 8)))) == ENOENT);
    CHECK(errno_of(fake, with(Verb::remove, allowed_element(l4_tcp, 8080, cidr(v4(10, 5, 0, 0), 16)))) == 0);
    CHECK(errno_of(fake, with(Verb::remove, ten)) == ENOENT);
    const auto sets = element_sets();
    const auto left = fake.snapshot(table(Family::ip), {}, sets).elements.at("allowed");
    CHECK(std::find(left.begin(), left.end(), ten) == left.end());
}

TEST_CASE("the fake gives a dynamic set without a size 65535 when a rule updates it, and a limit burst 5",
          "[fake][policy-objects]")
{
    ruleset::FakeBackend fake;
    Transaction tx(table(Family::ip));
    auto unsized = policed_dynamic();
    unsized.size = 0;
    tx.add(table(Family::ip)).add(unsized).add(police());
    tx.create(policed_element(l4_tcp, 80, {expr::Limit{10, 60, 0}}));
    fake.commit(tx, std::nullopt);
    const auto sets = element_sets();
    CHECK(fake.snapshot(table(Family::ip), {}, sets).sets.at("policed").size == 0);
    CHECK(fake.snapshot(table(Family::ip), {}, sets).elements.at("policed").front().expressions ==
          std::vector<ElementExpression>{expr::Limit{10, 60, 5}});
    Transaction update(table(Family::ip));
    update.add(Rule{"police",
                    {expr::Meta{NFT_META_L4PROTO, Reg::r1}, expr::Payload{NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, Reg::r32_01},
                     expr::Dynset{"policed", 0, Reg::r1}},
                    ""});
    fake.commit(update, std::nullopt);
    CHECK(fake.snapshot(table(Family::ip), {}, sets).sets.at("policed").size == 65535);

    // A set a rule updates, and a chain a rule jumps to, stay while the rule does.
    Transaction remove_set(table(Family::ip));
    remove_set.remove(unsized);
    CHECK(errno_of(fake, remove_set) == EBUSY);
    Transaction jump(table(Family::ip));
    jump.add(Chain{"other", std::nullopt}).add(Rule{"other", {expr::Jump{"police"}}, ""});
    fake.commit(jump, std::nullopt);
    Transaction remove_chain(table(Family::ip));
    remove_chain.flush(police()).remove(police());
    CHECK(errno_of(fake, remove_chain) == EBUSY);
    Transaction missing(table(Family::ip));
    missing.add(Rule{"other", {expr::Jump{"nowhere"}}, ""});
    CHECK(errno_of(fake, missing) == ENOENT);
}

TEST_CASE("the fake loses ct count elements of a dynamic set, and a plain set with a size takes no expressions",
          "[fake][policy-objects]")
{
    ruleset::FakeBackend fake;
    Transaction tx(table(Family::ip));
    tx.add(table(Family::ip)).add(policed_dynamic()).add(police());
    for (const auto& element : policed_elements())
        tx.create(element);
    fake.commit(tx, std::nullopt);
    const auto sets = element_sets();
    const auto kept = fake.snapshot(table(Family::ip), {}, sets).elements.at("policed");
    CHECK(kept == std::vector<Element>{policed_elements()[1]});  // the one without ct count

    auto sized = policed();
    sized.name = "sized";
    sized.size = 1000;
    Transaction plain(table(Family::ip));
    plain.add(sized);
    auto element = policed_elements().front();
    element.set = "sized";
    plain.create(element);
    CHECK(errno_of(fake, plain) == EOPNOTSUPP);
    Transaction update(table(Family::ip));
    update.add(sized).add(Rule{"police", {expr::Meta{NFT_META_L4PROTO, Reg::r1}, expr::Dynset{"sized", 0, Reg::r1}}, ""});
    CHECK(errno_of(fake, update) == EOPNOTSUPP);
}

TEST_CASE("numgen random reads back as written; other numgen variants as foreign", "[encode][ingress]")
{
    // meta l4proto . th dport . numgen random mod 256: the key of a slot of an ingress port.
    auto key = load_service();
    key.push_back(expr::Numgen{256, Reg::r32_02});
    Transaction tx(table(Family::ip));
    tx.add(Rule{"prerouting", key, "slot"});
    const auto batch = encoded(tx);
    REQUIRE(batch.messages().size() == 1);
    const auto read = netlink::decode_rule(batch.header(batch.messages()[0]), table(Family::ip).name);
    REQUIRE(read);
    CHECK(*read == as_reported(Rule{"prerouting", key, "slot"}));

    // numgen inc, and numgen random with an offset: not what the model writes.
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    for (const auto& [type, offset] : {std::pair{NFT_NG_INCREMENTAL, 0u}, std::pair{NFT_NG_RANDOM, 1u}}) {
        auto rule = netlink::checked<netlink::RulePtr>(nftnl_rule_alloc());
        nftnl_rule_set_str(rule.get(), NFTNL_RULE_TABLE, "policy_test");
        nftnl_rule_set_str(rule.get(), NFTNL_RULE_CHAIN, "prerouting");
        auto* numgen = nftnl_expr_alloc("numgen");
        nftnl_expr_set_u32(numgen, NFTNL_EXPR_NG_DREG, NFT_REG_1);
        nftnl_expr_set_u32(numgen, NFTNL_EXPR_NG_MODULUS, 256);
        nftnl_expr_set_u32(numgen, NFTNL_EXPR_NG_TYPE, type);
        nftnl_expr_set_u32(numgen, NFTNL_EXPR_NG_OFFSET, offset);
        nftnl_rule_add_expr(rule.get(), numgen);
        auto* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer.data()), NFT_MSG_NEWRULE, NFPROTO_IPV4, 0, 1);
        nftnl_rule_nlmsg_build_payload(nlh, rule.get());
        const auto foreign = netlink::decode_rule(nlh, "policy_test");
        REQUIRE(foreign);
        CHECK(foreign->expressions == std::vector<Expression>{expr::Foreign{"numgen"}});
    }
}
