// SPDX-License-Identifier: Apache-2.0
#include "publisher/layout.hpp"

#include <warren/nft/error.hpp>

#include <netinet/in.h>  // before the linux/ headers, which then skip their own struct in_addr

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace warren::nft::layout {

using namespace ruleset;

namespace {

// nft's datatype ids (nftables include/datatype.h), so `nft list` prints keys as nft would.
constexpr Field ipv4_addr{7, 4};
constexpr Field inet_proto{12, 1};
constexpr Field inet_service{13, 2};

// Chain priorities nft calls dstnat, srcnat and filter.
constexpr std::int32_t priority_dstnat = -100;
constexpr std::int32_t priority_srcnat = 100;
constexpr std::int32_t priority_filter = 0;

constexpr std::uint32_t ports_set_id = 1;
constexpr std::uint32_t backends_set_id = 2;
constexpr std::uint32_t bound_ports_set_id = 3;

Set ports_declaration() { return Set{ports_map, {inet_proto, inet_service}, {ipv4_addr, inet_service}, false, ports_set_id}; }
Set bound_ports_declaration()
{
    return Set{bound_ports_map, {ipv4_addr, inet_proto, inet_service}, {ipv4_addr, inet_service}, false, bound_ports_set_id};
}
Set backends_declaration(bool counters)
{
    return Set{backends_set, {ipv4_addr, inet_proto, inet_service}, {}, counters, backends_set_id};
}

struct FixedChain {
    Chain chain;
    std::vector<Rule> rules;
};

Bytes u32_host(std::uint32_t value)
{
    Bytes bytes(4);
    std::memcpy(bytes.data(), &value, 4);
    return bytes;
}

// Appends what builds a ports key, or with `bound` a bound_ports key, field by field in consecutive
// 4-byte registers from reg 8 (r1) on: [address .] protocol . port. `address` and `port` make the
// expression that loads that field into the register given.
template <typename Address, typename Port>
void append_key(std::vector<Expression>& out, bool bound, Address address, Port port)
{
    out.reserve(out.size() + 5);  // the key, its lookup and a verdict or DNAT
    if (bound)
        out.push_back(address(Reg::r1));
    out.push_back(expr::Meta{NFT_META_L4PROTO, bound ? Reg::r32_01 : Reg::r1});
    out.push_back(port(bound ? Reg::r32_02 : Reg::r32_01));
}

expr::Lookup port_lookup(bool bound, std::optional<Reg> dreg)
{
    return bound ? expr::Lookup{bound_ports_map, bound_ports_set_id, Reg::r1, dreg}
                 : expr::Lookup{ports_map, ports_set_id, Reg::r1, dreg};
}

// The packet's destination address and port, or the one its connection had before DNAT.
Expression destination_address(Reg reg) { return expr::Payload{NFT_PAYLOAD_NETWORK_HEADER, 16, 4, reg}; }
Expression destination_port(Reg reg) { return expr::Payload{NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg}; }
Expression original_address(Reg reg) { return expr::Ct{NFT_CT_DST_IP, reg, IP_CT_DIR_ORIGINAL}; }
Expression original_port(Reg reg) { return expr::Ct{NFT_CT_PROTO_DST, reg, IP_CT_DIR_ORIGINAL}; }

std::vector<Expression> dnatted()  // ct status dnat
{
    return {expr::Ct{NFT_CT_STATUS, Reg::r1}, expr::Bitwise{Reg::r1, Reg::r1, u32_host(IPS_DST_NAT), u32_host(0)},
            expr::Cmp{NFT_CMP_NEQ, Reg::r1, u32_host(0)}};
}

// fib daddr type local [ip daddr != 127.0.0.0/8] dnat ip to meta l4proto . th dport map @ports
// or, for ports bound to one address (`bound`), the same with
//   dnat ip to ip daddr . meta l4proto . th dport map @bound_ports
Rule dnat_rule(const std::string& chain, bool spare_loopback, bool bound)
{
    std::vector<Expression> match{expr::Fib{NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE, Reg::r1},
                                  expr::Cmp{NFT_CMP_EQ, Reg::r1, u32_host(RTN_LOCAL)}};
    if (spare_loopback) {
        // 127.0.0.0/8 is local too, but a connection DNATed away from it keeps its loopback source
        // address and is dropped on the way out: the host's own services on 127.0.0.1:<port> would
        // become unreachable. Publishing on localhost is not our call to make.
        match.push_back(destination_address(Reg::r1));
        match.push_back(expr::Bitwise{Reg::r1, Reg::r1, Bytes{255, 0, 0, 0}, Bytes{0, 0, 0, 0}});
        match.push_back(expr::Cmp{NFT_CMP_NEQ, Reg::r1, Bytes{127, 0, 0, 0}});
    }
    append_key(match, bound, destination_address, destination_port);
    // The 8-byte value lands in r1: address in its first 4 bytes (reg 8), port in reg 9.
    match.push_back(port_lookup(bound, Reg::r1));
    match.push_back(expr::Dnat{Family::ip, Reg::r1, Reg::r32_01});
    std::string comment = bound ? "warren-nft: DNAT host ports published on one local" : "warren-nft: DNAT published host ports of local";
    comment += spare_loopback ? " non-loopback" : "";
    comment += bound ? " address to containers" : " addresses to containers";
    return Rule{chain, std::move(match), std::move(comment)};
}

// meta l4proto P ct status dnat [ct original ip daddr .] meta l4proto . ct original proto-dst @ports|@bound_ports <verdict>
// Matches the connections our DNAT rules sent on by the host port they came to, in both directions,
// with no element per destination: a publish writes only its ports. One rule per protocol: nft
// knows the type of `ct original proto-dst` in a concatenation only after a protocol match, and
// without one `nft -f` cannot read back what `nft list ruleset` prints.
Rule published_rule(const std::string& chain, Protocol protocol, bool bound, Expression verdict, std::string comment)
{
    std::vector<Expression> match{expr::Meta{NFT_META_L4PROTO, Reg::r1}, expr::Cmp{NFT_CMP_EQ, Reg::r1, Bytes{ip_protocol(protocol)}}};
    for (auto& expression : dnatted())
        match.push_back(std::move(expression));
    append_key(match, bound, original_address, original_port);
    match.push_back(port_lookup(bound, std::nullopt));
    match.push_back(std::move(verdict));
    return Rule{chain, std::move(match), std::move(comment)};
}

// ct status dnat ip {d,s}addr . meta l4proto . th {d,s}port @backends <verdict>
// In a table that counts: the lookup that matches is what counts the destination's packets.
Rule backend_rule(const std::string& chain, bool reply_direction, Expression verdict, std::string comment)
{
    auto match = dnatted();
    match.push_back(expr::Payload{NFT_PAYLOAD_NETWORK_HEADER, reply_direction ? 12u : 16u, 4, Reg::r1});
    match.push_back(expr::Meta{NFT_META_L4PROTO, Reg::r32_01});
    match.push_back(expr::Payload{NFT_PAYLOAD_TRANSPORT_HEADER, reply_direction ? 0u : 2u, 2, Reg::r32_02});
    match.push_back(expr::Lookup{backends_set, backends_set_id, Reg::r1, std::nullopt});
    match.push_back(std::move(verdict));
    return Rule{chain, std::move(match), std::move(comment)};
}

// The chains and their rules; masquerade and forward differ by whether the table counts. (Their
// comments differ too: that is how a view tells which of the two a chain holds.)
std::vector<FixedChain> fixed_chains(bool counting)
{
    std::vector<Rule> postrouting, forward;
    if (counting) {
        postrouting = {backend_rule("postrouting", false, expr::Masquerade{},
                                    "warren-nft: masquerade connections DNATed to published containers")};
        forward = {backend_rule("forward", false, expr::Accept{}, "warren-nft: accept traffic to published containers"),
                   backend_rule("forward", true, expr::Accept{}, "warren-nft: accept replies from published containers")};
    } else {
        for (const auto protocol : {Protocol::tcp, Protocol::udp, Protocol::sctp}) {
            const std::string name(nft::to_string(protocol));
            for (const bool bound : {true, false}) {
                const std::string ports = bound ? " host ports published on one address" : " published host ports";
                postrouting.push_back(published_rule("postrouting", protocol, bound, expr::Masquerade{},
                                                     "warren-nft: masquerade " + name + " connections DNATed from" + ports));
                forward.push_back(published_rule("forward", protocol, bound, expr::Accept{},
                                                 "warren-nft: accept " + name + " connections DNATed from" + ports));
            }
        }
    }
    return {
        // A port bound to one address is looked up first: the DNAT of the first rule that finds the
        // packet's port ends the chain. (Publishing never lets one port be in both maps.)
        {Chain{"prerouting", BaseHook{"nat", NF_INET_PRE_ROUTING, priority_dstnat, true}},
         {dnat_rule("prerouting", false, true), dnat_rule("prerouting", false, false)}},
        // Connections from the host itself to one of its addresses never pass prerouting.
        {Chain{"output", BaseHook{"nat", NF_INET_LOCAL_OUT, priority_dstnat, true}},
         {dnat_rule("output", true, true), dnat_rule("output", true, false)}},
        {Chain{"postrouting", BaseHook{"nat", NF_INET_POST_ROUTING, priority_srcnat, true}}, std::move(postrouting)},
        {Chain{"forward", BaseHook{"filter", NF_INET_FORWARD, priority_filter, true}}, std::move(forward)},
    };
}

void put_u16(Bytes& bytes, std::size_t at, std::uint16_t value)
{
    bytes[at] = static_cast<std::uint8_t>(value >> 8);
    bytes[at + 1] = static_cast<std::uint8_t>(value & 0xff);
}

std::uint16_t get_u16(const Bytes& bytes, std::size_t at)
{
    return static_cast<std::uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

std::optional<Protocol> protocol_of(std::uint8_t number)
{
    switch (number) {
    case IPPROTO_TCP: return Protocol::tcp;
    case IPPROTO_UDP: return Protocol::udp;
    case IPPROTO_SCTP: return Protocol::sctp;
    default: return std::nullopt;
    }
}

}  // namespace

Table table() { return Table{Family::ip, table_name}; }

const std::vector<std::string>& chain_names()
{
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& fixed : fixed_chains(false))
            out.push_back(fixed.chain.name);
        return out;
    }();
    return names;
}

const std::vector<std::string>& element_sets()
{
    static const std::vector<std::string> names{ports_map, bound_ports_map, backends_set};
    return names;
}

std::uint8_t ip_protocol(Protocol protocol) noexcept
{
    switch (protocol) {
    case Protocol::tcp: return IPPROTO_TCP;
    case Protocol::udp: return IPPROTO_UDP;
    case Protocol::sctp: return IPPROTO_SCTP;
    }
    return 0;
}

std::string to_string(const Ipv4& a)
{
    return std::to_string(a[0]) + '.' + std::to_string(a[1]) + '.' + std::to_string(a[2]) + '.' + std::to_string(a[3]);
}

std::string describe(const HostPort& host_port)
{
    std::string text = std::to_string(host_port.port) + "/" + std::string(nft::to_string(host_port.protocol));
    return host_port.bound() ? text + " on " + to_string(host_port.address) : text;
}

bool overlap(const HostPort& a, const HostPort& b) noexcept
{
    return a.protocol == b.protocol && a.port == b.port && (a.address == b.address || !a.bound() || !b.bound());
}

std::string owner_comment(std::string_view task_id, std::string_view name)
{
    std::string comment = "task=";
    comment += task_id;
    if (!name.empty()) {
        comment += " name=";
        comment += name;
    }
    return comment;
}

std::optional<Owner> parse_owner_comment(std::string_view comment)
{
    constexpr std::string_view task_prefix = "task=", name_prefix = " name=";
    if (!comment.starts_with(task_prefix))
        return std::nullopt;
    comment.remove_prefix(task_prefix.size());
    Owner owner;
    const auto name_at = comment.find(name_prefix);
    owner.task_id = comment.substr(0, name_at);
    if (name_at != std::string_view::npos)
        owner.name = comment.substr(name_at + name_prefix.size());
    if (owner.task_id.empty())
        return std::nullopt;
    return owner;
}

// Keys and values are laid out field by field, each padded to 4 bytes:
//   ports key        [proto 0 0 0][port_hi port_lo 0 0]
//   bound_ports key  [h o s t][proto 0 0 0][port_hi port_lo 0 0]
//   ports value      [a b c d][port_hi port_lo 0 0]   (both maps)
//   backends         [a b c d][proto 0 0 0][port_hi port_lo 0 0]
Element port_element(const HostPort& key, const Destination& destination, std::string comment)
{
    Element element;
    element.set = key.bound() ? bound_ports_map : ports_map;
    const std::size_t at = key.bound() ? 4 : 0;  // where the protocol goes
    element.key.assign(at + 8, 0);
    std::copy_n(key.address.begin(), at, element.key.begin());
    element.key[at] = ip_protocol(key.protocol);
    put_u16(element.key, at + 4, key.port);
    element.data.assign(8, 0);
    std::copy(destination.address.begin(), destination.address.end(), element.data.begin());
    put_u16(element.data, 4, destination.port);
    element.comment = std::move(comment);
    return element;
}

Element destination_element(const Destination& destination)
{
    Element element;
    element.set = backends_set;
    element.key.assign(12, 0);
    std::copy(destination.address.begin(), destination.address.end(), element.key.begin());
    element.key[4] = ip_protocol(destination.protocol);
    put_u16(element.key, 8, destination.port);
    return element;
}

std::optional<DecodedPort> decode_port_element(const Element& element)
{
    const bool bound = element.set == bound_ports_map;
    const std::size_t at = bound ? 4 : 0;
    if (element.key.size() != at + 8 || element.data.size() != 8)
        return std::nullopt;
    const auto protocol = protocol_of(element.key[at]);
    if (!protocol)
        return std::nullopt;
    DecodedPort port{{*protocol, get_u16(element.key, at + 4)}, {{}, *protocol, get_u16(element.data, 4)}};
    std::copy_n(element.key.begin(), at, port.key.address.begin());
    // 0.0.0.0 would read back as a port on all addresses; we never write it, so it is not ours.
    if (bound && !port.key.bound())
        return std::nullopt;
    std::copy_n(element.data.begin(), 4, port.destination.address.begin());
    return port;
}

std::optional<Destination> decode_destination_element(const Element& element)
{
    if (element.key.size() != 12)
        return std::nullopt;
    const auto protocol = protocol_of(element.key[4]);
    if (!protocol)
        return std::nullopt;
    Destination destination{{}, *protocol, get_u16(element.key, 8)};
    std::copy_n(element.key.begin(), 4, destination.address.begin());
    return destination;
}

bool counts(const TableSnapshot& snapshot)
{
    const auto backends = snapshot.sets.find(backends_set);
    return backends != snapshot.sets.end() && backends->second.counter;
}

namespace {

[[noreturn]] void refuse(const std::string& what, const std::string& why)
{
    throw Error(errc::kernel_error,
                what + " " + why + "; remove the table with `nft delete table ip warren` and publish again");
}

// Flags that make a set behave otherwise than ours, whatever its type: each refused with its reason.
struct RefusedFlag {
    std::uint32_t flag;
    const char* name;
    const char* consequence;
};
constexpr RefusedFlag refused_set_flags[] = {
    {NFT_SET_TIMEOUT, "timeout", "its elements would expire"},
    {NFT_SET_INTERVAL, "interval", "its elements are ranges of keys, not the single ports warren-nft writes"},
    {NFT_SET_EVAL, "dynamic", "rules may add elements to it that no task published"},
    {NFT_SET_CONSTANT, "constant", "the kernel refuses to add or delete its elements"},
};
// Flags that change nothing we rely on: expressions (our counter) and a concatenated key's
// description (nft adds it to intervals, refused above).
constexpr std::uint32_t harmless_set_flags = NFT_SET_EXPR | NFT_SET_CONCAT;

std::string hex(std::uint32_t value)
{
    char text[11];
    std::snprintf(text, sizeof text, "%#x", value);
    return text;
}

// "its key type differs", "its key type and value type differ": what of a set's type is not ours.
std::optional<std::string> type_difference(const SetShape& shape, const SetShape& wanted, bool ignore_counter)
{
    std::vector<std::string> differences;
    if (shape.key_type != wanted.key_type || shape.key_length != wanted.key_length)
        differences.emplace_back("key type");
    if (shape.data_type != wanted.data_type || shape.data_length != wanted.data_length)
        differences.emplace_back("value type");
    if (!ignore_counter && shape.counter != wanted.counter)
        differences.emplace_back("counter");
    if (differences.empty())
        return std::nullopt;
    std::string text = "its " + differences.front();
    for (std::size_t i = 1; i < differences.size(); ++i)
        text += (i + 1 == differences.size() ? " and " : ", ") + differences[i];
    return text + (differences.size() > 1 ? " differ" : " differs");
}

// Refuses a set that is not the one `declaration` would create: of another type, or with flags, a
// timeout or a size limit that would make published ports expire, match ranges or stop fitting.
// None of that can be changed on an existing set, and deleting it would delete its ports.
void check_shape(const TableSnapshot& snapshot, const Set& declaration, bool ignore_counter)
{
    const auto found = snapshot.sets.find(declaration.name);
    if (found == snapshot.sets.end())
        return;
    const SetShape& shape = found->second;
    const std::string name = std::string(shape.is_map() ? "map " : "set ") + display_name(table()) + " " + declaration.name;
    if (const auto difference = type_difference(shape, declaration.shape(), ignore_counter))
        refuse(name, "is of another layout (" + *difference + " from warren-nft's): it was made by another program or version");
    // A default timeout implies the flag; the kernel reports both, but one is enough to refuse.
    const std::uint32_t flags = shape.flags | (shape.timeout ? NFT_SET_TIMEOUT : 0);
    for (const auto& refused : refused_set_flags)
        if (flags & refused.flag)
            refuse(name, std::string("has flags ") + refused.name + ": " + refused.consequence);
    if (const std::uint32_t other = flags & ~harmless_set_flags)
        refuse(name, "has flags " + hex(other) + ", which warren-nft's has not: it was made by another program or version");
    if (shape.size)
        refuse(name, "has size " + std::to_string(shape.size) + ": the kernel takes no more than " +
                         std::to_string(shape.size) + " elements and refuses more with ENFILE (\"Too many open files "
                         "in system\"), so publishing would fail once it is full");
}

const char* hook_name(std::uint32_t hooknum)
{
    switch (hooknum) {
    case NF_INET_PRE_ROUTING: return "prerouting";
    case NF_INET_LOCAL_IN: return "input";
    case NF_INET_FORWARD: return "forward";
    case NF_INET_LOCAL_OUT: return "output";
    case NF_INET_POST_ROUTING: return "postrouting";
    default: return "unknown";
    }
}

// Refuses a chain whose hook, type or priority is not ours: the kernel fixes them when a chain is
// created. Its policy is not checked here: a NEWCHAIN sets it again (repair_chain does).
void check_chain(const Chain& found, const Chain& wanted)
{
    const auto& ours = *wanted.hook;
    std::string difference;
    if (!found.hook)
        difference = "a regular chain, where warren-nft's has type " + ours.type + " hook " + hook_name(ours.hooknum);
    else if (found.hook->type != ours.type)
        difference = "type " + found.hook->type + ", where warren-nft's has type " + ours.type;
    else if (found.hook->hooknum != ours.hooknum)
        difference = std::string("hook ") + hook_name(found.hook->hooknum) + ", where warren-nft's has hook " +
                     hook_name(ours.hooknum);
    else if (found.hook->priority != ours.priority)
        difference = "priority " + std::to_string(found.hook->priority) + ", where warren-nft's has priority " +
                     std::to_string(ours.priority);
    else
        return;
    refuse("chain " + display_name(table()) + " " + wanted.name,
           "is of another kind (" + difference + "): it was made by another program or version");
}

// The NEWTABLE that wakes a dormant table: one that asks for no flags.
Table awake_table()
{
    auto awake = table();
    awake.flags = 0;
    return awake;
}

// A table owned by another process (NFT_TABLE_F_OWNER) cannot be changed by us at all: the kernel
// answers EPERM to whatever we send, which would read as missing privileges. A dormant table is
// not refused: the transaction wakes it.
void check_table(const TableSnapshot& snapshot)
{
    if ((snapshot.table_flags & NFT_TABLE_F_OWNER || snapshot.owner) && !snapshot.owned_by_us)
        throw Error(errc::kernel_error,
                    "table ip warren is owned by another process (netlink port id " +
                        (snapshot.owner ? std::to_string(*snapshot.owner) : std::string("unknown")) +
                        "): only that process may change it; the kernel deletes the table when that process closes "
                        "its netlink socket, so stop it (`ss -f netlink -p` names the process with that port id) "
                        "or have it delete the table, then publish again");
    if (const std::uint32_t other = snapshot.table_flags & ~(NFT_TABLE_F_DORMANT | NFT_TABLE_F_OWNER))
        refuse("table ip warren", "has flags " + hex(other) + ", which warren-nft does not know");
}

// Appends to `out` what makes the chain complete: the chain, with policy accept, and its rules,
// those also with `rewrite_rules`. Returns whether the snapshot shows it incomplete.
bool repair_chain(Transaction& out, const FixedChain& fixed, const TableSnapshot& snapshot, bool rewrite_rules)
{
    const auto chain = snapshot.chains.find(fixed.chain.name);
    const bool exists = chain != snapshot.chains.end();
    if (exists)
        check_chain(chain->second, fixed.chain);
    // Policy drop in one of our chains drops every packet of its hook that no rule accepts, the
    // host's own traffic included. The chain is ours, so its NEWCHAIN sets it back to accept.
    const bool wrong_policy = exists && chain->second.hook && !chain->second.hook->policy_accept;
    // A flushed chain (`nft flush table ip warren`) still exists but no longer does its job.
    std::vector<std::string> expected;
    for (const auto& rule : fixed.rules)
        expected.push_back(rule.comment);
    const auto found = snapshot.rule_comments.find(fixed.chain.name);
    const bool complete = exists && found != snapshot.rule_comments.end() && found->second == expected;
    if (!complete || rewrite_rules || wrong_policy)
        out.add(fixed.chain);
    if (!complete || rewrite_rules) {
        out.flush(fixed.chain);
        for (const auto& rule : fixed.rules)
            out.add(rule);
    }
    return !complete || wrong_policy;
}

}  // namespace

std::optional<Transaction> ensure_transaction(const TableSnapshot& snapshot, bool rewrite_rules, bool counting)
{
    check_table(snapshot);
    Transaction tx(table());
    const bool dormant = snapshot.table_flags & NFT_TABLE_F_DORMANT;
    bool missing = !snapshot.exists || dormant;
    tx.add(table());
    for (const auto& declaration : {ports_declaration(), bound_ports_declaration()}) {
        check_shape(snapshot, declaration, false);
        if (!snapshot.sets.contains(declaration.name)) {
            missing = true;
            tx.add(declaration);
        }
    }
    // Counting or not, a backends set is ours; its kind decides whether it stays.
    check_shape(snapshot, backends_declaration(counting), true);
    const auto chains = fixed_chains(counting);
    if (snapshot.sets.contains(backends_set) && !(counting && counts(snapshot))) {
        // Replaced by a counting one, or dropped: a table without counters has no use for it (older
        // versions wrote one that does not count), and a set's counters are fixed when it is created.
        // The rules that look it up keep it from being deleted: flush them; the rules come back below.
        for (const auto& fixed : chains)
            if (snapshot.chains.contains(fixed.chain.name))
                tx.flush(fixed.chain);
        tx.remove(backends_declaration(counts(snapshot)));
        missing = rewrite_rules = true;
    }
    if (counting && !counts(snapshot)) {
        // Created empty: the change that this repair goes with adds an element for every destination
        // (TaskIndex sees them all missing from a set that does not count yet).
        tx.add(backends_declaration(true));
        missing = true;
    }
    // A dormant table's chains hook nothing until the table is woken. The kernel takes the wake only
    // after the base chains the transaction creates (a new base chain after a change of the table's
    // flags is EINVAL) and before NEWCHAIN on chains that exist (a change of the flags after a chain
    // update is EINVAL too): chains that exist are repaired after it.
    Transaction existing(table());
    for (const auto& fixed : chains)
        missing = repair_chain(snapshot.chains.contains(fixed.chain.name) ? existing : tx, fixed, snapshot,
                               rewrite_rules) ||
                  missing;
    if (!missing && !rewrite_rules)
        return std::nullopt;
    if (dormant)
        tx.add(awake_table());
    return tx.append(existing);
}

}  // namespace warren::nft::layout
