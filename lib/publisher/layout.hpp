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
inline constexpr const char* ports_map = "ports";       // proto . host port -> container ip . port
inline constexpr const char* backends_set = "backends"; // container ip . proto . port, with counters

ruleset::Table table();
// The fixed chains and the sets whose elements the publisher reads, for snapshots.
const std::vector<std::string>& chain_names();
const std::vector<std::string>& element_sets();

// (protocol, host port): the key of the ports map and what makes a published port unique.
struct HostPort {
    Protocol protocol;
    std::uint16_t port;
    friend auto operator<=>(const HostPort&, const HostPort&) = default;
};

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

ruleset::Element port_element(const HostPort& key, const Destination& destination, std::string comment);
ruleset::Element destination_element(const Destination& destination);

// A ports-map element read back from the kernel.
struct DecodedPort {
    HostPort key;
    Destination destination;
};
std::optional<DecodedPort> decode_port_element(const ruleset::Element& element);
std::optional<Destination> decode_destination_element(const ruleset::Element& element);

// A transaction that makes the table complete: creates what is missing and, with `rewrite_rules`,
// replaces the fixed rules of every chain (repairing rules edited behind our back). Map and set
// elements are kept. Returns nullopt when the snapshot shows nothing to do. Throws Error when the
// table holds a set of another shape (a layout we do not know how to adopt).
std::optional<ruleset::Transaction> ensure_transaction(const ruleset::TableSnapshot& snapshot, bool rewrite_rules);

}  // namespace warren::nft::layout
