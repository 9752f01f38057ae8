// SPDX-License-Identifier: Apache-2.0
#include "netlink/decode.hpp"

#include <libnftnl/expr.h>
#include <libnftnl/udata.h>

#include <cstring>

namespace warren::nft::netlink {

using ruleset::Bytes;
using ruleset::Element;

namespace {
Bytes bytes_of(nftnl_set_elem* element, std::uint16_t attribute)
{
    if (!nftnl_set_elem_is_set(element, attribute))
        return {};
    std::uint32_t length = 0;
    const auto* data = static_cast<const std::uint8_t*>(nftnl_set_elem_get(element, attribute, &length));
    return Bytes(data, data + length);
}
}  // namespace

std::string comment_of(const void* data, std::uint32_t length, std::uint8_t type)
{
    std::string comment;
    struct Want {
        std::uint8_t type;
        std::string* out;
    } want{type, &comment};
    nftnl_udata_parse(
        data, length,
        [](const nftnl_udata* attr, void* d) -> int {
            auto* w = static_cast<Want*>(d);
            if (nftnl_udata_type(attr) == w->type && nftnl_udata_len(attr) > 0) {
                const char* text = static_cast<const char*>(nftnl_udata_get(attr));
                w->out->assign(text, strnlen(text, nftnl_udata_len(attr)));
            }
            return 0;
        },
        &want);
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

}  // namespace warren::nft::netlink
