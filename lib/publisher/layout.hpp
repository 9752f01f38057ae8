// SPDX-License-Identifier: Apache-2.0
// The warren table: its fixed chains, maps and rules, and how one published port becomes map and
// set elements (and back, when a publisher adopts what the kernel holds).
#pragma once

#include "ruleset/backend.hpp"
#include "ruleset/objects.hpp"
#include "ruleset/transaction.hpp"

#include <warren/nft/port_mapping.hpp>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>

namespace warren::nft::layout {

using Ipv4 = std::array<std::uint8_t, 4>;

inline constexpr const char* table_name = "warren";
inline constexpr const char* ports_map = "ports";  // proto . host port -> container ip . port
// host ip . proto . host port -> container ip . port: ports published on one host address only
inline constexpr const char* bound_ports_map = "bound_ports";
inline constexpr const char* backends_set = "backends";  // container ip . proto . port, in tables that count

ruleset::Table table();
// The fixed chains and the sets whose elements the publisher reads, for snapshots.
const std::vector<std::string>& chain_names();
const std::vector<std::string>& element_sets();

// (protocol, host port, host address): what makes a published port unique. On all of the host's
// addresses (address 0.0.0.0) it is a key of the ports map, on one address a key of bound_ports.
// Ordered by protocol, port, then address, so a port on all addresses comes before its bound ones.
struct HostPort {
    Protocol protocol;
    std::uint16_t port;
    Ipv4 address{};
    bool bound() const noexcept { return address != Ipv4{}; }
    friend auto operator<=>(const HostPort&, const HostPort&) = default;
};

// "8080/tcp", or "8080/tcp on 10.0.0.1" for a port bound to one address: how messages name it.
std::string describe(const HostPort& host_port);
// Whether two ports cannot both be published: the same protocol and port on the same address, or on
// any address when one of them is on all addresses (as with sockets bound to 0.0.0.0 and to one address).
bool overlap(const HostPort& a, const HostPort& b) noexcept;

// Where DNAT sends a published port: (container ip, protocol, container port).
struct Destination {
    Ipv4 address;
    Protocol protocol;
    std::uint16_t port;
    friend auto operator<=>(const Destination&, const Destination&) = default;
};

std::uint8_t ip_protocol(Protocol protocol) noexcept;
std::string to_string(const Ipv4& address);

// What the ports map element's comment says about its owner: "task=ID" or "task=ID name=NAME".
std::string owner_comment(std::string_view task_id, std::string_view name);
struct Owner {
    std::string task_id;
    std::string name;
};
std::optional<Owner> parse_owner_comment(std::string_view comment);

// An element of the ports map, or of bound_ports when `key` is bound to one address.
ruleset::Element port_element(const HostPort& key, const Destination& destination, std::string comment);
ruleset::Element destination_element(const Destination& destination);

// A ports or bound_ports element read back from the kernel (which of them, by element.set).
struct DecodedPort {
    HostPort key;
    Destination destination;
};
std::optional<DecodedPort> decode_port_element(const ruleset::Element& element);
std::optional<Destination> decode_destination_element(const ruleset::Element& element);

// Whether the table counts packets per destination: it holds a backends set with counters.
bool counts(const ruleset::TableSnapshot& snapshot);

// A transaction that makes the table complete: creates what is missing and, with `rewrite_rules`,
// replaces the fixed rules of every chain (repairing rules edited behind our back). Map elements are
// kept. With `counting`, the table holds a counting backends set (created empty; the publisher fills
// it) and masquerade and forward rules that look it up. Without, those rules match the connection's
// original destination against the ports maps and the table holds no backends set: any is removed,
// a counting one too, so keeping a table's counters is the caller's policy (the publisher's).
// A dormant table is woken and a fixed chain with policy drop set back to accept by the same
// transaction. Returns nullopt when the snapshot shows nothing to do. Throws Error (kernel_error)
// when the table cannot be adopted: owned by another process, or holding a set or chain that no
// transaction can make ours (another type; set flags timeout, interval, dynamic or constant; a size
// limit; a chain of another type, hook or priority).
std::optional<ruleset::Transaction> ensure_transaction(const ruleset::TableSnapshot& snapshot, bool rewrite_rules,
                                                       bool counting);

}  // namespace warren::nft::layout
