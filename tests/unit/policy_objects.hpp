// SPDX-License-Identifier: Apache-2.0
// A table of the shape the access policies use, for the round trips of the unit tests (FakeBackend,
// encoder and decoder) and the kernel tests (KernelBackend): a dynamic set whose elements carry
// `ct count` and `limit`, a set of concatenated ranges, a regular chain that checks and updates them
// and a nat chain that jumps to it.
#pragma once

#include "ruleset/objects.hpp"
#include "ruleset/transaction.hpp"

#include <netinet/in.h>  // before the linux/ headers, which then skip their own struct in_addr

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <typeinfo>

#include <cstdint>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

// Printing for Catch: what differs when a read back is not what was written.
namespace warren::nft::ruleset {

inline std::ostream& operator<<(std::ostream& out, const Bytes& bytes)
{
    out << std::hex;
    for (const auto byte : bytes)
        out << (byte < 16 ? "0" : "") << static_cast<unsigned>(byte);
    return out << std::dec;
}

inline std::ostream& operator<<(std::ostream& out, Reg reg) { return out << "r" << static_cast<unsigned>(reg); }

template <typename Variant>
std::ostream& print_variant(std::ostream& out, const Variant& expression)
{
    std::visit(
        [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, expr::Meta>)
                out << "meta " << e.key << " > " << e.dreg;
            else if constexpr (std::is_same_v<T, expr::MetaSet>)
                out << "meta set " << e.key << " < " << e.sreg;
            else if constexpr (std::is_same_v<T, expr::Payload>)
                out << "payload " << e.base << "+" << e.offset << "/" << e.length << " > " << e.dreg;
            else if constexpr (std::is_same_v<T, expr::Cmp>)
                out << "cmp " << e.op << " " << e.sreg << " " << e.data;
            else if constexpr (std::is_same_v<T, expr::Bitwise>)
                out << "bitwise " << e.sreg << " > " << e.dreg << " & " << e.mask << " ^ " << e.xor_;
            else if constexpr (std::is_same_v<T, expr::Ct>)
                out << "ct " << e.key << " > " << e.dreg << " dir " << (e.direction ? int(*e.direction) : -1);
            else if constexpr (std::is_same_v<T, expr::Fib>)
                out << "fib " << e.flags << " " << e.result << " > " << e.dreg;
            else if constexpr (std::is_same_v<T, expr::Numgen>)
                out << "numgen random mod " << e.modulus << " > " << e.dreg;
            else if constexpr (std::is_same_v<T, expr::Lookup>)
                out << "lookup " << e.set << " id " << e.set_id << " < " << e.sreg << (e.dreg ? " > value" : "")
                    << (e.invert ? " inverted" : "");
            else if constexpr (std::is_same_v<T, expr::Dnat>)
                out << "dnat " << static_cast<int>(e.family) << " " << e.addr << " " << e.port;
            else if constexpr (std::is_same_v<T, expr::Dynset>)
                out << "update " << e.set << " id " << e.set_id << " < " << e.key;
            else if constexpr (std::is_same_v<T, expr::Jump>)
                out << "jump " << e.chain;
            else if constexpr (std::is_same_v<T, expr::ConnLimit>)
                out << "ct count " << (e.invert ? "over " : "") << e.count;
            else if constexpr (std::is_same_v<T, expr::Limit>)
                out << "limit " << (e.invert ? "over " : "") << e.rate << "/" << e.unit_seconds << "s burst " << e.burst;
            else if constexpr (std::is_same_v<T, expr::Foreign>)
                out << "foreign " << e.name;
            else
                out << typeid(T).name();
        },
        expression);
    return out;
}

inline std::ostream& operator<<(std::ostream& out, const Rule& rule)
{
    out << rule.chain << ": [";
    for (const auto& expression : rule.expressions)
        print_variant(out, expression) << "; ";
    return out << "] \"" << rule.comment << "\"";
}

inline std::ostream& operator<<(std::ostream& out, const Element& element)
{
    out << element.set << " " << element.key;
    if (!element.key_end.empty())
        out << "-" << element.key_end;
    if (!element.data.empty())
        out << " : " << element.data;
    for (const auto& expression : element.expressions)
        print_variant(out << " ", expression);
    return out << " \"" << element.comment << "\"";
}

}  // namespace warren::nft::ruleset

namespace warren::nft::test::policy {

using namespace ruleset;

constexpr Field inet_proto{12, 1};
constexpr Field inet_service{13, 2};
constexpr Field ipv4_addr{7, 4};
constexpr Field ipv6_addr{8, 16};
constexpr std::uint8_t l4_tcp = 6;
constexpr std::uint8_t l4_udp = 17;

inline Table table(Family family) { return Table{family, "policy_test"}; }

// The set whose elements carry the limits, as the policies need it. Not NFT_SET_EVAL: the kernel
// garbage-collects an element of such a set whose ct count sees no open connection (within seconds,
// 6.1 and 6.18 alike). No size: with one the kernel picks a hash that refuses element expressions and
// updates (EOPNOTSUPP); without, it gives the set the size 65535 when a rule's update binds it.
inline Set policed() { return Set{"policed", {inet_proto, inet_service}, {}, false, 11}; }
inline Set policed_as_bound()
{
    auto set = policed();
    set.size = 65535;
    return set;
}
// nft's `flags dynamic`, with a size of its own (else 65535 once bound): what nft 1.0.6 requires to
// take elements with expressions from a script, and whose ct count elements the kernel collects.
inline Set policed_dynamic() { return Set{"policed", {inet_proto, inet_service}, {}, false, 11, NFT_SET_EVAL, 0, 1u << 20}; }

inline Field address_field(Family family) { return family == Family::ip ? ipv4_addr : ipv6_addr; }

inline Set allowed(Family family)
{
    return Set{"allowed", {inet_proto, inet_service, address_field(family)}, {}, false, 12, NFT_SET_INTERVAL};
}

// protocol . port, each field padded to 4 bytes.
inline Bytes service_key(std::uint8_t protocol, std::uint16_t port)
{
    return {protocol, 0, 0, 0, static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port), 0, 0};
}

// protocol . port . address (4 or 16 bytes).
inline Bytes source_key(std::uint8_t protocol, std::uint16_t port, const Bytes& address)
{
    Bytes key(8 + address.size(), 0);
    key[0] = protocol;
    key[4] = static_cast<std::uint8_t>(port >> 8);
    key[5] = static_cast<std::uint8_t>(port);
    std::copy(address.begin(), address.end(), key.begin() + 8);
    return key;
}

// The first and last address of a CIDR.
inline std::pair<Bytes, Bytes> cidr(Bytes network, unsigned prefix)
{
    Bytes last = network;
    for (std::size_t bit = prefix; bit < network.size() * 8; ++bit)
        last[bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
    return {network, last};
}

inline Element policed_element(std::uint8_t protocol, std::uint16_t port, std::vector<ElementExpression> expressions,
                               std::string comment = "task=web")
{
    Element element{"policed", service_key(protocol, port), {}, std::move(comment)};
    element.expressions = std::move(expressions);
    return element;
}

inline Element allowed_element(std::uint8_t protocol, std::uint16_t port, const std::pair<Bytes, Bytes>& range)
{
    Element element{"allowed", source_key(protocol, port, range.first), {}, {}};
    element.key_end = source_key(protocol, port, range.second);
    return element;
}

inline Bytes v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) { return {a, b, c, d}; }
inline Bytes v6_prefix(std::initializer_list<std::uint8_t> leading)
{
    Bytes address(16, 0);
    std::copy(leading.begin(), leading.end(), address.begin());
    return address;
}

// meta l4proto . th dport [. ip saddr / ip6 saddr]: the registers nft uses for the key.
inline std::vector<Expression> load_service()
{
    return {expr::Meta{NFT_META_L4PROTO, Reg::r1}, expr::Payload{NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, Reg::r32_01}};
}

inline std::vector<Expression> load_source(Family family)
{
    auto load = load_service();
    if (family == Family::ip)
        load.push_back(expr::Payload{NFT_PAYLOAD_NETWORK_HEADER, 12, 4, Reg::r32_02});
    else
        load.push_back(expr::Payload{NFT_PAYLOAD_NETWORK_HEADER, 8, 16, Reg::r32_02});
    return load;
}

inline Chain police() { return Chain{"police", std::nullopt}; }
inline Chain prerouting() { return Chain{"prerouting", BaseHook{"nat", NF_INET_PRE_ROUTING, -100, true}}; }

// meta l4proto . th dport . ip saddr @allowed update @policed { meta l4proto . th dport } return
inline Rule police_rule(Family family)
{
    Rule rule{"police", load_source(family), "allowed and within limits"};
    rule.expressions.push_back(expr::Lookup{"allowed", 12, Reg::r1, std::nullopt});
    for (auto& load : load_service())
        rule.expressions.push_back(load);
    rule.expressions.push_back(expr::Dynset{"policed", 11, Reg::r1});
    rule.expressions.push_back(expr::Return{});
    return rule;
}

inline Rule drop_rule() { return Rule{"police", {expr::Drop{}}, "refused"}; }

// meta l4proto . th dport @policed jump police
inline Rule jump_rule()
{
    Rule rule{"prerouting", load_service(), "policed ports"};
    rule.expressions.push_back(expr::Lookup{"policed", 11, Reg::r1, std::nullopt});
    rule.expressions.push_back(expr::Jump{"police"});
    return rule;
}

// With ct count, or (for a dynamic set, which would lose those) limits only.
inline std::vector<Element> policed_elements(bool with_ct_count = true)
{
    if (!with_ct_count)
        return {policed_element(l4_tcp, 8080, {expr::Limit{5, 1, 5}}),
                policed_element(l4_udp, 53, {expr::Limit{100, 60, 10, true}}, "task=dns")};
    return {policed_element(l4_tcp, 8080, {expr::ConnLimit{2}, expr::Limit{5, 1, 5}}),
            policed_element(l4_udp, 53, {expr::Limit{100, 60, 10, true}}, "task=dns"),
            policed_element(l4_tcp, 443, {expr::ConnLimit{7, true}}, "")};
}

inline std::vector<Element> allowed_elements(Family family)
{
    if (family == Family::ip)
        return {allowed_element(l4_tcp, 8080, cidr(v4(10, 0, 0, 0), 8)),
                allowed_element(l4_tcp, 8080, cidr(v4(192, 168, 1, 7), 32)),
                allowed_element(l4_udp, 53, cidr(v4(0, 0, 0, 0), 0))};
    return {allowed_element(l4_tcp, 8080, cidr(v6_prefix({0x20, 0x01, 0x0d, 0xb8}), 32)),
            allowed_element(l4_udp, 53, cidr(v6_prefix({}), 0))};
}

// The whole table, created in one transaction: with the set `policed` as the policies need it, or
// with a dynamic one (and its elements without ct count).
inline Transaction create_all(Family family, bool dynamic = false)
{
    Transaction tx(table(family));
    tx.add(table(family)).add(dynamic ? policed_dynamic() : policed()).add(allowed(family)).add(police()).add(prerouting());
    for (const auto& element : policed_elements(!dynamic))
        tx.create(element);
    for (const auto& element : allowed_elements(family))
        tx.create(element);
    tx.add(police_rule(family)).add(drop_rule()).add(jump_rule());
    return tx;
}

}  // namespace warren::nft::test::policy
