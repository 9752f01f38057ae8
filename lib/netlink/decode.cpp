// SPDX-License-Identifier: Apache-2.0
#include "netlink/decode.hpp"

#include "netlink/nftnl_ptr.hpp"
#include "netlink/set_userdata.hpp"
#include "netlink/socket.hpp"

#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string_view>

namespace warren::nft::netlink {

using namespace ruleset;

namespace {
Bytes bytes_of(nftnl_set_elem* element, std::uint16_t attribute)
{
    if (!nftnl_set_elem_is_set(element, attribute))
        return {};
    std::uint32_t length = 0;
    const auto* data = static_cast<const std::uint8_t*>(nftnl_set_elem_get(element, attribute, &length));
    return Bytes(data, data + length);
}

bool has_name(const nlattr* expression)
{
    bool found = false;
    for_each_attribute(mnl_attr_get_payload(expression), mnl_attr_get_payload_len(expression),
                       [&](const nlattr* attr) { found = found || mnl_attr_get_type(attr) == NFTA_EXPR_NAME; });
    return found;
}

// Whether every expression in the nested list `list` (NFTA_LIST_ELEM entries) has a name.
bool named_expressions(const nlattr* list)
{
    bool named = true;
    for_each_attribute(mnl_attr_get_payload(list), mnl_attr_get_payload_len(list), [&](const nlattr* expression) {
        named = named && mnl_attr_get_type(expression) == NFTA_LIST_ELEM && has_name(expression);
    });
    return named;
}

bool terminated(const nlattr* attr)
{
    const auto length = mnl_attr_get_payload_len(attr);
    return length > 0 && static_cast<const char*>(mnl_attr_get_payload(attr))[length - 1] == '\0';
}

}  // namespace

bool safe_for_libnftnl(const nlmsghdr* nlh, NftnlParser parser)
{
    const auto* payload = static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(nlh));
    const auto length = mnl_nlmsg_get_payload_len(nlh);
    // libmnl walks the attributes up to the aligned end of the message, past a length that is not
    // aligned (the kernel's always are): what lies there would go unchecked.
    if (nlh->nlmsg_len != NLMSG_ALIGN(nlh->nlmsg_len))
        return false;
    if (length < sizeof(nfgenmsg))
        return true;  // libnftnl refuses it whole
    bool safe = true;
    for_each_attribute(payload + sizeof(nfgenmsg), length - sizeof(nfgenmsg), [&](const nlattr* attr) {
        const auto type = mnl_attr_get_type(attr);
        if ((parser == NftnlParser::rule && type == NFTA_RULE_EXPRESSIONS) ||
            (parser == NftnlParser::set && type == NFTA_SET_EXPRESSIONS))
            safe = safe && named_expressions(attr);
        if (parser == NftnlParser::set && type == NFTA_SET_EXPR)
            safe = safe && has_name(attr);
        if (parser != NftnlParser::elements)
            return;
        if (type == NFTA_SET_ELEM_LIST_TABLE || type == NFTA_SET_ELEM_LIST_SET)
            safe = safe && terminated(attr);
        if (type != NFTA_SET_ELEM_LIST_ELEMENTS)
            return;
        for_each_attribute(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr), [&](const nlattr* element) {
            for_each_attribute(mnl_attr_get_payload(element), mnl_attr_get_payload_len(element), [&](const nlattr* part) {
                // libnftnl checks an element's attribute types against NFTA_SET_MAX, not
                // NFTA_SET_ELEM_MAX, and writes the larger ones past the end of its array.
                if (mnl_attr_get_type(part) > NFTA_SET_ELEM_MAX)
                    safe = false;
                else if (mnl_attr_get_type(part) == NFTA_SET_ELEM_OBJREF)
                    safe = safe && terminated(part);
                else if (mnl_attr_get_type(part) == NFTA_SET_ELEM_EXPR)
                    safe = safe && has_name(part);
                else if (mnl_attr_get_type(part) == NFTA_SET_ELEM_EXPRESSIONS)
                    safe = safe && named_expressions(part);
            });
        });
    });
    return safe;
}

namespace {

Chain chain_of(nftnl_chain* c)
{
    Chain chain{nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), std::nullopt};
    if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
        chain.hook = BaseHook{nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : "",
                              nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
                              nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_ACCEPT};
    return chain;
}

SetShape shape_of(nftnl_set* s)
{
    SetShape shape;
    shape.key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
    shape.key_length = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
    const std::uint32_t flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
    if (flags & NFT_SET_MAP) {
        shape.data_type = nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE);
        shape.data_length = nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN);
    }
    shape.flags = flags & ~NFT_SET_MAP;
    shape.timeout = nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT);
    shape.size = nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE);
    nftnl_set_expr_foreach(
        s,
        [](nftnl_expr* expr, void* d) -> int {
            if (std::strcmp(nftnl_expr_get_str(expr, NFTNL_EXPR_NAME), "counter") == 0)
                static_cast<SetShape*>(d)->counter = true;
            return 0;
        },
        &shape);
    if (nftnl_set_is_set(s, NFTNL_SET_USERDATA)) {
        std::uint32_t length = 0;
        const void* userdata = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &length);
        shape.nft_typeof = typeof_of(userdata, length);
    }
    return shape;
}

// Whether `nlh` is the nf_tables message `type`: libnftnl's parsers take any message for theirs,
// and exit the process on an attribute of the wrong size.
bool is_message(const nlmsghdr* nlh, std::uint16_t type)
{
    return NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_NFTABLES && NFNL_MSG_TYPE(nlh->nlmsg_type) == type &&
           mnl_nlmsg_get_payload_len(nlh) >= sizeof(nfgenmsg);
}

}  // namespace

std::string comment_of(const void* data, std::uint32_t length, std::uint8_t type)
{
    // Userdata is [type][length][value]...; walked here because nftnl_udata_parse trusts each
    // length and reads past the end of a cut or corrupted one.
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    std::string comment;
    for (std::uint32_t at = 0; length - at >= 2;) {
        const std::uint8_t attr_type = bytes[at], attr_length = bytes[at + 1];
        if (length - at - 2 < attr_length)
            break;
        if (attr_type == type && attr_length > 0) {
            const char* text = reinterpret_cast<const char*>(bytes + at + 2);
            comment.assign(text, strnlen(text, attr_length));
        }
        at += 2u + attr_length;
    }
    return comment;
}

namespace {

// An attribute of an expression, or `absent` when the message left it out.
std::uint32_t u32_or(const nftnl_expr* expr, std::uint16_t attribute, std::uint32_t absent)
{
    return nftnl_expr_is_set(expr, attribute) ? nftnl_expr_get_u32(expr, attribute) : absent;
}

// An element's stateful expression as the model describes it: ct count and packet limits with no
// other flags than inversion; anything else, or one missing what the kernel always reports, is foreign.
ElementExpression element_expression(const nftnl_expr* expr, const char* name)
{
    if (std::strcmp(name, "connlimit") == 0 && nftnl_expr_is_set(expr, NFTNL_EXPR_CONNLIMIT_COUNT)) {
        const std::uint32_t flags = u32_or(expr, NFTNL_EXPR_CONNLIMIT_FLAGS, 0);
        if ((flags & ~NFT_CONNLIMIT_F_INV) == 0)
            return expr::ConnLimit{nftnl_expr_get_u32(expr, NFTNL_EXPR_CONNLIMIT_COUNT), flags == NFT_CONNLIMIT_F_INV};
    }
    if (std::strcmp(name, "limit") == 0 && nftnl_expr_is_set(expr, NFTNL_EXPR_LIMIT_RATE) &&
        nftnl_expr_is_set(expr, NFTNL_EXPR_LIMIT_UNIT) && nftnl_expr_is_set(expr, NFTNL_EXPR_LIMIT_BURST) &&
        u32_or(expr, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKT_BYTES) == NFT_LIMIT_PKTS) {
        const std::uint32_t flags = u32_or(expr, NFTNL_EXPR_LIMIT_FLAGS, 0);
        if ((flags & ~NFT_LIMIT_F_INV) == 0)
            return expr::Limit{nftnl_expr_get_u64(expr, NFTNL_EXPR_LIMIT_RATE), nftnl_expr_get_u64(expr, NFTNL_EXPR_LIMIT_UNIT),
                               nftnl_expr_get_u32(expr, NFTNL_EXPR_LIMIT_BURST), flags == NFT_LIMIT_F_INV};
    }
    return expr::Foreign{name};
}

}  // namespace

Element decode_element(nftnl_set_elem* e, const std::string& set)
{
    Element element;
    element.set = set;
    element.key = bytes_of(e, NFTNL_SET_ELEM_KEY);
    element.key_end = bytes_of(e, NFTNL_SET_ELEM_KEY_END);
    element.data = bytes_of(e, NFTNL_SET_ELEM_DATA);
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
        std::uint32_t length = 0;
        const void* udata = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &length);
        element.comment = comment_of(udata, length, NFTNL_UDATA_SET_ELEM_COMMENT);
    }
    nftnl_set_elem_expr_foreach(
        e,
        [](nftnl_expr* expr, void* d) -> int {
            auto* out = static_cast<Element*>(d);
            const char* name = nftnl_expr_get_str(expr, NFTNL_EXPR_NAME);
            // A set's counter, which the model keeps apart (the set declares it).
            if (std::strcmp(name, "counter") == 0) {
                out->packets = nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_PACKETS);
                out->bytes = nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_BYTES);
            } else {
                out->expressions.push_back(element_expression(expr, name));
            }
            return 0;
        },
        &element);
    return element;
}

bool decode_table(const nlmsghdr* nlh, std::uint32_t own_port_id, TableSnapshot& out)
{
    if (!is_message(nlh, NFT_MSG_NEWTABLE))
        return false;
    auto found = checked<TablePtr>(nftnl_table_alloc());
    if (nftnl_table_nlmsg_parse(nlh, found.get()) != 0)
        return false;
    out.table_flags = nftnl_table_get_u32(found.get(), NFTNL_TABLE_FLAGS);
    if (nftnl_table_is_set(found.get(), NFTNL_TABLE_OWNER)) {
        out.owner = nftnl_table_get_u32(found.get(), NFTNL_TABLE_OWNER);
        out.owned_by_us = *out.owner == own_port_id;
    }
    return true;
}

std::optional<Chain> decode_chain(const nlmsghdr* nlh)
{
    if (!is_message(nlh, NFT_MSG_NEWCHAIN))
        return std::nullopt;
    auto c = checked<ChainPtr>(nftnl_chain_alloc());
    if (nftnl_chain_nlmsg_parse(nlh, c.get()) != 0 || !nftnl_chain_is_set(c.get(), NFTNL_CHAIN_NAME))
        return std::nullopt;
    return chain_of(c.get());
}

namespace {

// A NEWRULE of table `table` as libnftnl parsed it, or nullptr; the table and chain are there.
RulePtr parsed_rule(const nlmsghdr* nlh, const std::string& table)
{
    if (!is_message(nlh, NFT_MSG_NEWRULE) || !safe_for_libnftnl(nlh, NftnlParser::rule))
        return nullptr;
    auto r = checked<RulePtr>(nftnl_rule_alloc());
    // A name left out reads as nullptr.
    if (nftnl_rule_nlmsg_parse(nlh, r.get()) != 0 || !nftnl_rule_is_set(r.get(), NFTNL_RULE_TABLE) ||
        !nftnl_rule_is_set(r.get(), NFTNL_RULE_CHAIN) || table != nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE))
        return nullptr;
    return r;
}

std::string rule_comment(nftnl_rule* r)
{
    if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA))
        return {};
    std::uint32_t length = 0;
    const void* udata = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &length);
    return comment_of(udata, length, NFTNL_UDATA_RULE_COMMENT);
}

}  // namespace

std::optional<std::pair<std::string, std::string>> decode_rule_comment(const nlmsghdr* nlh, const std::string& table)
{
    const auto r = parsed_rule(nlh, table);
    if (!r)
        return std::nullopt;
    return std::pair{std::string(nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)), rule_comment(r.get())};
}

namespace {

Reg reg_of(const nftnl_expr* x, std::uint16_t attribute) { return static_cast<Reg>(nftnl_expr_get_u32(x, attribute)); }

Bytes data_of(const nftnl_expr* x, std::uint16_t attribute)
{
    std::uint32_t length = 0;
    const auto* data = static_cast<const std::uint8_t*>(nftnl_expr_get(x, attribute, &length));
    return data ? Bytes(data, data + length) : Bytes{};
}

bool all_set(const nftnl_expr* x, std::initializer_list<std::uint16_t> attributes)
{
    return std::all_of(attributes.begin(), attributes.end(), [&](std::uint16_t a) { return nftnl_expr_is_set(x, a); });
}

bool none_set(const nftnl_expr* x, std::initializer_list<std::uint16_t> attributes)
{
    return std::none_of(attributes.begin(), attributes.end(), [&](std::uint16_t a) { return nftnl_expr_is_set(x, a); });
}

// The flags of a DNAT to an address and a port that the kernel adds itself and reports.
constexpr std::uint32_t implied_nat_flags = 0x1 /* NF_NAT_RANGE_MAP_IPS */ | 0x2 /* NF_NAT_RANGE_PROTO_SPECIFIED */;

std::optional<Expression> verdict_of(const nftnl_expr* x)
{
    if (!nftnl_expr_is_set(x, NFTNL_EXPR_IMM_VERDICT) || nftnl_expr_get_u32(x, NFTNL_EXPR_IMM_DREG) != NFT_REG_VERDICT)
        return std::nullopt;
    const auto verdict = static_cast<std::int32_t>(nftnl_expr_get_u32(x, NFTNL_EXPR_IMM_VERDICT));
    const bool chain = nftnl_expr_is_set(x, NFTNL_EXPR_IMM_CHAIN);
    if (verdict == NFT_JUMP && chain)
        return expr::Jump{nftnl_expr_get_str(x, NFTNL_EXPR_IMM_CHAIN)};
    if (chain)
        return std::nullopt;
    switch (verdict) {
        case NF_ACCEPT: return expr::Accept{};
        case NF_DROP: return expr::Drop{};
        case NFT_RETURN: return expr::Return{};
        default: return std::nullopt;
    }
}

// One rule expression as the model describes it, when it is written the way the encoder writes it
// (the kernel reports no set ids: those read back as 0); otherwise nullopt.
std::optional<Expression> rule_expression(const nftnl_expr* x, std::string_view name)
{
    if (name == "meta" && nftnl_expr_is_set(x, NFTNL_EXPR_META_KEY)) {
        const auto key = nftnl_expr_get_u32(x, NFTNL_EXPR_META_KEY);
        if (nftnl_expr_is_set(x, NFTNL_EXPR_META_DREG) && !nftnl_expr_is_set(x, NFTNL_EXPR_META_SREG))
            return expr::Meta{key, reg_of(x, NFTNL_EXPR_META_DREG)};
        if (nftnl_expr_is_set(x, NFTNL_EXPR_META_SREG) && !nftnl_expr_is_set(x, NFTNL_EXPR_META_DREG))
            return expr::MetaSet{key, reg_of(x, NFTNL_EXPR_META_SREG)};
    } else if (name == "payload" &&
               all_set(x,
                       {NFTNL_EXPR_PAYLOAD_BASE, NFTNL_EXPR_PAYLOAD_OFFSET, NFTNL_EXPR_PAYLOAD_LEN, NFTNL_EXPR_PAYLOAD_DREG}) &&
               none_set(x, {NFTNL_EXPR_PAYLOAD_SREG, NFTNL_EXPR_PAYLOAD_CSUM_TYPE})) {
        return expr::Payload{nftnl_expr_get_u32(x, NFTNL_EXPR_PAYLOAD_BASE), nftnl_expr_get_u32(x, NFTNL_EXPR_PAYLOAD_OFFSET),
                             nftnl_expr_get_u32(x, NFTNL_EXPR_PAYLOAD_LEN), reg_of(x, NFTNL_EXPR_PAYLOAD_DREG)};
    } else if (name == "cmp" && all_set(x, {NFTNL_EXPR_CMP_SREG, NFTNL_EXPR_CMP_OP, NFTNL_EXPR_CMP_DATA})) {
        return expr::Cmp{nftnl_expr_get_u32(x, NFTNL_EXPR_CMP_OP), reg_of(x, NFTNL_EXPR_CMP_SREG),
                         data_of(x, NFTNL_EXPR_CMP_DATA)};
    } else if (name == "bitwise" &&
               all_set(x, {NFTNL_EXPR_BITWISE_SREG, NFTNL_EXPR_BITWISE_DREG, NFTNL_EXPR_BITWISE_MASK, NFTNL_EXPR_BITWISE_XOR}) &&
               !nftnl_expr_is_set(x, NFTNL_EXPR_BITWISE_DATA) &&
               (!nftnl_expr_is_set(x, NFTNL_EXPR_BITWISE_OP) ||
                nftnl_expr_get_u32(x, NFTNL_EXPR_BITWISE_OP) == NFT_BITWISE_BOOL)) {
        return expr::Bitwise{reg_of(x, NFTNL_EXPR_BITWISE_SREG), reg_of(x, NFTNL_EXPR_BITWISE_DREG),
                             data_of(x, NFTNL_EXPR_BITWISE_MASK), data_of(x, NFTNL_EXPR_BITWISE_XOR)};
    } else if (name == "ct" && all_set(x, {NFTNL_EXPR_CT_KEY, NFTNL_EXPR_CT_DREG}) && !nftnl_expr_is_set(x, NFTNL_EXPR_CT_SREG)) {
        expr::Ct ct{nftnl_expr_get_u32(x, NFTNL_EXPR_CT_KEY), reg_of(x, NFTNL_EXPR_CT_DREG)};
        if (nftnl_expr_is_set(x, NFTNL_EXPR_CT_DIR))
            ct.direction = nftnl_expr_get_u8(x, NFTNL_EXPR_CT_DIR);
        return ct;
    } else if (name == "fib" && all_set(x, {NFTNL_EXPR_FIB_FLAGS, NFTNL_EXPR_FIB_RESULT, NFTNL_EXPR_FIB_DREG})) {
        return expr::Fib{nftnl_expr_get_u32(x, NFTNL_EXPR_FIB_FLAGS), nftnl_expr_get_u32(x, NFTNL_EXPR_FIB_RESULT),
                         reg_of(x, NFTNL_EXPR_FIB_DREG)};
    } else if (name == "numgen" && all_set(x, {NFTNL_EXPR_NG_DREG, NFTNL_EXPR_NG_MODULUS, NFTNL_EXPR_NG_TYPE}) &&
               nftnl_expr_get_u32(x, NFTNL_EXPR_NG_TYPE) == NFT_NG_RANDOM && nftnl_expr_get_u32(x, NFTNL_EXPR_NG_OFFSET) == 0) {
        return expr::Numgen{nftnl_expr_get_u32(x, NFTNL_EXPR_NG_MODULUS), reg_of(x, NFTNL_EXPR_NG_DREG)};
    } else if (name == "lookup" && all_set(x, {NFTNL_EXPR_LOOKUP_SET, NFTNL_EXPR_LOOKUP_SREG}) &&
               (!nftnl_expr_is_set(x, NFTNL_EXPR_LOOKUP_FLAGS) ||
                (nftnl_expr_get_u32(x, NFTNL_EXPR_LOOKUP_FLAGS) & ~std::uint32_t{NFT_LOOKUP_F_INV}) == 0)) {
        std::optional<Reg> dreg;
        if (nftnl_expr_is_set(x, NFTNL_EXPR_LOOKUP_DREG))
            dreg = reg_of(x, NFTNL_EXPR_LOOKUP_DREG);
        const bool invert =
            nftnl_expr_is_set(x, NFTNL_EXPR_LOOKUP_FLAGS) && nftnl_expr_get_u32(x, NFTNL_EXPR_LOOKUP_FLAGS) == NFT_LOOKUP_F_INV;
        return expr::Lookup{nftnl_expr_get_str(x, NFTNL_EXPR_LOOKUP_SET), 0, reg_of(x, NFTNL_EXPR_LOOKUP_SREG), dreg, invert};
    } else if (name == "nat" &&
               all_set(x,
                       {NFTNL_EXPR_NAT_TYPE, NFTNL_EXPR_NAT_FAMILY, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFTNL_EXPR_NAT_REG_PROTO_MIN}) &&
               nftnl_expr_get_u32(x, NFTNL_EXPR_NAT_TYPE) == NFT_NAT_DNAT &&
               (nftnl_expr_get_u32(x, NFTNL_EXPR_NAT_FLAGS) & ~implied_nat_flags) == 0) {
        const auto family = nftnl_expr_get_u32(x, NFTNL_EXPR_NAT_FAMILY);
        const auto addr = nftnl_expr_get_u32(x, NFTNL_EXPR_NAT_REG_ADDR_MIN);
        const auto port = nftnl_expr_get_u32(x, NFTNL_EXPR_NAT_REG_PROTO_MIN);
        const auto same = [&](std::uint16_t max, std::uint32_t min) {
            return !nftnl_expr_is_set(x, max) || nftnl_expr_get_u32(x, max) == min;
        };
        if ((family == NFPROTO_IPV4 || family == NFPROTO_IPV6) && same(NFTNL_EXPR_NAT_REG_ADDR_MAX, addr) &&
            same(NFTNL_EXPR_NAT_REG_PROTO_MAX, port))
            return expr::Dnat{static_cast<Family>(family), static_cast<Reg>(addr), static_cast<Reg>(port)};
    } else if (name == "masq" && nftnl_expr_get_u32(x, NFTNL_EXPR_MASQ_FLAGS) == 0 &&
               none_set(x, {NFTNL_EXPR_MASQ_REG_PROTO_MIN, NFTNL_EXPR_MASQ_REG_PROTO_MAX})) {
        return expr::Masquerade{};
    } else if (name == "dynset" && all_set(x, {NFTNL_EXPR_DYNSET_SET_NAME, NFTNL_EXPR_DYNSET_SREG_KEY, NFTNL_EXPR_DYNSET_OP}) &&
               nftnl_expr_get_u32(x, NFTNL_EXPR_DYNSET_OP) == NFT_DYNSET_OP_UPDATE &&
               nftnl_expr_get_u64(x, NFTNL_EXPR_DYNSET_TIMEOUT) == 0 && nftnl_expr_get_u32(x, NFTNL_EXPR_DYNSET_FLAGS) == 0 &&
               none_set(x, {NFTNL_EXPR_DYNSET_SREG_DATA, NFTNL_EXPR_DYNSET_EXPR, NFTNL_EXPR_DYNSET_EXPRESSIONS})) {
        return expr::Dynset{nftnl_expr_get_str(x, NFTNL_EXPR_DYNSET_SET_NAME), 0, reg_of(x, NFTNL_EXPR_DYNSET_SREG_KEY)};
    } else if (name == "immediate") {
        return verdict_of(x);
    }
    return std::nullopt;
}

}  // namespace

std::optional<Rule> decode_rule(const nlmsghdr* nlh, const std::string& table)
{
    const auto r = parsed_rule(nlh, table);
    if (!r)
        return std::nullopt;
    Rule rule{nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN), {}, rule_comment(r.get())};
    nftnl_expr_foreach(
        r.get(),
        [](nftnl_expr* x, void* out) -> int {
            const char* name = nftnl_expr_get_str(x, NFTNL_EXPR_NAME);
            auto expression = rule_expression(x, name);
            static_cast<Rule*>(out)->expressions.push_back(expression ? std::move(*expression) : expr::Foreign{name});
            return 0;
        },
        &rule);
    return rule;
}

std::optional<std::pair<std::string, SetShape>> decode_set(const nlmsghdr* nlh, const std::string& table)
{
    if (!is_message(nlh, NFT_MSG_NEWSET) || !safe_for_libnftnl(nlh, NftnlParser::set))
        return std::nullopt;
    auto s = checked<SetPtr>(nftnl_set_alloc());
    if (nftnl_set_nlmsg_parse(nlh, s.get()) != 0 || !nftnl_set_is_set(s.get(), NFTNL_SET_TABLE) ||
        !nftnl_set_is_set(s.get(), NFTNL_SET_NAME) || table != nftnl_set_get_str(s.get(), NFTNL_SET_TABLE))
        return std::nullopt;
    return std::pair{std::string(nftnl_set_get_str(s.get(), NFTNL_SET_NAME)), shape_of(s.get())};
}

void decode_elements(const nlmsghdr* nlh, const std::string& set, std::vector<Element>& out)
{
    if (!is_message(nlh, NFT_MSG_NEWSETELEM) || !safe_for_libnftnl(nlh, NftnlParser::elements))
        return;
    auto parsed = checked<SetPtr>(nftnl_set_alloc());
    if (nftnl_set_elems_nlmsg_parse(nlh, parsed.get()) != 0)
        return;
    const auto iter = checked<SetElemsIterPtr>(nftnl_set_elems_iter_create(parsed.get()));
    for (auto* e = nftnl_set_elems_iter_next(iter.get()); e; e = nftnl_set_elems_iter_next(iter.get()))
        out.push_back(decode_element(e, set));
}

std::optional<std::uint32_t> decode_generation(const nlmsghdr* nlh)
{
    if (!is_message(nlh, NFT_MSG_NEWGEN))
        return std::nullopt;
    auto gen = checked<GenPtr>(nftnl_gen_alloc());
    if (nftnl_gen_nlmsg_parse(nlh, gen.get()) != 0)
        return std::nullopt;
    return nftnl_gen_get_u32(gen.get(), NFTNL_GEN_ID);
}

}  // namespace warren::nft::netlink
