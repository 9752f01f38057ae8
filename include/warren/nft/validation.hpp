// SPDX-License-Identifier: Apache-2.0
// The checks every request to HostPortPublisher goes through, public so that a caller (a command
// line, an API server) can refuse bad input early with the publisher's own rules and words, before
// it opens a netlink socket. Each function throws Error with errc::invalid_argument and kernel_errno()
// 0; what() names the argument, what is wrong and what would be right. The publisher calls the same
// functions before anything is sent to the kernel.
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace warren::nft {

// The limits of a request (also HostPortPublisher::max_task_id_length and friends).
inline constexpr std::size_t max_task_id_length = 64;
inline constexpr std::size_t max_name_length = 32;
inline constexpr std::size_t max_ports_per_request = 512;

// 1 to 64 characters from letters, digits and - _ . : @ / +. Task ids and names are written into nft
// element comments and parsed back on adoption, so they are limited to characters needing no quotes.
WARREN_NFT_EXPORT void validate_task_id(std::string_view task_id);

// A port's name (PortMapping::name): 0 to 32 characters of the same kind as a task id.
WARREN_NFT_EXPORT void validate_port_name(std::string_view name);

// The container's address: a dotted-quad IPv4 address or an IPv6 address (any form inet_pton
// takes, without brackets or zone) that can receive forwarded traffic: IPv4 not unspecified
// (0.0.0.0/8), loopback (127.0.0.0/8), multicast or reserved (224.0.0.0 and above); IPv6 not
// unspecified, loopback, IPv4-mapped, link-local (fe80::/10) or multicast.
WARREN_NFT_EXPORT void validate_container_ip(std::string_view container_ip);

// ContainerAddresses: at least one address; ipv4 an IPv4 and ipv6 an IPv6 address of the kind
// validate_container_ip() accepts.
WARREN_NFT_EXPORT void validate_container_addresses(const ContainerAddresses& container);

// PortMapping::host_ip: empty, "0.0.0.0", "::", an address of the kind validate_container_ip()
// accepts, or an IPv4 loopback address (127.0.0.0/8). Refused: ::1 (the kernel cannot NAT a
// connection to the IPv6 loopback address to another host), IPv6 link-local addresses (a port on
// one would need an interface too), IPv4-mapped, multicast and reserved addresses.
WARREN_NFT_EXPORT void validate_host_ip(std::string_view host_ip);

// AccessPolicy: at most max_allowed_sources entries in `allow`, each an IPv4 or IPv6 address or a
// CIDR (address/prefix, host bits may be set and are cleared), which take at most
// max_source_elements kernel elements per family (a CIDR whose prefix length is a multiple of 4
// for IPv4, of 8 for IPv6, takes one; one d bits shorter than the next multiple takes 2^d);
// max_connections and rate 0 (no limit) or up to 1,000,000.
WARREN_NFT_EXPORT void validate_access_policy(const AccessPolicy& policy);
inline constexpr std::size_t max_allowed_sources = 64;
inline constexpr std::size_t max_source_elements = 1024;
inline constexpr std::uint32_t max_policy_limit = 1'000'000;

// What publish_ports() accepts: 1 to 512 ports; each with a known protocol, host mode, host port
// 0-65535 (0: chosen by the publisher) and container port 1-65535, a valid name, host_ip and
// access policy; no protocol and host port twice on one address, nor both on all addresses of a
// family and on one address of that family (ports 0 are told apart by the publisher's choice).
// An allow-list needs a source of each family the port is published in.
WARREN_NFT_EXPORT void validate_ports(std::span<const PortMapping> ports);

}  // namespace warren::nft
