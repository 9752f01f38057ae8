// SPDX-License-Identifier: Apache-2.0
#include "netlink/sock_diag.hpp"

#include "kernel_error.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace warren::nft::netlink {
namespace {

using layout::Address;
using layout::Family;

int protocol_number(Protocol protocol) noexcept
{
    switch (protocol) {
        case Protocol::tcp: return IPPROTO_TCP;
        case Protocol::udp: return IPPROTO_UDP;
        case Protocol::sctp: return IPPROTO_SCTP;
    }
    return IPPROTO_TCP;
}

// A UDP socket receives datagrams for its port whatever its state (a connected one only from its
// peer, but it still holds the port); TCP and SCTP sockets only while listening.
std::uint32_t receiving_states(Protocol protocol) noexcept
{
    return protocol == Protocol::udp ? ~std::uint32_t{0} : std::uint32_t{1} << TCP_LISTEN;
}

// AF_UNSPEC: both families.
std::string dump_name(Protocol protocol, int address_family)
{
    const std::string families =
        address_family == AF_UNSPEC
            ? std::string(layout::family_name(Family::ip)) + " and " + std::string(layout::family_name(Family::ip6))
            : std::string(layout::family_name(address_family == AF_INET ? Family::ip : Family::ip6));
    return std::string("dump ") + (protocol == Protocol::udp ? "bound " : "listening ") + std::string(to_string(protocol)) +
           " sockets (" + families + ") over sock_diag";
}

int address_family_of(Family family) noexcept { return family == Family::ip ? AF_INET : AF_INET6; }

// ::ffff:a.b.c.d as the IPv4 address a.b.c.d; any other IPv6 address as it is.
Address socket_address(int family, const std::uint8_t* bytes)
{
    if (family == AF_INET)
        return layout::address_from(Family::ip, {bytes, 4});
    static constexpr std::array<std::uint8_t, 12> mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(mapped_prefix.begin(), mapped_prefix.end(), bytes))
        return layout::address_from(Family::ip, {bytes + 12, 4});
    return layout::address_from(Family::ip6, {bytes, 16});
}

// The addresses of INET_DIAG_LOCALS (SCTP: every address the socket is bound to), each in a
// sockaddr_storage-sized slot starting with a sockaddr_in or sockaddr_in6. Slots of another
// family, or cut short, are left out.
std::vector<Address> sctp_local_addresses(const nlattr* attr)
{
    std::vector<Address> addresses;
    const auto* data = static_cast<const std::uint8_t*>(mnl_attr_get_payload(attr));
    const std::size_t length = mnl_attr_get_payload_len(attr);
    constexpr std::size_t slot = sizeof(sockaddr_storage);
    for (std::size_t at = 0; at + slot <= length; at += slot) {
        sa_family_t family = 0;
        std::memcpy(&family, data + at, sizeof family);
        if (family == AF_INET)
            addresses.push_back(socket_address(AF_INET, data + at + offsetof(sockaddr_in, sin_addr)));
        else if (family == AF_INET6)
            addresses.push_back(socket_address(AF_INET6, data + at + offsetof(sockaddr_in6, sin6_addr)));
    }
    return addresses;
}

// Beyond this many ports a filter program costs more than reading every socket: the kernel checks
// each jump of a program by walking it from the start (quadratic in its length), then runs it from
// the start for each socket.
constexpr std::size_t bytecode_ports_limit = 64;

// An inet_diag filter program that keeps the sockets whose local port is one of `ports` (two or
// more): for each port but the last "S_EQ port" whose success reaches a JMP to the end (accept)
// and whose failure skips that JMP to the next port; the last port's failure jumps 4 bytes past
// the end, which rejects. A success jump is one byte long, a failure jump two: hence the JMP.
std::vector<inet_diag_bc_op> port_bytecode(const std::vector<std::uint16_t>& ports)
{
    constexpr unsigned op = sizeof(inet_diag_bc_op);
    std::vector<inet_diag_bc_op> program;
    for (std::size_t i = 0; i < ports.size(); ++i) {
        const bool last = i + 1 == ports.size();
        program.push_back({INET_DIAG_BC_S_EQ, static_cast<unsigned char>(2 * op), static_cast<unsigned short>(3 * op)});
        program.push_back({0, 0, ports[i]});
        if (!last) {
            const std::size_t after = (ports.size() - i - 1) * 3 * op - op;  // the bytes of the ports after this one
            program.push_back({INET_DIAG_BC_JMP, static_cast<unsigned char>(op), static_cast<unsigned short>(after + op)});
        }
    }
    return program;
}

// Reads one answer message of a dump of `address_family` (AF_UNSPEC: both) into `out`. Returns
// false for a message too short to be one.
bool read_message(const nlmsghdr* nlh, Protocol protocol, int address_family, const std::vector<std::uint16_t>* ports,
                  std::vector<SocketEntry>& out)
{
    const std::size_t length = mnl_nlmsg_get_payload_len(nlh);
    if (length < sizeof(inet_diag_msg))
        return false;
    inet_diag_msg msg;
    std::memcpy(&msg, mnl_nlmsg_get_payload(nlh), sizeof msg);
    const int family = msg.idiag_family;
    // The kernel filtered these already; checking again costs nothing and keeps a stray message
    // (of another family, or a connection) from passing for a listener.
    const bool family_asked = address_family == AF_UNSPEC ? family == AF_INET || family == AF_INET6 : family == address_family;
    if (!family_asked || msg.idiag_state > 31 || !(receiving_states(protocol) & (std::uint32_t{1} << msg.idiag_state)))
        return true;
    const std::uint16_t port = ntohs(msg.id.idiag_sport);
    if (port == 0 || (ports && !std::binary_search(ports->begin(), ports->end(), port)))
        return true;

    SocketEntry entry;
    entry.protocol = protocol;
    entry.port = port;
    entry.ipv6_socket = family == AF_INET6;
    entry.inode = msg.idiag_inode;
    entry.uid = msg.idiag_uid;
    std::array<std::uint8_t, 16> source{};
    std::memcpy(source.data(), msg.id.idiag_src, source.size());
    std::vector<Address> addresses;
    const std::size_t header = MNL_ALIGN(sizeof(inet_diag_msg));
    if (length > header) {
        for_each_attribute(static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(nlh)) + header, length - header,
                           [&](const nlattr* attr) {
                               const auto type = mnl_attr_get_type(attr);
                               if (type == INET_DIAG_SKV6ONLY && mnl_attr_get_payload_len(attr) >= 1)
                                   entry.v6only = mnl_attr_get_u8(attr) != 0;
                               else if (type == INET_DIAG_LOCALS && protocol == Protocol::sctp)
                                   addresses = sctp_local_addresses(attr);
                           });
    }
    // An SCTP socket may be bound to several addresses; the message's own is only the first.
    if (addresses.empty())
        addresses.push_back(socket_address(family, source.data()));
    for (const auto& address : addresses) {
        entry.address = address;
        out.push_back(entry);
    }
    return true;
}

// Whether a dump's error says that the kernel has no sock_diag handler for the protocol: ENOENT
// (inet_diag found no handler, even after trying to load its module), EOPNOTSUPP or EINVAL (older
// or stripped-down kernels).
bool no_handler(int err) noexcept { return err == ENOENT || err == EOPNOTSUPP || err == EINVAL; }

}  // namespace

bool sctp_loaded()
{
    // thread-self: the network namespace is a thread's, and /proc/self/net is the main thread's.
    return access("/proc/thread-self/net/sctp", F_OK) == 0;
}

SocketDiag::SocketDiag() : socket_(NETLINK_SOCK_DIAG, "NETLINK_SOCK_DIAG") {}

int SocketDiag::dump(Protocol protocol, int address_family, const std::vector<std::uint16_t>* ports,
                     std::vector<SocketEntry>& out)
{
    const auto bytecode = ports && ports->size() > 1 && ports->size() <= bytecode_ports_limit ? port_bytecode(*ports)
                                                                                              : std::vector<inet_diag_bc_op>{};
    const std::size_t bytecode_bytes = bytecode.size() * sizeof(inet_diag_bc_op);
    // Both families in one dump only through the older request, whose kernel side asks for
    // AF_UNSPEC; it knows TCP (and DCCP) only.
    const bool both = address_family == AF_UNSPEC;
    const std::size_t request_bytes = both ? sizeof(inet_diag_req) : sizeof(inet_diag_req_v2);
    std::vector<std::uint8_t> buffer(MNL_NLMSG_HDRLEN + MNL_ALIGN(request_bytes) + MNL_ATTR_HDRLEN + MNL_ALIGN(bytecode_bytes));
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
    const std::uint16_t message_type = both ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_type = message_type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    const std::uint32_t seq = socket_.next_seq();
    nlh->nlmsg_seq = seq;
    inet_diag_sockid* id = nullptr;
    if (both) {
        auto* request = static_cast<inet_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req)));
        request->idiag_family = AF_INET;  // not read by a dump
        request->idiag_states = receiving_states(protocol);
        id = &request->id;
    } else {
        auto* request = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
        request->sdiag_family = static_cast<std::uint8_t>(address_family);
        request->sdiag_protocol = static_cast<std::uint8_t>(protocol_number(protocol));
        request->idiag_states = receiving_states(protocol);
        id = &request->id;
    }
    // One port: the kernel compares the local port itself and sends only those sockets.
    if (ports && ports->size() == 1)
        id->idiag_sport = htons(ports->front());
    if (!bytecode.empty())
        mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, bytecode_bytes, bytecode.data());
    socket_.send({buffer.data(), nlh->nlmsg_len});

    const auto before = out.size();
    bool malformed = false;
    const int err = receive_answer(socket_, seq, [&](const nlmsghdr* message) {
        if (message->nlmsg_type == message_type && !read_message(message, protocol, address_family, ports, out))
            malformed = true;
    });
    if (err != 0) {
        out.resize(before);
        return err;
    }
    if (malformed)
        throw kernel_error(EPROTO, dump_name(protocol, address_family), "the kernel sent a socket message too short to read");
    return 0;
}

std::vector<SocketEntry> SocketDiag::dump_or_throw(Protocol protocol, Family family, const std::vector<std::uint16_t>* ports)
{
    std::vector<SocketEntry> entries;
    const int address_family = address_family_of(family);
    const int err = dump(protocol, address_family, ports, entries);
    if (err == 0)
        return entries;
    // Without the sctp module there can be no SCTP socket, and a kernel without sctp_diag (or
    // that cannot load it here) answers with one of these: nothing to report. With the module
    // loaded, sockets may exist that we cannot see, and saying "none" would let a publish
    // shadow them: that stays an error.
    if (protocol == Protocol::sctp && no_handler(err) && !sctp_loaded())
        return {};
    throw kernel_error(
        err, dump_name(protocol, address_family),
        protocol == Protocol::sctp && no_handler(err) ? "the kernel has SCTP but cannot list its sockets (sctp_diag)" : "");
}

std::vector<SocketEntry> SocketDiag::receiving(Protocol protocol, Family family, PortFilter ports)
{
    return receiving(protocol, std::span(&family, 1), ports);
}

std::vector<SocketEntry> SocketDiag::receiving(Protocol protocol, std::span<const Family> families, PortFilter ports)
{
    std::vector<std::uint16_t> wanted;
    if (ports) {
        wanted.assign(ports->begin(), ports->end());
        std::sort(wanted.begin(), wanted.end());
        wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
        if (wanted.empty())
            return {};
    }
    const auto* filter = ports ? &wanted : nullptr;
    const auto asked = [&](Family family) { return std::find(families.begin(), families.end(), family) != families.end(); };

    if (protocol == Protocol::tcp && asked(Family::ip) && asked(Family::ip6) && !both_families_refused_) {
        std::vector<SocketEntry> entries;
        const int err = dump(protocol, AF_UNSPEC, filter, entries);
        if (err == 0)
            return entries;
        // A kernel without the older request answers EINVAL: from now on one dump per family.
        // EOPNOTSUPP (inet_diag not loaded yet, which a later module load changes) and ENOENT (no
        // tcp_diag) fall back this time only, and are for the dumps per family to report.
        if (!no_handler(err))
            throw kernel_error(err, dump_name(protocol, AF_UNSPEC));
        both_families_refused_ = err == EINVAL;
    }
    std::vector<SocketEntry> entries;
    for (const Family family : {Family::ip, Family::ip6}) {
        if (!asked(family))
            continue;
        auto found = dump_or_throw(protocol, family, filter);
        entries.insert(entries.end(), found.begin(), found.end());
    }
    return entries;
}

}  // namespace warren::nft::netlink
