// SPDX-License-Identifier: Apache-2.0
#include "netlink/encode.hpp"

#include "netlink/nftnl_ptr.hpp"
#include "netlink/set_userdata.hpp"
#include "netlink/socket.hpp"

#include <warren/nft/error.hpp>

#include <arpa/inet.h>  // before the linux/ headers, which then skip their own struct in_addr
#include <endian.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <array>
#include <cstring>
#include <string_view>
#include <stdexcept>
#include <type_traits>

namespace warren::nft::netlink {

using namespace ruleset;

namespace {

// NFTA_SET_ELEM_LIST_ELEMENTS is a nest with a 16-bit length, and the batch reserves 64 KiB for the
// message being built: stay below both.
constexpr std::size_t max_elements_per_message = 128;
constexpr std::size_t max_element_message_bytes = 60 * 1024;

std::uint16_t family_of(const Table& table) { return static_cast<std::uint16_t>(table.family); }

std::uint32_t reg(Reg r) { return static_cast<std::uint32_t>(r); }

std::uint16_t create_flags(Verb verb) { return verb == Verb::create ? NLM_F_CREATE | NLM_F_EXCL : NLM_F_CREATE; }

UdataBufPtr comment_udata(std::uint8_t type, const std::string& comment)
{
    auto udata = checked<UdataBufPtr>(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
    // nft shows a comment only when it carries its terminating NUL.
    if (!nftnl_udata_put_strz(udata.get(), type, comment.c_str()))
        throw std::length_error("comment too long for nftables userdata: " + comment);
    return udata;
}

TablePtr make_table(const Table& table)
{
    auto t = checked<TablePtr>(nftnl_table_alloc());
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.name.c_str());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, table.family == Family::ip ? NFPROTO_IPV4 : NFPROTO_IPV6);
    // Without the attribute the kernel leaves an existing table's flags alone; with it, it sets them.
    if (table.flags)
        nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, *table.flags);
    return t;
}

ChainPtr make_chain(const Table& table, const Chain& chain)
{
    auto c = checked<ChainPtr>(nftnl_chain_alloc());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.name.c_str());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
    if (chain.hook) {
        nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, chain.hook->hooknum);
        nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.hook->priority);
        nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, chain.hook->type.c_str());
        nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, chain.hook->policy_accept ? NF_ACCEPT : NF_DROP);
    }
    return c;
}

SetPtr make_set(const Table& table, const std::string& name)
{
    auto s = checked<SetPtr>(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.name.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
    nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, family_of(table));
    return s;
}

ExprPtr make_expr(const char* name) { return checked<ExprPtr>(nftnl_expr_alloc(name)); }

SetPtr make_set_declaration(const Table& table, const Set& set)
{
    auto s = make_set(table, set.name);
    nftnl_set_set_u32(s.get(), NFTNL_SET_ID, set.id);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, concat_type(set.key));
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, concat_length(set.key));
    const std::uint32_t flags = set.kernel_flags() | (set.is_map() ? NFT_SET_MAP : 0);
    if (flags)
        nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
    if (flags & NFT_SET_CONCAT) {
        // Each field's length, unpadded, as nft describes it: the kernel's set of concatenated
        // ranges needs it to tell the fields apart. libnftnl counts the lengths up to a zero.
        std::array<std::uint8_t, NFT_REG32_COUNT> lengths{};
        if (set.key.size() >= lengths.size())
            throw std::length_error("set " + set.name + ": too many key fields");
        for (std::size_t i = 0; i < set.key.size(); ++i)
            lengths[i] = static_cast<std::uint8_t>(set.key[i].length);
        nftnl_set_set_data(s.get(), NFTNL_SET_DESC_CONCAT, lengths.data(), static_cast<std::uint32_t>(set.key.size()));
    }
    if (set.is_map()) {
        nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, concat_type(set.data));
        nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, concat_length(set.data));
    }
    if (set.timeout)
        nftnl_set_set_u64(s.get(), NFTNL_SET_TIMEOUT, set.timeout);
    if (set.size)
        nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, set.size);
    if (set.counter)
        nftnl_set_add_expr(s.get(), make_expr("counter").release());
    if (const auto userdata = set_userdata(set); !userdata.empty())
        nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, userdata.data(), static_cast<std::uint32_t>(userdata.size()));
    return s;
}

// One expression, as nft itself would emit it so that `nft list` prints nft syntax.
ExprPtr make_expression(const Expression& expression)
{
    return std::visit(
        [](const auto& e) -> ExprPtr {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, expr::Meta>) {
                auto x = make_expr("meta");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_META_KEY, e.key);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_META_DREG, reg(e.dreg));
                return x;
            } else if constexpr (std::is_same_v<T, expr::Payload>) {
                auto x = make_expr("payload");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_PAYLOAD_BASE, e.base);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_PAYLOAD_OFFSET, e.offset);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_PAYLOAD_LEN, e.length);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_PAYLOAD_DREG, reg(e.dreg));
                return x;
            } else if constexpr (std::is_same_v<T, expr::Cmp>) {
                auto x = make_expr("cmp");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_CMP_SREG, reg(e.sreg));
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_CMP_OP, e.op);
                nftnl_expr_set(x.get(), NFTNL_EXPR_CMP_DATA, e.data.data(), static_cast<std::uint32_t>(e.data.size()));
                return x;
            } else if constexpr (std::is_same_v<T, expr::Bitwise>) {
                auto x = make_expr("bitwise");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_BITWISE_SREG, reg(e.sreg));
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_BITWISE_DREG, reg(e.dreg));
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_BITWISE_LEN, static_cast<std::uint32_t>(e.mask.size()));
                nftnl_expr_set(x.get(), NFTNL_EXPR_BITWISE_MASK, e.mask.data(), static_cast<std::uint32_t>(e.mask.size()));
                nftnl_expr_set(x.get(), NFTNL_EXPR_BITWISE_XOR, e.xor_.data(), static_cast<std::uint32_t>(e.xor_.size()));
                return x;
            } else if constexpr (std::is_same_v<T, expr::Ct>) {
                auto x = make_expr("ct");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_CT_KEY, e.key);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_CT_DREG, reg(e.dreg));
                if (e.direction)
                    nftnl_expr_set_u8(x.get(), NFTNL_EXPR_CT_DIR, *e.direction);
                return x;
            } else if constexpr (std::is_same_v<T, expr::Fib>) {
                auto x = make_expr("fib");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_FIB_FLAGS, e.flags);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_FIB_RESULT, e.result);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_FIB_DREG, reg(e.dreg));
                return x;
            } else if constexpr (std::is_same_v<T, expr::Numgen>) {
                auto x = make_expr("numgen");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_NG_DREG, reg(e.dreg));
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_NG_MODULUS, e.modulus);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_NG_OFFSET, 0);
                return x;
            } else if constexpr (std::is_same_v<T, expr::Lookup>) {
                auto x = make_expr("lookup");
                nftnl_expr_set_str(x.get(), NFTNL_EXPR_LOOKUP_SET, e.set.c_str());
                // The id lets the kernel resolve a set created earlier in the same batch.
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_LOOKUP_SET_ID, e.set_id);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_LOOKUP_SREG, reg(e.sreg));
                if (e.dreg)
                    nftnl_expr_set_u32(x.get(), NFTNL_EXPR_LOOKUP_DREG, reg(*e.dreg));
                if (e.invert)
                    nftnl_expr_set_u32(x.get(), NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
                return x;
            } else if constexpr (std::is_same_v<T, expr::Dnat>) {
                auto x = make_expr("nat");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_NAT_FAMILY, static_cast<std::uint32_t>(e.family));
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_NAT_REG_ADDR_MIN, reg(e.addr));
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_NAT_REG_PROTO_MIN, reg(e.port));
                return x;
            } else if constexpr (std::is_same_v<T, expr::MetaSet>) {
                auto x = make_expr("meta");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_META_KEY, e.key);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_META_SREG, reg(e.sreg));
                return x;
            } else if constexpr (std::is_same_v<T, expr::Masquerade>) {
                return make_expr("masq");
            } else if constexpr (std::is_same_v<T, expr::Dynset>) {
                auto x = make_expr("dynset");
                nftnl_expr_set_str(x.get(), NFTNL_EXPR_DYNSET_SET_NAME, e.set.c_str());
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_DYNSET_SET_ID, e.set_id);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_DYNSET_SREG_KEY, reg(e.key));
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
                return x;
            } else if constexpr (std::is_same_v<T, expr::Jump>) {
                auto x = make_expr("immediate");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_IMM_VERDICT, NFT_JUMP);
                nftnl_expr_set_str(x.get(), NFTNL_EXPR_IMM_CHAIN, e.chain.c_str());
                return x;
            } else if constexpr (std::is_same_v<T, expr::Return>) {
                auto x = make_expr("immediate");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_IMM_VERDICT, NFT_RETURN);
                return x;
            } else if constexpr (std::is_same_v<T, expr::Foreign>) {
                throw Error(errc::invalid_argument, "a rule expression " + e.name + " cannot be written");
            } else {
                static_assert(std::is_same_v<T, expr::Accept> || std::is_same_v<T, expr::Drop>);
                auto x = make_expr("immediate");
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
                nftnl_expr_set_u32(x.get(), NFTNL_EXPR_IMM_VERDICT, std::is_same_v<T, expr::Accept> ? NF_ACCEPT : NF_DROP);
                return x;
            }
        },
        expression);
}

RulePtr make_rule(const Table& table, const Rule& rule)
{
    auto r = checked<RulePtr>(nftnl_rule_alloc());
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.name.c_str());
    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, rule.chain.c_str());
    nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, family_of(table));
    for (const auto& expression : rule.expressions)
        nftnl_rule_add_expr(r.get(), make_expression(expression).release());
    if (!rule.comment.empty()) {
        auto udata = comment_udata(NFTNL_UDATA_RULE_COMMENT, rule.comment);
        nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(udata.get()), nftnl_udata_buf_len(udata.get()));
    }
    return r;
}

// Element messages carry every publish and unpublish, so they are written straight into the batch
// with libmnl: attribute for attribute what nftnl_set_elems_nlmsg_build_payload() writes (a unit
// test compares the bytes), without allocating and freeing libnftnl objects for every element.
// mnl_attr_put() leaves the padding after an attribute's payload as it was; the batch buffer is not
// zeroed for element messages, so the padding is written here.
void put_padded(nlmsghdr* nlh, std::uint16_t type, std::size_t length, const void* data)
{
    auto* attribute = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(nlh));
    mnl_attr_put(nlh, type, length, data);
    auto* payload = static_cast<std::uint8_t*>(mnl_attr_get_payload(attribute));
    std::memset(payload + length, 0, MNL_ALIGN(length) - length);
}

void put_value(nlmsghdr* nlh, std::uint16_t type, const Bytes& value)
{
    auto* nest = mnl_attr_nest_start(nlh, type);
    put_padded(nlh, NFTA_DATA_VALUE, value.size(), value.data());
    mnl_attr_nest_end(nlh, nest);
}

// The comment as libnftnl's userdata: one TLV of type, length and the text with its NUL, which nft
// needs to show it, in a buffer of NFT_USERDATA_MAXLEN bytes, as nftnl_udata_put_strz().
void put_comment(nlmsghdr* nlh, const std::string& comment)
{
    std::array<std::uint8_t, NFT_USERDATA_MAXLEN> udata;
    const std::size_t length = comment.size() + 1;
    if (2 + length > udata.size())
        throw std::length_error("comment too long for nftables userdata: " + comment);
    udata[0] = NFTNL_UDATA_SET_ELEM_COMMENT;
    udata[1] = static_cast<std::uint8_t>(length);
    std::memcpy(udata.data() + 2, comment.c_str(), length);
    put_padded(nlh, NFTA_SET_ELEM_USERDATA, 2 + length, udata.data());
}

void put_u32(nlmsghdr* nlh, std::uint16_t type, std::uint32_t value) { mnl_attr_put_u32(nlh, type, htonl(value)); }

void put_u64(nlmsghdr* nlh, std::uint16_t type, std::uint64_t value) { mnl_attr_put_u64(nlh, type, htobe64(value)); }

// One expression as nftnl_expr_build_payload() writes it: its name, then its attributes in a nest,
// every one of them (nft sets them all).
void put_expression(nlmsghdr* nlh, const ElementExpression& expression)
{
    std::visit(
        [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, expr::Foreign>) {
                throw Error(errc::invalid_argument, "an element expression " + e.name + " cannot be written");
            } else {
                constexpr std::string_view name = std::is_same_v<T, expr::ConnLimit> ? "connlimit" : "limit";
                put_padded(nlh, NFTA_EXPR_NAME, name.size() + 1, name.data());
                auto* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
                if constexpr (std::is_same_v<T, expr::ConnLimit>) {
                    put_u32(nlh, NFTA_CONNLIMIT_COUNT, e.count);
                    put_u32(nlh, NFTA_CONNLIMIT_FLAGS, e.invert ? NFT_CONNLIMIT_F_INV : 0);
                } else {
                    static_assert(std::is_same_v<T, expr::Limit>);
                    put_u64(nlh, NFTA_LIMIT_RATE, e.rate);
                    put_u64(nlh, NFTA_LIMIT_UNIT, e.unit_seconds);
                    put_u32(nlh, NFTA_LIMIT_BURST, e.burst);
                    put_u32(nlh, NFTA_LIMIT_TYPE, NFT_LIMIT_PKTS);
                    put_u32(nlh, NFTA_LIMIT_FLAGS, e.invert ? NFT_LIMIT_F_INV : 0);
                }
                mnl_attr_nest_end(nlh, data);
            }
        },
        expression);
}

// As libnftnl: one expression in NFTA_SET_ELEM_EXPR, several in NFTA_SET_ELEM_EXPRESSIONS (the
// kernel takes both, and reports them back the same way).
void put_expressions(nlmsghdr* nlh, const std::vector<ElementExpression>& expressions)
{
    if (expressions.size() == 1) {
        auto* nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_EXPR);
        put_expression(nlh, expressions.front());
        mnl_attr_nest_end(nlh, nest);
        return;
    }
    auto* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_EXPRESSIONS);
    for (const auto& expression : expressions) {
        auto* nest = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        put_expression(nlh, expression);
        mnl_attr_nest_end(nlh, nest);
    }
    mnl_attr_nest_end(nlh, list);
}

// The set and table an element message is about, in libnftnl's order.
void put_set_and_table(nlmsghdr* nlh, const Table& table, const std::string& set)
{
    put_padded(nlh, NFTA_SET_ELEM_LIST_SET, set.size() + 1, set.c_str());
    put_padded(nlh, NFTA_SET_ELEM_LIST_TABLE, table.name.size() + 1, table.name.c_str());
}

// In libnftnl's order: key, key end, value, comment, expressions. A removal names the element by its
// key, and by its key end in a set of ranges (the kernel removes only the range that matches both).
void put_element(nlmsghdr* nlh, const Element& element, bool with_data)
{
    auto* nest = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    put_value(nlh, NFTA_SET_ELEM_KEY, element.key);
    if (!element.key_end.empty())
        put_value(nlh, NFTA_SET_ELEM_KEY_END, element.key_end);
    if (with_data && !element.data.empty())
        put_value(nlh, NFTA_SET_ELEM_DATA, element.data);
    if (with_data && !element.comment.empty())
        put_comment(nlh, element.comment);
    if (with_data && !element.expressions.empty())
        put_expressions(nlh, element.expressions);
    mnl_attr_nest_end(nlh, nest);
}

// At least the bytes put_element() writes for `element`: values padded, the comment at its longest,
// and generously for the expressions.
std::size_t element_bytes_bound(const Element& element)
{
    const auto value = [](const Bytes& bytes) { return 8 + MNL_ALIGN(bytes.size()); };
    return 4 + value(element.key) + value(element.key_end) + value(element.data) + 4 + NFT_USERDATA_MAXLEN + 8 +
           96 * element.expressions.size();
}

void encode_single(Batch& batch, const Table& table, const Operation& operation, std::size_t index)
{
    const auto family = family_of(table);
    std::visit(
        [&](const auto& object) {
            using T = std::decay_t<decltype(object)>;
            if constexpr (std::is_same_v<T, Table>) {
                auto t = make_table(object);
                const bool remove = operation.verb == Verb::remove;
                auto* nlh = batch.start_zeroed(remove ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE, family,
                                               remove ? 0 : create_flags(operation.verb));
                nftnl_table_nlmsg_build_payload(nlh, t.get());
            } else if constexpr (std::is_same_v<T, Chain>) {
                if (operation.verb == Verb::flush) {
                    // DELRULE with a chain and no handle flushes that chain. Without the chain it
                    // would flush the whole table, so the chain name is never empty here.
                    auto r = checked<RulePtr>(nftnl_rule_alloc());
                    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.name.c_str());
                    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, object.name.c_str());
                    auto* nlh = batch.start_zeroed(NFT_MSG_DELRULE, family, 0);
                    nftnl_rule_nlmsg_build_payload(nlh, r.get());
                } else {
                    auto c = make_chain(table, object);
                    const bool remove = operation.verb == Verb::remove;
                    auto* nlh = batch.start_zeroed(remove ? NFT_MSG_DELCHAIN : NFT_MSG_NEWCHAIN, family,
                                                   remove ? 0 : create_flags(operation.verb));
                    nftnl_chain_nlmsg_build_payload(nlh, c.get());
                }
            } else if constexpr (std::is_same_v<T, Set>) {
                const bool remove = operation.verb == Verb::remove;
                auto s = remove ? make_set(table, object.name) : make_set_declaration(table, object);
                auto* nlh = batch.start_zeroed(remove ? NFT_MSG_DELSET : NFT_MSG_NEWSET, family,
                                               remove ? 0 : create_flags(operation.verb));
                nftnl_set_nlmsg_build_payload(nlh, s.get());
            } else if constexpr (std::is_same_v<T, Rule>) {
                auto r = make_rule(table, object);
                // Without APPEND a new rule goes to the head of the chain.
                auto* nlh = batch.start_zeroed(NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND);
                nftnl_rule_nlmsg_build_payload(nlh, r.get());
            } else {
                static_assert(std::is_same_v<T, Element>);
            }
        },
        operation.object);
    batch.finish({index});
}

}  // namespace

void encode(Batch& batch, const Transaction& transaction, std::size_t first_index)
{
    const auto& table = transaction.table();
    const auto& operations = transaction.operations();
    for (std::size_t i = 0; i < operations.size();) {
        const auto* element = std::get_if<Element>(&operations[i].object);
        if (!element) {
            encode_single(batch, table, operations[i], first_index + i);
            ++i;
            continue;
        }
        const Verb verb = operations[i].verb;
        const bool remove = verb == Verb::remove;
        auto* nlh =
            batch.start(remove ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, family_of(table), remove ? 0 : create_flags(verb));
        put_set_and_table(nlh, table, element->set);
        auto* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
        std::vector<std::size_t> carried;
        for (; i < operations.size() && carried.size() < max_elements_per_message; ++i) {
            const auto* next = std::get_if<Element>(&operations[i].object);
            if (!next || operations[i].verb != verb || next->set != element->set)
                break;
            if (!carried.empty() && nlh->nlmsg_len + element_bytes_bound(*next) > max_element_message_bytes)
                break;
            put_element(nlh, *next, !remove);
            carried.push_back(first_index + i);
        }
        mnl_attr_nest_end(nlh, list);
        batch.finish(std::move(carried));
    }
}

void put_element_keys(nlmsghdr* nlh, const Table& table, const std::string& set, std::span<const Bytes> keys)
{
    put_set_and_table(nlh, table, set);
    auto* list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
    for (const auto& key : keys) {
        auto* nest = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
        put_value(nlh, NFTA_SET_ELEM_KEY, key);
        mnl_attr_nest_end(nlh, nest);
    }
    mnl_attr_nest_end(nlh, list);
}

std::optional<std::size_t> element_at_offset(const nlmsghdr* message, std::uint32_t offset)
{
    const auto* base = reinterpret_cast<const std::uint8_t*>(message);
    const std::size_t header = MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg));
    std::optional<std::size_t> found;
    for_each_attribute(base + header, message->nlmsg_len - header, [&](const nlattr* list) {
        if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS)
            return;
        std::size_t index = 0;
        for_each_attribute(mnl_attr_get_payload(list), mnl_attr_get_payload_len(list), [&](const nlattr* element) {
            const auto start = static_cast<std::uint32_t>(reinterpret_cast<const std::uint8_t*>(element) - base);
            if (offset >= start && offset < start + element->nla_len)
                found = index;
            ++index;
        });
    });
    return found;
}

}  // namespace warren::nft::netlink
