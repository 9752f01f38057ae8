// SPDX-License-Identifier: Apache-2.0
// nft's `typeof` description of a set: the expressions its key and value are made of, which nft
// keeps in the set's user data. The kernel ignores it; nft prints a set with it and needs it for a
// key field nft's types cannot name (numgen's `integer`). Plain values, as the rest of the model.
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

namespace warren::nft::ruleset {

namespace typeof_expr {
// meta KEY (NFT_META_*), e.g. meta l4proto.
struct Meta {
    std::uint32_t key;
    friend bool operator==(const Meta&, const Meta&) = default;
};
// A header field as nft names it (ip daddr, th dport): nft's id of the protocol description and the
// field's index in that description.
struct Payload {
    std::uint32_t protocol;
    std::uint32_t field;
    friend bool operator==(const Payload&, const Payload&) = default;
};
// numgen random mod MODULUS (offset 0).
struct Numgen {
    std::uint32_t modulus;
    friend bool operator==(const Numgen&, const Numgen&) = default;
};
}  // namespace typeof_expr
using TypeofExpression = std::variant<typeof_expr::Meta, typeof_expr::Payload, typeof_expr::Numgen>;

// The header fields nft 1.0.6 numbers so (its proto_desc ids and template indexes).
inline constexpr typeof_expr::Payload ip_daddr{12, 12};
inline constexpr typeof_expr::Payload ip6_daddr{13, 9};
inline constexpr typeof_expr::Payload th_dport{11, 2};

// `typeof KEY [: DATA]`, one expression for each field of the set's key (and of a map's value); a
// set has no data.
struct SetTypeof {
    std::vector<TypeofExpression> key;
    std::vector<TypeofExpression> data = {};
    friend bool operator==(const SetTypeof&, const SetTypeof&) = default;
};

}  // namespace warren::nft::ruleset
