// SPDX-License-Identifier: Apache-2.0
// The kernel's connection tracking table over ctnetlink: forgetting the tracked connections to a
// host port whose publication changed, so that a client's next packet is NATed by the new rules
// instead of following an old entry. Also the tuple encoding that writers of entries share.
#pragma once

#include "netlink/socket.hpp"

#include <libmnl/libmnl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace warren::nft::netlink {

// An address (4 or 16 bytes used) and a port, host byte order: one end of a tracked connection.
using Endpoint = std::pair<std::array<std::uint8_t, 16>, std::uint16_t>;

// Tracked connections to forget: those whose original direction went to `port` (the host port, not
// the container port it was DNATed to) of `l4proto`, on `address` or any.
struct FlowMatch {
    int family;            // AF_INET or AF_INET6
    std::uint8_t l4proto;  // IPPROTO_TCP / UDP / SCTP
    std::uint16_t port;    // the ORIGINAL direction's destination port (the host port), host byte order
    std::optional<std::array<std::uint8_t, 16>> address;  // original destination address (4 or 16 bytes used); nullopt: any
    bool unreplied_only = false;                          // only entries without IPS_SEEN_REPLY
    // Only entries whose reply direction comes from this address (4 or 16 bytes used) and port: the
    // connections a DNAT sent to one destination. nullopt: any.
    std::optional<Endpoint> reply_source = std::nullopt;
    // Except entries whose reply direction comes from one of these (address, port): connections
    // already NATed to where the port leads now.
    std::vector<Endpoint> spared = {};
};

// One direction of a tracked connection, as ctnetlink's CTA_TUPLE_ORIG / CTA_TUPLE_REPLY carry it.
struct FlowTuple {
    int family = 0;  // AF_INET or AF_INET6
    std::uint8_t l4proto = 0;
    std::array<std::uint8_t, 16> source{};  // 4 or 16 bytes used
    std::array<std::uint8_t, 16> destination{};
    std::uint16_t source_port = 0;  // host byte order
    std::uint16_t destination_port = 0;

    // The other direction's tuple of an un-NATed connection: addresses and ports swapped.
    FlowTuple reversed() const;
};

// An entry of the table as a dump shows it: what deleting it exactly takes.
struct TrackedEntry {
    FlowTuple original;
    std::optional<FlowTuple> reply;  // CTA_TUPLE_REPLY, when the dump had a readable one
    std::uint32_t status = 0;
    std::optional<std::uint32_t> id;    // CTA_ID as sent (network order): a newer entry with the same tuple is spared
    std::optional<std::uint16_t> zone;  // CTA_ZONE as sent (network order)
};

// One message of a conntrack dump; std::nullopt for what is not a decodable entry of our families.
std::optional<TrackedEntry> parse_entry(const nlmsghdr* nlh);

// Starts a ctnetlink request of `type` (IPCTNL_MSG_CT_*) for `family` at `buffer`, which must have
// room for the header and everything the caller appends (zeroed by libmnl as it goes).
nlmsghdr* put_conntrack_header(void* buffer, std::uint16_t type, std::uint16_t flags, int family, std::uint32_t seq);
// Appends `tuple` whole, nested in `attribute` (CTA_TUPLE_ORIG or CTA_TUPLE_REPLY).
void put_tuple(nlmsghdr* nlh, std::uint16_t attribute, const FlowTuple& tuple);

// Sends ctnetlink requests, many per datagram, each asking for an ack, and reads the acks. Requests
// the kernel refuses with an errno in `tolerated` count as not carried out; any other refusal is
// thrown (naming `operation`) once every ack of that datagram is in, so that none is left queued.
class RequestBatcher {
public:
    RequestBatcher(Socket& socket, std::string operation, std::vector<int> tolerated = {});
    RequestBatcher(const RequestBatcher&) = delete;
    RequestBatcher& operator=(const RequestBatcher&) = delete;

    // Starts the next request (NLM_F_REQUEST | NLM_F_ACK | `flags`), with room for max_request_bytes;
    // append its attributes, then call add(). Sends what is pending first when the datagram is full.
    nlmsghdr* start(std::uint16_t type, std::uint16_t flags, int family);
    void add();
    // Sends the rest and reads every ack. Returns how many requests the kernel carried out in all.
    std::size_t finish();

    static constexpr std::size_t max_request_bytes = 512;

private:
    void flush();

    Socket& socket_;
    std::string operation_;
    std::vector<int> tolerated_;
    std::vector<std::uint8_t> buffer_;
    std::size_t used_ = 0;
    std::vector<std::uint32_t> pending_;  // seqs of the requests in buffer_
    std::uint32_t started_seq_ = 0;
    std::size_t carried_out_ = 0;
};

// Not safe to share between threads: calls must not overlap.
class ConntrackTable {  // opens one NETLINK_NETFILTER socket (SOCK_CLOEXEC), in the caller's netns
public:
    ConntrackTable();
    // Deletes every entry matching one of `matches`; returns how many it deleted. Throws Error
    // (errc::kernel_error, kernel errno, naming the operation) on failure. Entries that vanish
    // between dump and delete (ENOENT) are not an error.
    std::size_t forget(std::span<const FlowMatch> matches);

private:
    Socket socket_;
    // False once the kernel refused a filtered dump (before Linux 5.9): dumps then copy the whole
    // family and are filtered here.
    bool kernel_filters_ = true;
};

}  // namespace warren::nft::netlink
