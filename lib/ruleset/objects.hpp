// SPDX-License-Identifier: Apache-2.0
// Typed nftables objects: plain values that describe a table's contents without touching the kernel.
#pragma once

#include "ruleset/set_typeof.hpp"

#include <linux/netfilter/nf_tables.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace warren::nft::ruleset {

using Bytes = std::vector<std::uint8_t>;

enum class Family : std::uint8_t { ip = 2 /* NFPROTO_IPV4 */, ip6 = 10 /* NFPROTO_IPV6 */ };

struct Table {
    Family family = Family::ip;
    std::string name;
    // NFT_TABLE_F_*: with a value, the flags a NEWTABLE gives the table, whether it creates it or
    // finds it (0 wakes a dormant table, whose base chains are not hooked into the network stack);
    // without, a NEWTABLE leaves the flags of a table that exists as they are.
    std::optional<std::uint32_t> flags = std::nullopt;
    friend bool operator==(const Table&, const Table&) = default;
};

// "ip warren", "ip6 warren": how nft and our error messages name a table.
inline std::string display_name(const Table& table)
{
    return std::string(table.family == Family::ip ? "ip " : "ip6 ") + table.name;
}

struct BaseHook {
    std::string type;       // "nat" or "filter"
    std::uint32_t hooknum;  // NF_INET_*
    std::int32_t priority;
    bool policy_accept = true;
    friend bool operator==(const BaseHook&, const BaseHook&) = default;
};

struct Chain {
    std::string name;
    std::optional<BaseHook> hook;
    friend bool operator==(const Chain&, const Chain&) = default;
};

// One field of a (possibly concatenated) set key or map value: nft's datatype id and its byte length.
// Each field occupies a whole number of 4-byte registers in the key.
struct Field {
    std::uint32_t datatype;
    std::uint32_t length;
    friend bool operator==(const Field&, const Field&) = default;
};

// nft's encoding of a concatenated type: datatype ids, 6 bits each. The kernel ignores it; `nft list`
// uses it to print keys and values.
inline std::uint32_t concat_type(const std::vector<Field>& fields)
{
    std::uint32_t type = 0;
    for (const auto& field : fields)
        type = (type << 6) | field.datatype;
    return type;
}

// Bytes a concatenated key or value occupies: each field is padded to whole 4-byte registers.
inline std::uint32_t concat_length(const std::vector<Field>& fields)
{
    std::uint32_t length = 0;
    for (const auto& field : fields)
        length += (field.length + 3) / 4 * 4;
    return length;
}

// What a set looks like from the outside, as a dump reports it: enough to tell whether an existing
// set is the one we would create, and whether it behaves like it (its elements stay, and it takes
// as many as we write).
struct SetShape {
    std::uint32_t key_type = 0;
    std::uint32_t key_length = 0;
    std::uint32_t data_type = 0;
    std::uint32_t data_length = 0;
    bool counter = false;
    std::uint32_t flags = 0;    // NFT_SET_* except NFT_SET_MAP, which a value (data_length) tells
    std::uint64_t timeout = 0;  // ms after which a new element expires; 0: never
    std::uint32_t size = 0;     // NFTA_SET_DESC_SIZE: most elements the kernel takes; 0: no limit
    // nft's typeof description from the set's user data; none when it has none or one this model
    // does not describe. nft cannot list a set whose key has a field of nft's `integer` type without it.
    std::optional<SetTypeof> nft_typeof = std::nullopt;
    bool is_map() const { return data_length != 0; }
    friend bool operator==(const SetShape&, const SetShape&) = default;
};

struct Set {
    std::string name;
    std::vector<Field> key;
    std::vector<Field> data;  // empty for a set, non-empty for a map
    bool counter = false;     // every element carries a packet/byte counter
    std::uint32_t id = 0;     // NFTA_SET_ID: lets rules in the same batch refer to a new set
    // As in SetShape. NFT_SET_INTERVAL with a key of several fields is a set of concatenated ranges
    // (the encoder then describes each field's length, as the kernel needs for it). A rule's Dynset
    // updates a hash set with or without NFT_SET_EVAL (nft's `flags dynamic`), but the kernel
    // garbage-collects, within seconds, an element of an NFT_SET_EVAL set whose ct count sees no
    // open connection: elements with ConnLimit belong in a set without it. Such a set must have no
    // size (with one, the kernel picks a hash that refuses element expressions and updates,
    // EOPNOTSUPP); the kernel gives a set without a size the size 65535 when a Dynset first refers
    // to it and reports that size from then on. nft 1.0.6 lists such a set's elements but refuses
    // them in a script ("missing statement in set declaration") unless the set is NFT_SET_EVAL.
    std::uint32_t flags = 0;
    std::uint64_t timeout = 0;
    std::uint32_t size = 0;
    // Written as the set's user data, as nft writes it for a set declared with `typeof`: one
    // expression for each key field (and value field). Without it the set has no user data.
    std::optional<SetTypeof> nft_typeof = std::nullopt;
    bool is_map() const { return !data.empty(); }
    // `flags` as the kernel holds them: ranges of a key of several fields are a concatenation
    // (NFT_SET_CONCAT), which the encoder adds to what it sends and the kernel reports back.
    std::uint32_t kernel_flags() const { return flags | ((flags & NFT_SET_INTERVAL) && key.size() > 1 ? NFT_SET_CONCAT : 0); }
    SetShape shape() const
    {
        return {concat_type(key), concat_length(key), concat_type(data), concat_length(data),
                counter,          kernel_flags(),     timeout,           size,
                nft_typeof};
    }
    friend bool operator==(const Set&, const Set&) = default;
};

// Stateful expressions an element may carry (nft: `elements = { tcp . 8080 ct count 10 limit rate
// 5/second burst 5 packets }`). A rule's Dynset on the set runs them, in order, for every packet
// it sees: one that does not match (over its count, out of tokens) stops the rule there.
namespace expr {
// ct count COUNT: matches while the connections it has seen that are still open are at most `count`
// (it adds the packet's connection first); with `invert`, `ct count over COUNT`.
struct ConnLimit {
    std::uint32_t count;
    bool invert = false;
    friend bool operator==(const ConnLimit&, const ConnLimit&) = default;
};
// limit rate RATE/UNIT burst BURST packets: matches while it has tokens (`rate` per `unit_seconds`,
// at most `burst` at once); with `invert`, `limit rate over`.
struct Limit {
    std::uint64_t rate;
    std::uint64_t unit_seconds;
    std::uint32_t burst;
    bool invert = false;
    friend bool operator==(const Limit&, const Limit&) = default;
};
// An expression as the kernel reported it (an element's, or a rule's) that none of the model's
// describes (another kind, or one of them with attributes never written here), by its name: it never
// equals one of ours, so what carries it reads back as other than what was written. Never written.
struct Foreign {
    std::string name;
    friend bool operator==(const Foreign&, const Foreign&) = default;
};
}  // namespace expr
using ElementExpression = std::variant<expr::ConnLimit, expr::Limit, expr::Foreign>;

struct Element {
    std::string set;
    Bytes key;
    Bytes data;           // map value; empty for set elements
    std::string comment;  // shown by `nft list`; we store the owner here
    // Filled by dumps of sets with counters.
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
    // In a set of ranges (NFT_SET_INTERVAL): the range's last key, inclusive (NFTA_SET_ELEM_KEY_END);
    // empty otherwise.
    Bytes key_end = {};
    std::vector<ElementExpression> expressions = {};
    friend bool operator==(const Element&, const Element&) = default;
};

// Registers as the kernel numbers them: NFT_REG_VERDICT, the 16-byte NFT_REG_1.., and the 4-byte
// NFT_REG32_00.. (8 + n), which overlay them: NFT_REG_1 is NFT_REG32_00 to _03.
enum class Reg : std::uint32_t { verdict = 0, r1 = 1, r32_00 = 8, r32_01 = 9, r32_02 = 10 };
// The n-th 4-byte register (n < 16): a key or value of several fields fills consecutive ones.
constexpr Reg reg32(std::uint32_t n) noexcept { return static_cast<Reg>(8 + n); }

namespace expr {
struct Meta {
    std::uint32_t key;
    Reg dreg;
    friend bool operator==(const Meta&, const Meta&) = default;
};
// Sets a meta key (the packet mark) from a register.
struct MetaSet {
    std::uint32_t key;
    Reg sreg;
    friend bool operator==(const MetaSet&, const MetaSet&) = default;
};
struct Payload {
    std::uint32_t base;  // NFT_PAYLOAD_*_HEADER
    std::uint32_t offset;
    std::uint32_t length;
    Reg dreg;
    friend bool operator==(const Payload&, const Payload&) = default;
};
struct Cmp {
    std::uint32_t op;
    Reg sreg;
    Bytes data;
    friend bool operator==(const Cmp&, const Cmp&) = default;
};
struct Bitwise {
    Reg sreg;
    Reg dreg;
    Bytes mask;
    Bytes xor_;
    friend bool operator==(const Bitwise&, const Bitwise&) = default;
};
struct Ct {
    std::uint32_t key;  // NFT_CT_*
    Reg dreg;
    // IP_CT_DIR_ORIGINAL or _REPLY for keys of one direction's tuple (addresses, ports); none for the rest.
    std::optional<std::uint8_t> direction{};
    friend bool operator==(const Ct&, const Ct&) = default;
};
struct Fib {
    std::uint32_t flags;   // NFTA_FIB_F_*
    std::uint32_t result;  // NFT_FIB_RESULT_*
    Reg dreg;
    friend bool operator==(const Fib&, const Fib&) = default;
};
// numgen random mod <modulus>: a number below the modulus, drawn anew for each packet.
struct Numgen {
    std::uint32_t modulus;
    Reg dreg;
    friend bool operator==(const Numgen&, const Numgen&) = default;
};
struct Lookup {
    std::string set;
    std::uint32_t set_id;
    Reg sreg;
    std::optional<Reg> dreg;
    // Matches a key the set lacks (NFT_LOOKUP_F_INV; no dreg). Unlike a plain lookup that finds its
    // key, it never runs the element's expressions.
    bool invert = false;
    friend bool operator==(const Lookup&, const Lookup&) = default;
};
struct Dnat {
    Family family;
    Reg addr;
    Reg port;
    friend bool operator==(const Dnat&, const Dnat&) = default;
};
struct Masquerade {
    friend bool operator==(const Masquerade&, const Masquerade&) = default;
};
// update @set { key }: finds the key's element (adding it if missing, as the kernel's dynset does,
// without expressions and while the set is below its size) and runs its expressions; the rule goes
// on only if every one matched.
struct Dynset {
    std::string set;
    std::uint32_t set_id;
    Reg key;
    friend bool operator==(const Dynset&, const Dynset&) = default;
};
struct Jump {
    std::string chain;
    friend bool operator==(const Jump&, const Jump&) = default;
};
struct Return {
    friend bool operator==(const Return&, const Return&) = default;
};
struct Accept {
    friend bool operator==(const Accept&, const Accept&) = default;
};
struct Drop {
    friend bool operator==(const Drop&, const Drop&) = default;
};
}  // namespace expr

// expr::Foreign stands, in a rule read back, for an expression none of the others describes.
using Expression = std::variant<expr::Meta, expr::MetaSet, expr::Payload, expr::Cmp, expr::Bitwise, expr::Ct, expr::Fib,
                                expr::Numgen, expr::Lookup, expr::Dnat, expr::Masquerade, expr::Dynset, expr::Jump, expr::Return,
                                expr::Accept, expr::Drop, expr::Foreign>;

struct Rule {
    std::string chain;
    std::vector<Expression> expressions;
    std::string comment;
    friend bool operator==(const Rule&, const Rule&) = default;
};

}  // namespace warren::nft::ruleset
