// SPDX-License-Identifier: Apache-2.0
#include "netlink/decode.hpp"

#include "netlink/nftnl_ptr.hpp"
#include "netlink/socket.hpp"

#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <libmnl/libmnl.h>

#include <cstring>

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

bool safe_for_libnftnl(const nlmsghdr* nlh)
{
    const auto* payload = static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(nlh));
    const auto length = mnl_nlmsg_get_payload_len(nlh);
    if (length < sizeof(nfgenmsg))
        return true;  // libnftnl refuses it whole
    bool safe = true;
    for_each_attribute(payload + sizeof(nfgenmsg), length - sizeof(nfgenmsg), [&](const nlattr* attr) {
        const auto type = mnl_attr_get_type(attr);
        const auto message = NFNL_MSG_TYPE(nlh->nlmsg_type);
        if ((message == NFT_MSG_NEWRULE && type == NFTA_RULE_EXPRESSIONS) ||
            (message == NFT_MSG_NEWSET && type == NFTA_SET_EXPRESSIONS))
            safe = safe && named_expressions(attr);
        if (message == NFT_MSG_NEWSET && type == NFTA_SET_EXPR)
            safe = safe && has_name(attr);
        const bool elements = message == NFT_MSG_NEWSETELEM || message == NFT_MSG_DELSETELEM;
        // libnftnl copies these names with strdup(): each must end within its attribute.
        if (elements && (type == NFTA_SET_ELEM_LIST_TABLE || type == NFTA_SET_ELEM_LIST_SET))
            safe = safe && terminated(attr);
        if (!elements || type != NFTA_SET_ELEM_LIST_ELEMENTS)
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

Element decode_element(nftnl_set_elem* e, const std::string& set)
{
    Element element;
    element.set = set;
    element.key = bytes_of(e, NFTNL_SET_ELEM_KEY);
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
            if (std::strcmp(nftnl_expr_get_str(expr, NFTNL_EXPR_NAME), "counter") == 0) {
                out->packets = nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_PACKETS);
                out->bytes = nftnl_expr_get_u64(expr, NFTNL_EXPR_CTR_BYTES);
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

std::optional<std::pair<std::string, std::string>> decode_rule_comment(const nlmsghdr* nlh, const std::string& table)
{
    if (!is_message(nlh, NFT_MSG_NEWRULE) || !safe_for_libnftnl(nlh))
        return std::nullopt;
    auto r = checked<RulePtr>(nftnl_rule_alloc());
    // A name left out reads as nullptr.
    if (nftnl_rule_nlmsg_parse(nlh, r.get()) != 0 || !nftnl_rule_is_set(r.get(), NFTNL_RULE_TABLE) ||
        !nftnl_rule_is_set(r.get(), NFTNL_RULE_CHAIN) || table != nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE))
        return std::nullopt;
    std::string comment;
    if (nftnl_rule_is_set(r.get(), NFTNL_RULE_USERDATA)) {
        std::uint32_t length = 0;
        const void* udata = nftnl_rule_get_data(r.get(), NFTNL_RULE_USERDATA, &length);
        comment = comment_of(udata, length, NFTNL_UDATA_RULE_COMMENT);
    }
    return std::pair{std::string(nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)), std::move(comment)};
}

std::optional<std::pair<std::string, SetShape>> decode_set(const nlmsghdr* nlh, const std::string& table)
{
    if (!is_message(nlh, NFT_MSG_NEWSET) || !safe_for_libnftnl(nlh))
        return std::nullopt;
    auto s = checked<SetPtr>(nftnl_set_alloc());
    if (nftnl_set_nlmsg_parse(nlh, s.get()) != 0 || !nftnl_set_is_set(s.get(), NFTNL_SET_TABLE) ||
        !nftnl_set_is_set(s.get(), NFTNL_SET_NAME) || table != nftnl_set_get_str(s.get(), NFTNL_SET_TABLE))
        return std::nullopt;
    return std::pair{std::string(nftnl_set_get_str(s.get(), NFTNL_SET_NAME)), shape_of(s.get())};
}

void decode_elements(const nlmsghdr* nlh, const std::string& set, std::vector<Element>& out)
{
    if (!is_message(nlh, NFT_MSG_NEWSETELEM) || !safe_for_libnftnl(nlh))
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
