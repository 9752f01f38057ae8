// SPDX-License-Identifier: Apache-2.0
#include "publisher/schema.hpp"

#include "publisher/element_codec.hpp"
#include "publisher/ingress_slots.hpp"

#include <netinet/in.h>  // before the linux/ headers, which then skip their own struct in_addr

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace warren::nft::layout {

using namespace ruleset;

namespace {

// nft's datatype ids (nftables include/datatype.h), so `nft list` prints keys as nft would.
constexpr Field ipv4_addr{7, 4};
constexpr Field ipv6_addr{8, 16};
constexpr Field inet_proto{12, 1};
constexpr Field inet_service{13, 2};
// What numgen yields: a 4-byte register. nft has no name of a fixed length for it, so a set keyed
// with it is declared with typeof.
constexpr Field integer{4, 4};

// Chain priorities nft calls raw, dstnat, srcnat and filter.
constexpr std::int32_t priority_raw = -300;
constexpr std::int32_t priority_dstnat = -100;
constexpr std::int32_t priority_srcnat = 100;
constexpr std::int32_t priority_filter = 0;

constexpr std::uint32_t ports_set_id = 1;
constexpr std::uint32_t backends_set_id = 2;
constexpr std::uint32_t bound_ports_set_id = 3;
constexpr std::uint32_t policed_set_id = 4;
constexpr std::uint32_t bound_policed_set_id = 5;
constexpr std::uint32_t allowed_set_id = 6;
constexpr std::uint32_t bound_allowed_set_id = 7;
constexpr std::uint32_t ingress_map_id = 8;
constexpr std::uint32_t ingress_backends_set_id = 9;

// The regular chains that check a new connection against its port's access policy.
constexpr const char* police_chain = "police";
constexpr const char* bound_police_chain = "bound_police";

// The loopback interface has this index in every network namespace (LOOPBACK_IFINDEX).
constexpr std::uint32_t loopback_ifindex = 1;

Address bytes_address(Family family, std::initializer_list<std::uint8_t> bytes)
{
    Address address{family, {}};
    std::copy(bytes.begin(), bytes.end(), address.bytes.begin());
    return address;
}

Layout make_layout(Family family)
{
    if (family == Family::ip)
        return Layout{family,
                      Table{family, table_name},
                      ipv4_addr,
                      offsetof(iphdr, daddr),
                      offsetof(iphdr, saddr),
                      NFT_CT_DST_IP,
                      ip_daddr,
                      bytes_address(family, {127, 0, 0, 0}),
                      bytes_address(family, {255, 0, 0, 0}),
                      true,
                      4};
    return Layout{family,
                  Table{family, table_name},
                  ipv6_addr,
                  offsetof(ip6_hdr, ip6_dst),
                  offsetof(ip6_hdr, ip6_src),
                  NFT_CT_DST_IP6,
                  ip6_daddr,
                  bytes_address(family, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                  bytes_address(family, {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}),
                  false,
                  8};
}

Bytes u32_host(std::uint32_t value)
{
    Bytes bytes(4);
    std::memcpy(bytes.data(), &value, 4);
    return bytes;
}

Bytes bytes_of(const Address& address) { return Bytes(address.view().begin(), address.view().end()); }

// The registers a key is built in, field by field from reg 8 on: [address .] protocol . port
// [. slot]. The first field is loaded into r1 (which starts at reg 8), as nft does.
struct KeyRegisters {
    Reg address;
    Reg protocol;
    Reg port;
    Reg slot;
};
KeyRegisters key_registers(const Layout& layout, bool bound)
{
    const std::uint32_t after = bound ? layout.address_registers() : 0;
    return {Reg::r1, bound ? reg32(after) : Reg::r1, reg32(after + 1), reg32(after + 2)};
}

// Appends what builds a ports key, or with `bound` a bound_ports key. `address` and `port` make
// the expression that loads that field into the register given.
template <typename Address, typename Port>
void append_key(std::vector<Expression>& out, const Layout& layout, bool bound, Address address, Port port)
{
    const auto regs = key_registers(layout, bound);
    if (bound)
        out.push_back(address(regs.address));
    out.push_back(expr::Meta{NFT_META_L4PROTO, regs.protocol});
    out.push_back(port(regs.port));
}

expr::Lookup port_lookup(bool bound, std::optional<Reg> dreg)
{
    return bound ? expr::Lookup{bound_ports_map, bound_ports_set_id, Reg::r1, dreg}
                 : expr::Lookup{ports_map, ports_set_id, Reg::r1, dreg};
}

Expression destination_port(Reg reg) { return expr::Payload{NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg}; }

std::vector<Expression> dnatted()  // ct status dnat
{
    return {expr::Ct{NFT_CT_STATUS, Reg::r1}, expr::Bitwise{Reg::r1, Reg::r1, u32_host(IPS_DST_NAT), u32_host(0)},
            expr::Cmp{NFT_CMP_NEQ, Reg::r1, u32_host(0)}};
}

// [ip|ip6] daddr & mask ==|!= loopback
std::vector<Expression> loopback_destination(const Layout& layout, std::uint32_t op)
{
    const auto length = static_cast<std::uint32_t>(layout.loopback.size());
    std::vector<Expression> out{expr::Payload{NFT_PAYLOAD_NETWORK_HEADER, layout.destination_offset, length, Reg::r1}};
    if (bytes_of(layout.loopback_mask) != Bytes(length, 0xff))
        out.push_back(expr::Bitwise{Reg::r1, Reg::r1, bytes_of(layout.loopback_mask), Bytes(length, 0)});
    out.push_back(expr::Cmp{op, Reg::r1, bytes_of(layout.loopback)});
    return out;
}

void append(std::vector<Expression>& out, std::vector<Expression> more)
{
    for (auto& expression : more)
        out.push_back(std::move(expression));
}

// [daddr .] meta l4proto . th dport: the key of the packet's destination in the ports map, or with
// `bound` in the bound_ports map, built in the registers from r1 on.
std::vector<Expression> port_key(const Layout& layout, bool bound)
{
    std::vector<Expression> match;
    append_key(
        match, layout, bound,
        [&](Reg reg) -> Expression {
            return expr::Payload{NFT_PAYLOAD_NETWORK_HEADER, layout.destination_offset, layout.address.length, reg};
        },
        destination_port);
    return match;
}

// fib daddr type local [daddr != loopback]: a packet to an address a port may be published on.
std::vector<Expression> local_destination(const Layout& layout, bool spare_loopback)
{
    std::vector<Expression> match{expr::Fib{NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE, Reg::r1},
                                  expr::Cmp{NFT_CMP_EQ, Reg::r1, u32_host(RTN_LOCAL)}};
    // The loopback addresses are local too, but a connection DNATed away from them keeps its
    // loopback source address: unless it may be routed (route_localnet, IPv4 only, for a port
    // published there) the host's own services on 127.0.0.1:<port> or [::1]:<port> would become
    // unreachable.
    if (spare_loopback)
        append(match, loopback_destination(layout, NFT_CMP_NEQ));
    return match;
}

// The same followed by the packet's port_key(): a packet to a published port, and its key.
std::vector<Expression> published_port_key(const Layout& layout, bool spare_loopback, bool bound)
{
    auto match = local_destination(layout, spare_loopback);
    append(match, port_key(layout, bound));
    return match;
}

// The maps the nat chains DNAT by, in the order of their rules: the first rule that finds the
// packet's key ends the chain.
enum class DnatMap { bound_ports, ingress, ports };

// <published port key> dnat to <key> map @bound_ports (@ports), or
// <published port key> dnat to <key> . numgen random mod <slots> map @ingress
Rule dnat_rule(const Layout& layout, const std::string& chain, bool spare_loopback, DnatMap map, std::uint32_t slots = 0)
{
    const bool bound = map == DnatMap::bound_ports;
    auto match = published_port_key(layout, spare_loopback, bound);
    // The value lands in r1: the address in its first registers, the port in the one after.
    if (map == DnatMap::ingress) {
        match.push_back(expr::Numgen{slots, key_registers(layout, bound).slot});
        match.push_back(expr::Lookup{ingress_map, ingress_map_id, Reg::r1, Reg::r1});
    } else
        match.push_back(port_lookup(bound, Reg::r1));
    match.push_back(expr::Dnat{layout.family, Reg::r1, reg32(layout.address_registers())});
    const bool wide = slots == ingress::wide_slot_count;
    std::string comment = bound                     ? "warren-nft: DNAT host ports published on one local"
                          : map == DnatMap::ingress ? (wide ? "warren-nft: DNAT wide ingress ports of local"
                                                            : "warren-nft: DNAT ingress ports of local")
                                                    : "warren-nft: DNAT published host ports of local";
    comment += spare_loopback ? " non-loopback" : "";
    comment += bound                     ? " address to containers"
               : map == DnatMap::ingress ? " addresses to the backend of a random slot"
                                         : " addresses to containers";
    return Rule{chain, std::move(match), std::move(comment)};
}

// fib daddr type local [daddr != loopback] jump police (bound_police): a new connection to a port
// that may be published is checked before its DNAT; the police chain sends those to ports without
// a policy back at once. A nat chain sees only a connection's first packet, so the policy costs
// nothing per packet after that. The jump looks nothing up: a lookup of the policed set that finds
// an element runs its expressions (schema.hpp), and one of a map without loading its value is not
// taken by every kernel (KernelFeatures::map_lookups).
Rule police_jump_rule(const Layout& layout, const std::string& chain, bool spare_loopback, bool bound)
{
    auto match = local_destination(layout, spare_loopback);
    match.push_back(expr::Jump{bound ? bound_police_chain : police_chain});
    return Rule{chain, std::move(match),
                bound ? "warren-nft: check new connections to ports published on one address against their access policy"
                      : "warren-nft: check new connections to published ports against their access policy"};
}

// Loads the packet's source address into `reg` and keeps its first `prefix` bits (`last`: sets the
// bits after them instead): the first or last address of the packet's source's CIDR of that length.
void append_source_bound(std::vector<Expression>& out, const Layout& layout, std::uint32_t prefix, bool last, Reg reg)
{
    const auto length = layout.address.length;
    out.push_back(expr::Payload{NFT_PAYLOAD_NETWORK_HEADER, layout.source_offset, length, reg});
    if (prefix == length * 8)
        return;
    const auto host = bytes_of(masked(any_address(layout.family), prefix, true));
    Bytes network(host.size());
    std::transform(host.begin(), host.end(), network.begin(), [](std::uint8_t byte) { return static_cast<std::uint8_t>(~byte); });
    // (reg & mask) ^ xor: & network mask for the first address, | host mask for the last.
    out.push_back(expr::Bitwise{reg, reg, network, last ? host : Bytes(length, 0)});
}

// One rule of the police chain: <key> . saddr & <mask> . saddr | ~<mask> @allowed update @policed
// { <key> } return. The key is the port's (port_key()), which the first rule of the chain found in
// policed; after it come the first and last address of the source's CIDR of `prefix` bits, which an
// allowed element of that length holds (a hash set finds one length per lookup, hence a rule per
// length).
// The port's key stays in place for the update, which runs the element's limits (ct count, limit
// rate): the connection goes on only if it is from an allowed source and within every limit.
Rule police_rule(const Layout& layout, bool bound, std::uint32_t prefix)
{
    auto match = port_key(layout, bound);
    const auto first_at = static_cast<std::uint32_t>(host_port_key_length(layout.family, bound) / 4);
    append_source_bound(match, layout, prefix, false, reg32(first_at));
    append_source_bound(match, layout, prefix, true, reg32(first_at + layout.address_registers()));
    match.push_back(bound ? expr::Lookup{bound_allowed_set, bound_allowed_set_id, Reg::r1, std::nullopt}
                          : expr::Lookup{allowed_set, allowed_set_id, Reg::r1, std::nullopt});
    match.push_back(bound ? expr::Dynset{bound_policed_set, bound_policed_set_id, Reg::r1}
                          : expr::Dynset{policed_set, policed_set_id, Reg::r1});
    match.push_back(expr::Return{});
    return Rule{bound ? bound_police_chain : police_chain, std::move(match),
                "warren-nft: let sources of an allowed /" + std::to_string(prefix) + " through, within the port's limits"};
}

// <key> != @policed (@bound_policed) return: a port without a policy is not checked. Inverted, the
// lookup leaves the policed element's limits alone; only the update of a police rule runs them.
Rule unpoliced_rule(const Layout& layout, bool bound)
{
    auto match = port_key(layout, bound);
    match.push_back(bound ? expr::Lookup{bound_policed_set, bound_policed_set_id, Reg::r1, std::nullopt, true}
                          : expr::Lookup{policed_set, policed_set_id, Reg::r1, std::nullopt, true});
    match.push_back(expr::Return{});
    return Rule{bound ? bound_police_chain : police_chain, std::move(match),
                "warren-nft: let connections to ports without an access policy through"};
}

// The police chain: ports without a policy out first, then a rule per prefix length allowed
// elements have, longest first, then drop. The drop loads the destination port too: a packet whose
// transport header is too short to have one (a protocol without ports, say) breaks off every rule
// of the chain, the first one included, and must go back to the nat chain, not be dropped. A
// policed port is never 0, so `th dport != 0` holds for every packet that gets that far otherwise.
FixedChain police_chain_of(const Layout& layout, bool bound)
{
    const std::string name = bound ? bound_police_chain : police_chain;
    FixedChain chain{Chain{name, std::nullopt}, {unpoliced_rule(layout, bound)}};
    for (const auto prefix : allowed_prefixes(layout))
        chain.rules.push_back(police_rule(layout, bound, prefix));
    chain.rules.push_back(Rule{name,
                               {destination_port(Reg::r1), expr::Cmp{NFT_CMP_NEQ, Reg::r1, Bytes(2, 0)}, expr::Drop{}},
                               "warren-nft: drop the rest"});
    return chain;
}

// What else a masquerade rule asks for, and the words its comment ends with.
struct Condition {
    std::vector<Expression> match;
    std::string words;
};

// fib saddr type local: a connection from the host itself (any of its addresses, loopback too).
Condition from_host()
{
    return {{expr::Fib{NFTA_FIB_F_SADDR, NFT_FIB_RESULT_ADDRTYPE, Reg::r1}, expr::Cmp{NFT_CMP_EQ, Reg::r1, u32_host(RTN_LOCAL)}},
            " from the host"};
}

// meta mark & hairpin_mark != 0: the forward chain found the connection to be a hairpin one.
Condition marked_hairpin()
{
    return {{expr::Meta{NFT_META_MARK, Reg::r1}, expr::Bitwise{Reg::r1, Reg::r1, u32_host(hairpin_mark), u32_host(0)},
             expr::Cmp{NFT_CMP_NEQ, Reg::r1, u32_host(0)}},
            " marked hairpin"};
}

// ct state new fib daddr . iif oif != 0: a connection's first packet (already DNATed), whose
// container is reached through the interface the packet came in by: the client is on the
// container's network, and the container's reply would go straight back to it, which expects it
// from the host's address. (The kernel takes an interface result only for the input interface.)
Condition new_hairpin()
{
    return {
        {expr::Ct{NFT_CT_STATE, Reg::r1}, expr::Bitwise{Reg::r1, Reg::r1, u32_host(NF_CT_STATE_BIT(IP_CT_NEW)), u32_host(0)},
         expr::Cmp{NFT_CMP_NEQ, Reg::r1, u32_host(0)}, expr::Fib{NFTA_FIB_F_DADDR | NFTA_FIB_F_IIF, NFT_FIB_RESULT_OIF, Reg::r1},
         expr::Cmp{NFT_CMP_NEQ, Reg::r1, u32_host(0)}},
        ""};
}

// meta mark set meta mark | hairpin_mark
std::vector<Expression> set_hairpin_mark()
{
    return {expr::Meta{NFT_META_MARK, Reg::r1}, expr::Bitwise{Reg::r1, Reg::r1, u32_host(~hairpin_mark), u32_host(hairpin_mark)},
            expr::MetaSet{NFT_META_MARK, Reg::r1}};
}

// meta l4proto P ct status dnat <condition> ct original daddr . meta l4proto . ct original proto-dst
// @ports|@bound_ports <statements>: matches the connections our DNAT rules sent on by the host port
// they came to, in both directions, with no element per destination: a publish writes only its
// ports. One rule per protocol: nft knows the type of `ct original proto-dst` in a concatenation
// only after a protocol match, and without one `nft -f` cannot read back what `nft list` prints.
Rule published_rule(const Layout& layout, const std::string& chain, Protocol protocol, bool bound, const Condition& condition,
                    std::vector<Expression> statements, std::string comment)
{
    std::vector<Expression> match{expr::Meta{NFT_META_L4PROTO, Reg::r1},
                                  expr::Cmp{NFT_CMP_EQ, Reg::r1, Bytes{ip_protocol(protocol)}}};
    append(match, dnatted());
    append(match, condition.match);
    append_key(
        match, layout, bound,
        [&](Reg reg) -> Expression {
            return expr::Ct{layout.ct_original_destination, reg, IP_CT_DIR_ORIGINAL};
        },
        [](Reg reg) -> Expression {
            return expr::Ct{NFT_CT_PROTO_DST, reg, IP_CT_DIR_ORIGINAL};
        });
    match.push_back(port_lookup(bound, std::nullopt));
    append(match, std::move(statements));
    return Rule{chain, std::move(match), std::move(comment)};
}

// ct status dnat <condition> {d,s}addr . meta l4proto . th {d,s}port @backends <statements>
// In a table that counts: the lookup that matches is what counts the destination's packets.
Rule backend_rule(const Layout& layout, const std::string& chain, bool reply_direction, const Condition& condition,
                  std::vector<Expression> statements, std::string comment)
{
    auto match = dnatted();
    append(match, condition.match);
    const auto regs = key_registers(layout, true);
    match.push_back(expr::Payload{NFT_PAYLOAD_NETWORK_HEADER, reply_direction ? layout.source_offset : layout.destination_offset,
                                  layout.address.length, regs.address});
    match.push_back(expr::Meta{NFT_META_L4PROTO, regs.protocol});
    match.push_back(expr::Payload{NFT_PAYLOAD_TRANSPORT_HEADER, reply_direction ? 0u : 2u, 2, regs.port});
    match.push_back(expr::Lookup{backends_set, backends_set_id, Reg::r1, std::nullopt});
    append(match, std::move(statements));
    return Rule{chain, std::move(match), std::move(comment)};
}

// The masquerade and forward rules: with `counting` one lookup of the destination in backends per
// rule, without it one per protocol and map. (Their comments differ too: that is how a view tells
// which variant a chain holds.)
void published_rules(const Layout& layout, const RuleOptions& options, std::vector<Rule>& postrouting, std::vector<Rule>& forward)
{
    const bool when_needed = options.masquerading == Masquerading::when_needed;
    std::vector<Condition> masquerade_when{Condition{}};
    if (when_needed)
        masquerade_when = {from_host(), marked_hairpin()};
    const auto mark = [&](auto&& rule_for) {
        if (when_needed)
            forward.push_back(rule_for(new_hairpin(), set_hairpin_mark(), "mark hairpin"));
    };
    if (options.counting) {
        for (const auto& condition : masquerade_when)
            postrouting.push_back(
                backend_rule(layout, "postrouting", false, condition, {expr::Masquerade{}},
                             "warren-nft: masquerade connections DNATed to published containers" + condition.words));
        mark([&](const Condition& condition, std::vector<Expression> statements, const std::string& what) {
            return backend_rule(layout, "forward", false, condition, std::move(statements),
                                "warren-nft: " + what + " connections to published containers");
        });
        forward.push_back(
            backend_rule(layout, "forward", false, {}, {expr::Accept{}}, "warren-nft: accept traffic to published containers"));
        forward.push_back(
            backend_rule(layout, "forward", true, {}, {expr::Accept{}}, "warren-nft: accept replies from published containers"));
        return;
    }
    for (const auto protocol : {Protocol::tcp, Protocol::udp, Protocol::sctp}) {
        const std::string name(nft::to_string(protocol));
        for (const bool bound : {true, false}) {
            const std::string ports = bound ? " host ports published on one address" : " published host ports";
            for (const auto& condition : masquerade_when)
                postrouting.push_back(
                    published_rule(layout, "postrouting", protocol, bound, condition, {expr::Masquerade{}},
                                   "warren-nft: masquerade " + name + " connections DNATed from" + ports + condition.words));
            mark([&](const Condition& condition, std::vector<Expression> statements, const std::string& what) {
                return published_rule(layout, "forward", protocol, bound, condition, std::move(statements),
                                      "warren-nft: " + what + " " + name + " connections DNATed from" + ports);
            });
            forward.push_back(published_rule(layout, "forward", protocol, bound, {}, {expr::Accept{}},
                                             "warren-nft: accept " + name + " connections DNATed from" + ports));
        }
    }
}

// iif != lo daddr 127.0.0.0/8 drop: route_localnet, which a port published on 127.0.0.1 needs on
// the interface towards its container, also lets the kernel accept packets to 127.0.0.0/8 arriving
// there from elsewhere (CVE-2020-8558). Without route_localnet such packets are dropped anyway.
Rule guard_rule(const Layout& layout)
{
    std::vector<Expression> match{expr::Meta{NFT_META_IIF, Reg::r1}, expr::Cmp{NFT_CMP_NEQ, Reg::r1, u32_host(loopback_ifindex)}};
    append(match, loopback_destination(layout, NFT_CMP_EQ));
    match.push_back(expr::Drop{});
    return Rule{"guard", std::move(match), "warren-nft: drop packets to loopback addresses that come from elsewhere"};
}

}  // namespace

std::uint8_t ip_protocol(Protocol protocol) noexcept
{
    switch (protocol) {
        case Protocol::tcp: return IPPROTO_TCP;
        case Protocol::udp: return IPPROTO_UDP;
        case Protocol::sctp: return IPPROTO_SCTP;
    }
    return 0;
}

const Layout& layout_of(Family family)
{
    static const Layout ipv4 = make_layout(Family::ip);
    static const Layout ipv6 = make_layout(Family::ip6);
    return family == Family::ip ? ipv4 : ipv6;
}

Set ports_declaration(const Layout& layout)
{
    return Set{ports_map, {inet_proto, inet_service}, {layout.address, inet_service}, false, ports_set_id};
}

Set bound_ports_declaration(const Layout& layout)
{
    return Set{
        bound_ports_map, {layout.address, inet_proto, inet_service}, {layout.address, inet_service}, false, bound_ports_set_id};
}

Set backends_declaration(const Layout& layout, bool counters)
{
    return Set{backends_set, {layout.address, inet_proto, inet_service}, {}, counters, backends_set_id};
}

Set ingress_declaration(const Layout& layout)
{
    Set map{ingress_map, {inet_proto, inet_service, integer}, {layout.address, inet_service}, false, ingress_map_id};
    map.nft_typeof = SetTypeof{{typeof_expr::Meta{NFT_META_L4PROTO}, th_dport, typeof_expr::Numgen{ingress::narrow_slot_count}},
                               {layout.destination_typeof, th_dport}};
    return map;
}

Set ingress_backends_declaration(const Layout& layout)
{
    return Set{
        ingress_backends_set, {inet_proto, inet_service, layout.address, inet_service}, {}, false, ingress_backends_set_id};
}

std::vector<Set> policy_declarations(const Layout& layout)
{
    // Plain sets: the kernel garbage-collects the elements of a dynamic one whose `ct count` has no
    // connection left, and refuses element expressions in a plain one with a size. It gives the
    // set the size 65,535 when the police rule that updates it is added (policed_set_size).
    return {Set{policed_set, {inet_proto, inet_service}, {}, false, policed_set_id},
            Set{bound_policed_set, {layout.address, inet_proto, inet_service}, {}, false, bound_policed_set_id},
            Set{allowed_set, {inet_proto, inet_service, layout.address, layout.address}, {}, false, allowed_set_id},
            Set{bound_allowed_set,
                {layout.address, inet_proto, inet_service, layout.address, layout.address},
                {},
                false,
                bound_allowed_set_id}};
}

std::vector<FixedChain> fixed_chains(const Layout& layout, const RuleOptions& options)
{
    std::vector<Rule> postrouting, forward;
    published_rules(layout, options, postrouting, forward);
    // Connections from the host to its own loopback address reach a port on every address only
    // when asked (and never over IPv6, which cannot route them out); ports bound to a loopback
    // address are there to be reached that way.
    const bool spare_loopback = !(layout.loopback_routable && options.wildcard_on_localhost);
    const auto dnat_rules = [&](const std::string& chain, bool spare) {
        std::vector<Rule> rules{police_jump_rule(layout, chain, false, true), police_jump_rule(layout, chain, spare, false),
                                dnat_rule(layout, chain, false, DnatMap::bound_ports)};
        for (const auto slots : ingress::slot_counts)
            rules.push_back(dnat_rule(layout, chain, spare, DnatMap::ingress, slots));
        rules.push_back(dnat_rule(layout, chain, spare, DnatMap::ports));
        return rules;
    };
    std::vector<FixedChain> chains{
        // Before the chains that jump to them, so that a transaction creates them first.
        police_chain_of(layout, false),
        police_chain_of(layout, true),
        // A port bound to one address is looked up first, then an ingress port's slots (a wide
        // port's, then a narrow one's), then the ports map: the DNAT of the first rule that finds
        // the packet's key ends the chain.
        // (Publishing never lets one port be in both ports maps; an ingress port's claim in ports
        // is never reached, its slots' DNAT coming first: docs/ingress.md.) Its access policy, if
        // it has one, is checked before.
        {Chain{"prerouting", BaseHook{"nat", NF_INET_PRE_ROUTING, priority_dstnat, true}}, dnat_rules("prerouting", false)},
        // Connections from the host itself to one of its addresses never pass prerouting.
        {Chain{"output", BaseHook{"nat", NF_INET_LOCAL_OUT, priority_dstnat, true}}, dnat_rules("output", spare_loopback)},
        {Chain{"postrouting", BaseHook{"nat", NF_INET_POST_ROUTING, priority_srcnat, true}}, std::move(postrouting)},
        {Chain{"forward", BaseHook{"filter", NF_INET_FORWARD, priority_filter, true}}, std::move(forward)},
    };
    if (layout.loopback_routable)
        chains.push_back({Chain{"guard", BaseHook{"filter", NF_INET_PRE_ROUTING, priority_raw, true}}, {guard_rule(layout)}});
    return chains;
}

std::vector<std::uint32_t> allowed_prefixes(const Layout& layout)
{
    std::vector<std::uint32_t> out;
    for (auto prefix = static_cast<std::int64_t>(layout.address.length * 8); prefix >= 0; prefix -= layout.source_prefix_step)
        out.push_back(static_cast<std::uint32_t>(prefix));
    return out;
}

const std::vector<std::string>& chain_names(Family family)
{
    static const auto names_of = [](Family f) {
        std::vector<std::string> out;
        for (const auto& fixed : fixed_chains(layout_of(f), {}))
            out.push_back(fixed.chain.name);
        return out;
    };
    static const std::vector<std::string> ipv4 = names_of(Family::ip), ipv6 = names_of(Family::ip6);
    return family == Family::ip ? ipv4 : ipv6;
}

const std::vector<std::string>& element_sets()
{
    // The ingress records too: in a table that counts, each is a use of its backend's destination.
    static const std::vector<std::string> names{ports_map,   bound_ports_map,   backends_set, ingress_backends_set,
                                                policed_set, bound_policed_set, allowed_set,  bound_allowed_set};
    return names;
}

}  // namespace warren::nft::layout
