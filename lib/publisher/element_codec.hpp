// SPDX-License-Identifier: Apache-2.0
// How one published port becomes map and set elements of its family's table, and back, when a
// publisher adopts what the kernel holds.
#pragma once

#include "publisher/address.hpp"
#include "publisher/schema.hpp"
#include "ruleset/objects.hpp"

#include <warren/nft/port_mapping.hpp>

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace warren::nft::layout {

// (protocol, host port, host address): what makes a published port unique. On every address of
// its family (the unspecified address) it is a key of that family's ports map, on one address a
// key of bound_ports. Ordered by protocol, port, then address (family first), so a port on every
// address of a family comes before its bound ones.
struct HostPort {
    Protocol protocol;
    std::uint16_t port;
    Address address{};
    Family family() const noexcept { return address.family; }
    bool bound() const noexcept { return !address.unspecified(); }
    friend auto operator<=>(const HostPort&, const HostPort&) = default;
};

// "8080/tcp" (every IPv4 address), "8080/tcp on [::]" (every IPv6 address), "8080/tcp on
// 10.0.0.1", "8080/tcp on [2001:db8::10]": how messages name it.
std::string describe(const HostPort& host_port);
// Whether two ports cannot both be published: the same protocol, port and family, on the same
// address or on every address of the family for either (as with sockets bound to 0.0.0.0 and to
// one address). Ports on every IPv4 and on every IPv6 address do not overlap.
bool overlap(const HostPort& a, const HostPort& b) noexcept;

// The protocol of an IP protocol number (ip_protocol() the other way); nullopt for one we never publish.
std::optional<Protocol> protocol_of(std::uint8_t number);

// Where DNAT sends a published port: (container ip, protocol, container port).
struct Destination {
    Address address;
    Protocol protocol;
    std::uint16_t port;
    friend auto operator<=>(const Destination&, const Destination&) = default;
};

// What the ports map element's comment says about its owner: "task=ID" or "task=ID name=NAME".
std::string owner_comment(std::string_view task_id, std::string_view name);
struct Owner {
    std::string task_id;
    std::string name;
};
// The owner of a comment read back from the kernel, where anyone may have written anything: nullopt
// unless it is exactly as owner_comment() writes it, with an id validate_task_id() accepts and a
// name validate_port_name() accepts. Such an element is not a task's, and a publisher never adopts it.
std::optional<Owner> parse_owner_comment(std::string_view comment);

// The key of a published port in the ports map ([proto][port]) or, bound to one address, in
// bound_ports ([address][proto][port]); the policy sets' keys start with the same bytes.
ruleset::Bytes host_port_key(const HostPort& key);
// The port whose key (as host_port_key() writes it, `bound` or not) `bytes` starts with, if it is one.
std::optional<HostPort> decode_host_port_key(Family family, std::span<const std::uint8_t> bytes, bool bound);
// Bytes of such a key.
std::size_t host_port_key_length(Family family, bool bound);

// An element of the ports map, or of bound_ports when `key` is bound to one address, of the
// table of the key's family (the destination is of the same family).
ruleset::Element port_element(const HostPort& key, const Destination& destination, std::string comment);
ruleset::Element destination_element(const Destination& destination);

// A ports or bound_ports element read back from the family's table (which of them, by element.set).
struct DecodedPort {
    HostPort key;
    Destination destination;
};
std::optional<DecodedPort> decode_port_element(Family family, const ruleset::Element& element);
std::optional<Destination> decode_destination_element(Family family, const ruleset::Element& element);

}  // namespace warren::nft::layout
