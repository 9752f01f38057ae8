// SPDX-License-Identifier: Apache-2.0
#include "netlink/set_userdata.hpp"

#include "netlink/nftnl_ptr.hpp"

#include <warren/nft/error.hpp>

#include <libnftnl/udata.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <stdexcept>
#include <type_traits>

namespace warren::nft::netlink {

using namespace ruleset;

namespace {

// nft's own numbering in the typeof description (nft 1.0.6: enum expr_types, enum byteorder and
// the user data types of each expression), which libnftnl does not publish.
namespace nft_id {
constexpr std::uint32_t expr_payload = 7, expr_meta = 9, expr_concat = 13, expr_numgen = 23;
constexpr std::uint32_t byteorder_concat = 0, byteorder_host = 1, byteorder_big_endian = 2;
// In a concatenation each field is a nest numbered by its position, holding the field's expression
// type and, nested, its description, like the description of the whole key.
constexpr std::uint8_t concat_sub_type = 0, concat_sub_data = 1;
constexpr std::uint8_t meta_key = 0;
constexpr std::uint8_t payload_protocol = 0, payload_field = 1;
constexpr std::uint8_t numgen_type = 0, numgen_modulus = 1, numgen_offset = 2;
}  // namespace nft_id

// ---- writing ----

void put_u32(nftnl_udata_buf* buf, std::uint8_t type, std::uint32_t value)
{
    if (!nftnl_udata_put_u32(buf, type, value))
        throw std::length_error("set typeof too long for nftables userdata");
}

nftnl_udata* nest_start(nftnl_udata_buf* buf, std::uint8_t type)
{
    auto* nest = nftnl_udata_nest_start(buf, type);
    if (!nest)
        throw std::length_error("set typeof too long for nftables userdata");
    return nest;
}

std::uint32_t expression_type(const TypeofExpression& expression)
{
    return std::visit(
        [](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, typeof_expr::Meta>)
                return nft_id::expr_meta;
            else if constexpr (std::is_same_v<T, typeof_expr::Payload>)
                return nft_id::expr_payload;
            else
                return nft_id::expr_numgen;
        },
        expression);
}

// The byte order nft gives the value of an expression, which it writes for a key or value of one field.
std::uint32_t byte_order(const TypeofExpression& expression)
{
    if (const auto* meta = std::get_if<typeof_expr::Meta>(&expression)) {
        if (meta->key != NFT_META_L4PROTO)
            throw Error(errc::invalid_argument,
                        "set typeof: the byte order of meta key " + std::to_string(meta->key) + " is not known");
        return nft_id::byteorder_host;
    }
    // Every header field the model names is in network byte order; numgen's number is the host's.
    return std::holds_alternative<typeof_expr::Payload>(expression) ? nft_id::byteorder_big_endian : nft_id::byteorder_host;
}

void put_description(nftnl_udata_buf* buf, const TypeofExpression& expression)
{
    std::visit(
        [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, typeof_expr::Meta>) {
                put_u32(buf, nft_id::meta_key, e.key);
            } else if constexpr (std::is_same_v<T, typeof_expr::Payload>) {
                put_u32(buf, nft_id::payload_protocol, e.protocol);
                put_u32(buf, nft_id::payload_field, e.field);
            } else {
                static_assert(std::is_same_v<T, typeof_expr::Numgen>);
                put_u32(buf, nft_id::numgen_type, NFT_NG_RANDOM);
                put_u32(buf, nft_id::numgen_modulus, e.modulus);
                put_u32(buf, nft_id::numgen_offset, 0);
            }
        },
        expression);
}

// KEY_TYPEOF or DATA_TYPEOF: the expression type and its description; several fields are a
// concatenation of them.
void put_typeof(nftnl_udata_buf* buf, std::uint8_t type, const std::vector<TypeofExpression>& expressions)
{
    auto* nest = nest_start(buf, type);
    const bool concat = expressions.size() > 1;
    put_u32(buf, NFTNL_UDATA_SET_TYPEOF_EXPR, concat ? nft_id::expr_concat : expression_type(expressions.front()));
    auto* data = nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA);
    if (concat) {
        for (std::size_t i = 0; i < expressions.size(); ++i) {
            auto* field = nest_start(buf, static_cast<std::uint8_t>(i));
            put_u32(buf, nft_id::concat_sub_type, expression_type(expressions[i]));
            auto* description = nest_start(buf, nft_id::concat_sub_data);
            put_description(buf, expressions[i]);
            nftnl_udata_nest_end(buf, description);
            nftnl_udata_nest_end(buf, field);
        }
    } else {
        put_description(buf, expressions.front());
    }
    nftnl_udata_nest_end(buf, data);
    nftnl_udata_nest_end(buf, nest);
}

std::uint32_t byte_order(const std::vector<TypeofExpression>& expressions)
{
    return expressions.size() > 1 ? nft_id::byteorder_concat : byte_order(expressions.front());
}

// ---- reading ----

using Span = std::span<const std::uint8_t>;

// The values of the TLVs in `bytes` by type, for types below N; nullopt when one overruns the
// bytes, is of another type or comes twice.
template <std::size_t N>
std::optional<std::array<std::optional<Span>, N>> tlvs_of(Span bytes)
{
    std::array<std::optional<Span>, N> found{};
    for (std::size_t at = 0; at < bytes.size();) {
        if (bytes.size() - at < 2)
            return std::nullopt;
        const std::uint8_t type = bytes[at], length = bytes[at + 1];
        if (bytes.size() - at - 2 < length || type >= N || found[type])
            return std::nullopt;
        found[type] = bytes.subspan(at + 2, length);
        at += 2u + length;
    }
    return found;
}

std::optional<std::uint32_t> u32_of(const std::optional<Span>& value)
{
    if (!value || value->size() != sizeof(std::uint32_t))
        return std::nullopt;
    std::uint32_t number = 0;
    std::memcpy(&number, value->data(), sizeof number);
    return number;
}

// One expression from its type and description.
std::optional<TypeofExpression> expression_of(std::uint32_t type, Span description)
{
    if (type == nft_id::expr_meta) {
        const auto tlvs = tlvs_of<1>(description);
        const auto key = tlvs ? u32_of((*tlvs)[nft_id::meta_key]) : std::nullopt;
        if (key)
            return typeof_expr::Meta{*key};
    } else if (type == nft_id::expr_payload) {
        const auto tlvs = tlvs_of<2>(description);
        if (!tlvs)
            return std::nullopt;
        const auto protocol = u32_of((*tlvs)[nft_id::payload_protocol]), field = u32_of((*tlvs)[nft_id::payload_field]);
        if (protocol && field)
            return typeof_expr::Payload{*protocol, *field};
    } else if (type == nft_id::expr_numgen) {
        const auto tlvs = tlvs_of<3>(description);
        if (!tlvs)
            return std::nullopt;
        const auto kind = u32_of((*tlvs)[nft_id::numgen_type]), modulus = u32_of((*tlvs)[nft_id::numgen_modulus]),
                   offset = u32_of((*tlvs)[nft_id::numgen_offset]);
        if (kind == NFT_NG_RANDOM && modulus && offset == 0)
            return typeof_expr::Numgen{*modulus};
    }
    return std::nullopt;
}

// The expressions of a KEY_TYPEOF or DATA_TYPEOF nest: one, or the fields of a concatenation (an
// empty one, nft's mark of a set declared with `type`, reads as none).
std::optional<std::vector<TypeofExpression>> expressions_of(Span nest)
{
    const auto tlvs = tlvs_of<2>(nest);
    if (!tlvs)
        return std::nullopt;
    const auto type = u32_of((*tlvs)[NFTNL_UDATA_SET_TYPEOF_EXPR]);
    const auto& data = (*tlvs)[NFTNL_UDATA_SET_TYPEOF_DATA];
    if (!type || !data)
        return std::nullopt;
    if (*type != nft_id::expr_concat) {
        auto expression = expression_of(*type, *data);
        if (!expression)
            return std::nullopt;
        return std::vector<TypeofExpression>{std::move(*expression)};
    }
    const auto fields = tlvs_of<NFT_REG32_COUNT>(*data);
    if (!fields)
        return std::nullopt;
    std::vector<TypeofExpression> expressions;
    for (const auto& field : *fields) {
        if (!field)
            break;
        const auto parts = tlvs_of<2>(*field);
        const auto field_type = parts ? u32_of((*parts)[nft_id::concat_sub_type]) : std::nullopt;
        if (!field_type || !(*parts)[nft_id::concat_sub_data])
            return std::nullopt;
        auto expression = expression_of(*field_type, *(*parts)[nft_id::concat_sub_data]);
        if (!expression)
            return std::nullopt;
        expressions.push_back(std::move(*expression));
    }
    // Fields numbered with a gap: not nft's.
    if (expressions.empty() || std::count_if(fields->begin(), fields->end(), [](const auto& f) { return f.has_value(); }) !=
                                   static_cast<std::ptrdiff_t>(expressions.size()))
        return std::nullopt;
    return expressions;
}

}  // namespace

Bytes set_userdata(const Set& set)
{
    if (!set.nft_typeof)
        return {};
    const auto& description = *set.nft_typeof;
    if (description.key.size() != set.key.size() || description.data.size() != set.data.size())
        throw Error(errc::invalid_argument, "set " + set.name + ": its typeof needs one expression for each key and value field");
    if (description.key.empty())
        throw Error(errc::invalid_argument, "set " + set.name + ": its typeof has no key");
    auto buf = checked<UdataBufPtr>(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
    put_u32(buf.get(), NFTNL_UDATA_SET_KEYBYTEORDER, byte_order(description.key));
    if (set.is_map())
        put_u32(buf.get(), NFTNL_UDATA_SET_DATABYTEORDER, byte_order(description.data));
    put_typeof(buf.get(), NFTNL_UDATA_SET_KEY_TYPEOF, description.key);
    if (set.is_map()) {
        put_typeof(buf.get(), NFTNL_UDATA_SET_DATA_TYPEOF, description.data);
        // Whether the value is a range: never, in a map the model describes.
        put_u32(buf.get(), NFTNL_UDATA_SET_DATA_INTERVAL, 0);
    }
    const auto* bytes = static_cast<const std::uint8_t*>(nftnl_udata_buf_data(buf.get()));
    return Bytes(bytes, bytes + nftnl_udata_buf_len(buf.get()));
}

std::optional<SetTypeof> typeof_of(const void* data, std::uint32_t length)
{
    // Userdata is [type][length][value]...; other types (byte orders, comment) are skipped. Walked
    // here because nftnl_udata_parse trusts each length and reads past the end of a cut one.
    const Span bytes(static_cast<const std::uint8_t*>(data), length);
    std::optional<Span> key, value;
    for (std::size_t at = 0; at < bytes.size();) {
        if (bytes.size() - at < 2 || bytes.size() - at - 2 < bytes[at + 1])
            return std::nullopt;
        const std::uint8_t type = bytes[at], tlv_length = bytes[at + 1];
        auto& slot = type == NFTNL_UDATA_SET_KEY_TYPEOF ? key : value;
        if (type == NFTNL_UDATA_SET_KEY_TYPEOF || type == NFTNL_UDATA_SET_DATA_TYPEOF) {
            if (slot)
                return std::nullopt;
            slot = bytes.subspan(at + 2, tlv_length);
        }
        at += 2u + tlv_length;
    }
    if (!key)
        return std::nullopt;
    auto key_expressions = expressions_of(*key);
    if (!key_expressions)
        return std::nullopt;
    SetTypeof description{std::move(*key_expressions)};
    if (value) {
        auto data_expressions = expressions_of(*value);
        if (!data_expressions)
            return std::nullopt;
        description.data = std::move(*data_expressions);
    }
    return description;
}

}  // namespace warren::nft::netlink
