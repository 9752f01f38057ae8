// SPDX-License-Identifier: Apache-2.0
// The netlink encoding, decoded back with libnftnl's own parsers.
#include "netlink/batch.hpp"
#include "netlink/encode.hpp"
#include "netlink/nftnl_ptr.hpp"
#include "netlink/socket.hpp"
#include "publisher/layout.hpp"

#include <warren/nft/validation.hpp>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "addresses.hpp"

#include <cstring>

using namespace warren::nft;
using netlink::Batch;

namespace {

std::uint16_t nft_type(const nlmsghdr* nlh) { return NFNL_MSG_TYPE(nlh->nlmsg_type); }

std::string rule_text(const nlmsghdr* nlh)
{
    auto rule = netlink::checked<netlink::RulePtr>(nftnl_rule_alloc());
    REQUIRE(nftnl_rule_nlmsg_parse(nlh, rule.get()) == 0);
    char text[4096];
    nftnl_rule_snprintf(text, sizeof text, rule.get(), NFTNL_OUTPUT_DEFAULT, 0);
    return text;
}

// Walks NFTA_SET_ELEM_LIST_ELEMENTS by hand: an independent check of what was written.
std::vector<ruleset::Element> elements_of(const nlmsghdr* nlh)
{
    std::vector<ruleset::Element> out;
    const auto* base = reinterpret_cast<const std::uint8_t*>(nlh);
    const std::size_t header = MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg));
    netlink::for_each_attribute(base + header, nlh->nlmsg_len - header, [&](const nlattr* list) {
        if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS)
            return;
        netlink::for_each_attribute(mnl_attr_get_payload(list), mnl_attr_get_payload_len(list), [&](const nlattr* e) {
            ruleset::Element element;
            netlink::for_each_attribute(mnl_attr_get_payload(e), mnl_attr_get_payload_len(e), [&](const nlattr* a) {
                if (mnl_attr_get_type(a) == NFTA_SET_ELEM_KEY) {
                    const auto* value = static_cast<const nlattr*>(mnl_attr_get_payload(a));
                    CHECK(mnl_attr_get_type(value) == NFTA_DATA_VALUE);
                    const auto* bytes = static_cast<const std::uint8_t*>(mnl_attr_get_payload(value));
                    element.key.assign(bytes, bytes + mnl_attr_get_payload_len(value));
                }
                if (mnl_attr_get_type(a) == NFTA_SET_ELEM_USERDATA) {
                    const auto* udata = static_cast<const char*>(mnl_attr_get_payload(a));
                    const auto len = mnl_attr_get_payload_len(a);
                    // TLV: type, length, then the NUL-terminated comment
                    REQUIRE(len >= 3);
                    CHECK(udata[0] == NFTNL_UDATA_SET_ELEM_COMMENT);
                    CHECK(udata[len - 1] == '\0');
                    element.comment = udata + 2;
                }
            });
            out.push_back(element);
        });
    });
    return out;
}

}  // namespace

TEST_CASE("a batch carries the generation id in its header", "[encode]")
{
    Batch batch(100, 0xabcdef01u, false);
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    tx.add(layout::table(ruleset::Family::ip));
    netlink::encode(batch, tx);
    batch.end(true);

    const auto* begin = reinterpret_cast<const nlmsghdr*>(batch.bytes().data());
    CHECK(begin->nlmsg_type == NFNL_MSG_BATCH_BEGIN);
    CHECK(begin->nlmsg_seq == 100);
    CHECK_FALSE(begin->nlmsg_flags & NLM_F_ACK);
    const auto* genid = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(begin, sizeof(nfgenmsg)));
    CHECK(mnl_attr_get_type(genid) == NFNL_BATCH_GENID);
    CHECK(ntohl(mnl_attr_get_u32(genid)) == 0xabcdef01u);

    REQUIRE(batch.messages().size() == 1);
    CHECK(batch.messages()[0].seq == 101);
    CHECK(nft_type(batch.header(batch.messages()[0])) == NFT_MSG_NEWTABLE);
    CHECK(batch.end_seq() == 102);
    CHECK(batch.next_seq() == 103);
    const auto* end = reinterpret_cast<const nlmsghdr*>(batch.bytes().data() + batch.bytes().size() -
                                                        MNL_ALIGN(sizeof(nlmsghdr) + sizeof(nfgenmsg)));
    CHECK(end->nlmsg_type == NFNL_MSG_BATCH_END);
    CHECK(end->nlmsg_flags & NLM_F_ACK);
}

namespace {

// The same element message as libnftnl builds it, the way the encoder wrote it before writing
// element attributes itself: the reference the direct encoding must match byte for byte.
std::vector<std::uint8_t> libnftnl_element_message(const nlmsghdr* like, const ruleset::Transaction& tx,
                                                   const std::vector<std::size_t>& operations, bool with_data)
{
    std::vector<std::uint8_t> buffer(MNL_SOCKET_BUFFER_SIZE);
    auto set = netlink::checked<netlink::SetPtr>(nftnl_set_alloc());
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, tx.table().name.c_str());
    for (const auto index : operations) {
        const auto& element = std::get<ruleset::Element>(tx.operations()[index].object);
        nftnl_set_set_str(set.get(), NFTNL_SET_NAME, element.set.c_str());
        auto e = netlink::checked<netlink::SetElemPtr>(nftnl_set_elem_alloc());
        nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, element.key.data(), static_cast<std::uint32_t>(element.key.size()));
        if (with_data && !element.data.empty())
            nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_DATA, element.data.data(),
                               static_cast<std::uint32_t>(element.data.size()));
        if (with_data && !element.comment.empty()) {
            auto udata = netlink::checked<netlink::UdataBufPtr>(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
            REQUIRE(nftnl_udata_put_strz(udata.get(), NFTNL_UDATA_SET_ELEM_COMMENT, element.comment.c_str()));
            nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(udata.get()),
                               nftnl_udata_buf_len(udata.get()));
        }
        nftnl_set_elem_add(set.get(), e.release());
    }
    const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(like));
    auto* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer.data()), NFNL_MSG_TYPE(like->nlmsg_type), nfg->nfgen_family,
                                      like->nlmsg_flags, like->nlmsg_seq);
    nftnl_set_elems_nlmsg_build_payload(nlh, set.get());
    buffer.resize(nlh->nlmsg_len);
    return buffer;
}

}  // namespace

TEST_CASE("element messages are byte for byte what libnftnl builds", "[encode]")
{
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    tx.create(layout::port_element({Protocol::tcp, 80}, {test::v4(10, 0, 0, 1), Protocol::tcp, 8080}, "task=web name=http"));
    tx.create(
        layout::port_element({Protocol::udp, 53, test::v4(192, 168, 1, 2)}, {test::v4(10, 0, 0, 2), Protocol::udp, 53},
                             "task=" + std::string(max_task_id_length, 'x') + " name=" + std::string(max_name_length, 'n')));
    tx.add(layout::destination_element({test::v4(10, 0, 0, 1), Protocol::tcp, 8080}));
    tx.remove(layout::port_element({Protocol::sctp, 9}, {test::v4(10, 0, 0, 3), Protocol::sctp, 9}, "task=old"));
    tx.remove(layout::destination_element({test::v4(10, 0, 0, 3), Protocol::sctp, 9}));
    Batch batch(7, std::nullopt, false);
    netlink::encode(batch, tx);
    REQUIRE(batch.messages().size() == 5);  // ports, bound_ports, backends; then the two removals
    for (const auto& message : batch.messages()) {
        const auto* nlh = batch.header(message);
        INFO("message " << message.seq);
        const bool with_data = nft_type(nlh) == NFT_MSG_NEWSETELEM;
        const auto expected = libnftnl_element_message(nlh, tx, message.operations, with_data);
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(nlh);
        CHECK(std::vector<std::uint8_t>(bytes, bytes + nlh->nlmsg_len) == expected);
    }
}

TEST_CASE("element operations on one set share a message and keep their comments", "[encode]")
{
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    for (std::uint16_t port = 1; port <= 3; ++port)
        tx.create(layout::port_element({Protocol::tcp, port}, {test::v4(10, 0, 0, 1), Protocol::tcp, 80},
                                       "task=t" + std::to_string(port)));
    tx.add(layout::destination_element({test::v4(10, 0, 0, 1), Protocol::tcp, 80}));
    Batch batch(1, std::nullopt, false);
    netlink::encode(batch, tx);

    REQUIRE(batch.messages().size() == 2);
    const auto& first = batch.messages()[0];
    CHECK(first.operations == std::vector<std::size_t>{0, 1, 2});
    const auto* nlh = batch.header(first);
    CHECK(nft_type(nlh) == NFT_MSG_NEWSETELEM);
    CHECK((nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL)) == (NLM_F_CREATE | NLM_F_EXCL));
    const auto decoded = elements_of(nlh);
    REQUIRE(decoded.size() == 3);
    CHECK(decoded[1].key == std::get<ruleset::Element>(tx.operations()[1].object).key);
    CHECK(decoded[2].comment == "task=t3");

    const auto* second = batch.header(batch.messages()[1]);
    CHECK((second->nlmsg_flags & NLM_F_EXCL) == 0);  // add: an existing backend is fine

    // The kernel's ext-ack offset into the second element names the second operation.
    const auto* base = reinterpret_cast<const std::uint8_t*>(nlh);
    std::optional<std::uint32_t> second_element;
    const std::size_t header = MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg));
    netlink::for_each_attribute(base + header, nlh->nlmsg_len - header, [&](const nlattr* list) {
        if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS)
            return;
        int index = 0;
        netlink::for_each_attribute(mnl_attr_get_payload(list), mnl_attr_get_payload_len(list), [&](const nlattr* e) {
            if (index++ == 1)
                second_element = static_cast<std::uint32_t>(reinterpret_cast<const std::uint8_t*>(e) - base) + 8;
        });
    });
    REQUIRE(second_element);
    CHECK(netlink::element_at_offset(nlh, *second_element) == 1u);
    CHECK_FALSE(netlink::element_at_offset(nlh, 4));
}

TEST_CASE("large element lists are split below the 64 KiB attribute limit", "[encode]")
{
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    for (std::uint16_t port = 1; port <= 300; ++port)
        tx.create(layout::port_element({Protocol::udp, port}, {test::v4(10, 0, 0, 1), Protocol::udp, port},
                                       "task=bulk-task-with-a-long-name"));
    Batch batch(1, std::nullopt, false);
    netlink::encode(batch, tx);
    REQUIRE(batch.messages().size() == 3);
    std::size_t carried = 0;
    for (const auto& message : batch.messages()) {
        CHECK(batch.header(message)->nlmsg_len < 65535u);
        carried += message.operations.size();
        CHECK(elements_of(batch.header(message)).size() == message.operations.size());
    }
    CHECK(carried == 300);
}

namespace {
// The rules a transaction adds, as libnftnl prints them (what `nft --debug=netlink` shows).
// The rules the transaction adds, in order; without those of the access policies (the police
// chains and the rules that jump to them) unless `policy`.
std::vector<std::string> added_rules(const ruleset::Transaction& tx, bool policy = false)
{
    Batch batch(1, std::nullopt, false);
    netlink::encode(batch, tx);
    std::vector<std::string> rules;
    for (const auto& message : batch.messages()) {
        const auto* nlh = batch.header(message);
        if (nft_type(nlh) == NFT_MSG_NEWRULE) {
            CHECK((nlh->nlmsg_flags & NLM_F_APPEND));
            auto text = rule_text(nlh);
            const bool of_policy = text.find("police") != std::string::npos || text.find("policed") != std::string::npos;
            if (of_policy == policy)
                rules.push_back(std::move(text));
        }
        if (nft_type(nlh) == NFT_MSG_DELRULE)  // a flush must name its chain
            CHECK_THAT(rule_text(nlh), Catch::Contains("warren"));
    }
    return rules;
}
}  // namespace

TEST_CASE("fixed rules encode the registers nft itself uses", "[encode]")
{
    const auto create = layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false, layout::RuleOptions{false});
    REQUIRE(create);
    const auto rules = added_rules(*create);
    REQUIRE(rules.size() == 21);  // 4 per nat chain for DNAT, per protocol 2 each in postrouting and forward, 1 guard
    INFO(rules[0]);
    // dnat ip to ip daddr . meta l4proto . th dport map @bound_ports: the key in regs 8, 9, 10
    CHECK_THAT(rules[0], Catch::Contains("[ fib daddr type => reg 1 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ payload load 4b @ network header + 16 => reg 1 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ meta load l4proto => reg 9 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ payload load 2b @ transport header + 2 => reg 10 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ lookup reg 1 set bound_ports dreg 1 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ nat dnat ip addr_min reg 1 proto_min reg 9 ]"));
    // dnat ip to meta l4proto . th dport . numgen random mod 4096 (then 256) map @ingress: the slot
    // in reg 10
    for (const auto& rule : {rules[1], rules[2]}) {
        CHECK_THAT(rule, Catch::Contains("[ fib daddr type => reg 1 ]"));
        CHECK_THAT(rule, Catch::Contains("[ meta load l4proto => reg 1 ]"));
        CHECK_THAT(rule, Catch::Contains("[ payload load 2b @ transport header + 2 => reg 9 ]"));
        CHECK_THAT(rule, Catch::Contains("[ lookup reg 1 set ingress dreg 1 ]"));
        CHECK_THAT(rule, Catch::Contains("[ nat dnat ip addr_min reg 1 proto_min reg 9 ]"));
    }
    CHECK_THAT(rules[1], Catch::Contains("[ numgen reg 10 = random mod 4096"));
    CHECK_THAT(rules[2], Catch::Contains("[ numgen reg 10 = random mod 256"));
    // dnat ip to meta l4proto . th dport map @ports: the port travels in reg 9
    CHECK_THAT(rules[3], Catch::Contains("[ fib daddr type => reg 1 ]"));
    CHECK_THAT(rules[3], Catch::Contains("[ payload load 2b @ transport header + 2 => reg 9 ]"));
    CHECK_THAT(rules[3], Catch::Contains("[ lookup reg 1 set ports dreg 1 ]"));
    CHECK_THAT(rules[3], Catch::Contains("[ nat dnat ip addr_min reg 1 proto_min reg 9 ]"));
    // output: the same order there, the ingress rule sparing loopback as the ports rule does
    CHECK_THAT(rules[4], Catch::Contains("[ lookup reg 1 set bound_ports dreg 1 ]"));
    CHECK_THAT(rules[5], Catch::Contains("[ lookup reg 1 set ingress dreg 1 ]") && Catch::Contains("0x0000007f"));
    CHECK_THAT(rules[6], Catch::Contains("[ lookup reg 1 set ingress dreg 1 ]") && Catch::Contains("0x0000007f"));
    CHECK_THAT(rules[7], Catch::Contains("[ lookup reg 1 set ports dreg 1 ]") && Catch::Contains("0x0000007f"));
    // meta l4proto tcp ct status dnat ct original ip daddr . meta l4proto . ct original proto-dst @bound_ports masquerade
    for (const auto& rule : {rules[8], rules[14]}) {
        CHECK_THAT(rule, Catch::Contains("[ meta load l4proto => reg 1 ]"));
        CHECK_THAT(rule, Catch::Contains("[ cmp eq reg 1 0x00000006 ]"));
        CHECK_THAT(rule, Catch::Contains("[ ct load status => reg 1 ]"));
        CHECK_THAT(rule, Catch::Contains("[ ct load dst_ip => reg 1 , dir original ]"));
        CHECK_THAT(rule, Catch::Contains("[ meta load l4proto => reg 9 ]"));
        CHECK_THAT(rule, Catch::Contains("[ ct load proto_dst => reg 10 , dir original ]"));
        CHECK_THAT(rule, Catch::Contains("[ lookup reg 1 set bound_ports ]"));
    }
    // meta l4proto tcp ct status dnat meta l4proto . ct original proto-dst @ports masquerade
    for (const auto& rule : {rules[9], rules[15]}) {
        CHECK_THAT(rule, Catch::Contains("[ meta load l4proto => reg 1 ]"));
        CHECK_THAT(rule, Catch::Contains("[ ct load proto_dst => reg 9 , dir original ]"));
        CHECK_THAT(rule, Catch::Contains("[ lookup reg 1 set ports ]"));
    }
    CHECK_THAT(rules[9], Catch::Contains("[ masq ]"));
    CHECK_THAT(rules[11], Catch::Contains("[ cmp eq reg 1 0x00000011 ]"));  // then udp
    CHECK_THAT(rules[13], Catch::Contains("[ cmp eq reg 1 0x00000084 ]"));  // and sctp
    CHECK_THAT(rules[15], Catch::Contains("[ immediate reg 0 accept ]"));
}

TEST_CASE("access policies: a jump per nat chain and key kind, and a police chain that checks source and limits",
          "[encode][policy]")
{
    const auto create = layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false, layout::RuleOptions{false});
    REQUIRE(create);
    const auto rules = added_rules(*create, true);
    // police and bound_police: a return for ports without a policy, a rule per allowed prefix length
    // (32, 28, ... 0) and drop; 2 jumps per nat chain
    REQUIRE(rules.size() == 2 * (1 + 9 + 1) + 2 * 2);
    // meta l4proto . th dport != @policed return: inverted, the lookup never runs the element's limits.
    INFO(rules[0]);
    CHECK_THAT(rules[0], Catch::Contains("[ meta load l4proto => reg 1 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ lookup reg 1 set policed 0x1 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ immediate reg 0 return ]"));
    CHECK_THAT(rules[11], Catch::Contains("[ lookup reg 1 set bound_policed 0x1 ]"));
    INFO(rules[1]);
    // meta l4proto . th dport . ip saddr . ip saddr @allowed update @policed { meta l4proto . th dport } return
    CHECK_THAT(rules[1], Catch::Contains("[ meta load l4proto => reg 1 ]"));
    CHECK_THAT(rules[1], Catch::Contains("[ payload load 2b @ transport header + 2 => reg 9 ]"));
    CHECK_THAT(rules[1], Catch::Contains("[ payload load 4b @ network header + 12 => reg 10 ]"));
    CHECK_THAT(rules[1], Catch::Contains("[ payload load 4b @ network header + 12 => reg 11 ]"));
    CHECK_THAT(rules[1], !Catch::Contains("bitwise"));
    CHECK_THAT(rules[1], Catch::Contains("[ lookup reg 1 set allowed ]"));
    CHECK_THAT(rules[1], Catch::Contains("[ dynset update reg_key 1 set policed ]"));
    CHECK_THAT(rules[1], Catch::Contains("[ immediate reg 0 return ]"));
    // /24: ip saddr & 255.255.255.0 . ip saddr | 0.0.0.255, the first and last address of its /24
    INFO(rules[3]);
    CHECK_THAT(rules[3], Catch::Contains("[ bitwise reg 10 = ( reg 10 & 0x00ffffff ) ^ 0x00000000 ]"));
    CHECK_THAT(rules[3], Catch::Contains("[ bitwise reg 11 = ( reg 11 & 0x00ffffff ) ^ 0xff000000 ]"));
    // /0: every source, 0.0.0.0 . 255.255.255.255
    CHECK_THAT(rules[9], Catch::Contains("[ bitwise reg 10 = ( reg 10 & 0x00000000 ) ^ 0x00000000 ]"));
    CHECK_THAT(rules[9], Catch::Contains("[ bitwise reg 11 = ( reg 11 & 0x00000000 ) ^ 0xffffffff ]"));
    CHECK_THAT(rules[10], Catch::Contains("[ immediate reg 0 drop ]"));
    // The bound variant: ip daddr . meta l4proto . th dport . ip saddr . ip saddr, the sources after the key.
    CHECK_THAT(rules[12], Catch::Contains("[ payload load 4b @ network header + 12 => reg 11 ]"));
    CHECK_THAT(rules[12], Catch::Contains("[ payload load 4b @ network header + 12 => reg 12 ]"));
    CHECK_THAT(rules[12], Catch::Contains("[ lookup reg 1 set bound_allowed ]"));
    CHECK_THAT(rules[12], Catch::Contains("[ dynset update reg_key 1 set bound_policed ]"));
    CHECK_THAT(rules[21], Catch::Contains("[ immediate reg 0 drop ]"));
    // fib daddr type local jump bound_police, before the DNAT rules: no lookup of bound_policed,
    // which would run the limits of its elements.
    CHECK_THAT(rules[22], Catch::Contains("[ fib daddr type => reg 1 ]"));
    CHECK_THAT(rules[22], !Catch::Contains("lookup"));
    CHECK_THAT(rules[22], Catch::Contains("[ immediate reg 0 jump -> bound_police ]"));
    CHECK_THAT(rules[23], Catch::Contains("[ immediate reg 0 jump -> police ]"));
}

TEST_CASE("a table that counts matches masquerade and forward on the backends set", "[encode][counters]")
{
    const auto create = layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false, layout::RuleOptions{true});
    REQUIRE(create);
    const auto rules = added_rules(*create);
    REQUIRE(rules.size() == 12);
    CHECK_THAT(rules[8], Catch::Contains("[ payload load 4b @ network header + 16 => reg 1 ]"));
    CHECK_THAT(rules[8], Catch::Contains("[ lookup reg 1 set backends ]"));
    CHECK_THAT(rules[8], Catch::Contains("[ masq ]"));
    CHECK_THAT(rules[9], Catch::Contains("[ payload load 2b @ transport header + 2 => reg 10 ]"));
    CHECK_THAT(rules[10], Catch::Contains("[ payload load 4b @ network header + 12 => reg 1 ]"));
    CHECK_THAT(rules[10], Catch::Contains("[ payload load 2b @ transport header + 0 => reg 10 ]"));
    CHECK_THAT(rules[10], Catch::Contains("[ immediate reg 0 accept ]"));
}

TEST_CASE("a NEWTABLE carries flags only when the table asks for them; a set its flags, timeout and size", "[encode][adopt]")
{
    auto awake = layout::table(ruleset::Family::ip);
    awake.flags = 0;
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    tx.add(layout::table(ruleset::Family::ip));
    tx.add(awake);
    ruleset::Set timed{"t", {{7, 4}}, {{7, 4}}, false, 9};
    timed.flags = NFT_SET_TIMEOUT;
    timed.timeout = 2000;
    timed.size = 2;
    tx.add(timed);
    Batch batch(1, std::nullopt, false);
    netlink::encode(batch, tx);
    REQUIRE(batch.messages().size() == 3);

    // Without flags the kernel leaves an existing table's alone (a dormant one stays dormant until
    // the NEWTABLE that asks for none).
    for (const auto& [index, flagged] : {std::pair{0, false}, std::pair{1, true}}) {
        auto table = netlink::checked<netlink::TablePtr>(nftnl_table_alloc());
        REQUIRE(nftnl_table_nlmsg_parse(batch.header(batch.messages()[index]), table.get()) == 0);
        CHECK(nftnl_table_is_set(table.get(), NFTNL_TABLE_FLAGS) == flagged);
        if (flagged)
            CHECK(nftnl_table_get_u32(table.get(), NFTNL_TABLE_FLAGS) == 0);
    }
    auto set = netlink::checked<netlink::SetPtr>(nftnl_set_alloc());
    REQUIRE(nftnl_set_nlmsg_parse(batch.header(batch.messages()[2]), set.get()) == 0);
    CHECK(nftnl_set_get_u32(set.get(), NFTNL_SET_FLAGS) == (NFT_SET_TIMEOUT | NFT_SET_MAP));
    CHECK(nftnl_set_get_u64(set.get(), NFTNL_SET_TIMEOUT) == 2000);
    CHECK(nftnl_set_get_u32(set.get(), NFTNL_SET_DESC_SIZE) == 2);
}

TEST_CASE("the IPv6 table's rules load 16-byte addresses and shift the key's other fields", "[encode][ipv6]")
{
    const auto create =
        layout::ensure_transaction(layout::layout_of(ruleset::Family::ip6), {}, false, layout::RuleOptions{false});
    REQUIRE(create);
    CHECK(create->table().family == ruleset::Family::ip6);
    const auto rules = added_rules(*create);
    REQUIRE(rules.size() == 20);  // no guard chain: IPv6 loopback is never routed out
    INFO(rules[0]);
    // dnat ip6 to ip6 daddr . meta l4proto . th dport map @bound_ports: address in regs 8-11
    CHECK_THAT(rules[0], Catch::Contains("[ payload load 16b @ network header + 24 => reg 1 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ meta load l4proto => reg 12 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ payload load 2b @ transport header + 2 => reg 13 ]"));
    CHECK_THAT(rules[0], Catch::Contains("[ nat dnat ip6 addr_min reg 1 proto_min reg 12 ]"));
    // the ingress rules' key is not bound: protocol, port and slot in regs 8, 9, 10; its value as ports'
    CHECK_THAT(rules[1], Catch::Contains("[ numgen reg 10 = random mod 4096"));
    CHECK_THAT(rules[2], Catch::Contains("[ numgen reg 10 = random mod 256"));
    CHECK_THAT(rules[2], Catch::Contains("[ lookup reg 1 set ingress dreg 1 ]"));
    CHECK_THAT(rules[2], Catch::Contains("[ nat dnat ip6 addr_min reg 1 proto_min reg 12 ]"));
    CHECK_THAT(rules[3], Catch::Contains("[ nat dnat ip6 addr_min reg 1 proto_min reg 12 ]"));
    // output spares ::1
    CHECK_THAT(rules[7], Catch::Contains("[ payload load 16b @ network header + 24 => reg 1 ]"));
    CHECK_THAT(rules[7], Catch::Contains("[ cmp neq reg 1 0x00000000 0x00000000 0x00000000 0x01000000 ]"));
    CHECK_THAT(rules[8], Catch::Contains("[ ct load dst_ip6 => reg 1 , dir original ]"));
    CHECK_THAT(rules[8], Catch::Contains("[ meta load l4proto => reg 12 ]"));
    CHECK_THAT(rules[8], Catch::Contains("[ ct load proto_dst => reg 13 , dir original ]"));
}

TEST_CASE("masquerading when needed: from the host, or hairpin as marked in forward", "[encode][masquerade]")
{
    const auto create = layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false,
                                                   layout::RuleOptions{false, Masquerading::when_needed, false});
    REQUIRE(create);
    const auto rules = added_rules(*create);
    // 8 DNAT; postrouting 2 per protocol and map; forward a mark and an accept per protocol and map; guard
    REQUIRE(rules.size() == 8 + 12 + 12 + 1);
    CHECK_THAT(rules[8], Catch::Contains("[ fib saddr type => reg 1 ]") && Catch::Contains("[ masq ]"));
    CHECK_THAT(rules[9], Catch::Contains("[ meta load mark => reg 1 ]") && Catch::Contains("[ masq ]"));
    CHECK_THAT(rules[20], Catch::Contains("[ fib daddr . iif oif => reg 1 ]") && Catch::Contains("[ meta set mark with reg 1 ]"));
    CHECK_THAT(rules[21], Catch::Contains("[ immediate reg 0 accept ]"));

    // With loopback open to ports on every address, output DNATs 127.0.0.0/8 too.
    const auto open = layout::ensure_transaction(layout::layout_of(ruleset::Family::ip), {}, false,
                                                 layout::RuleOptions{false, Masquerading::always, true});
    const auto open_rules = added_rules(*open);
    CHECK_THAT(open_rules[5], !Catch::Contains("0x0000007f"));
    CHECK_THAT(added_rules(*create)[5], Catch::Contains("0x0000007f"));
}
