// SPDX-License-Identifier: Apache-2.0
// The host's listening and bound sockets as sock_diag reports them, with real sockets in a fresh
// namespace: which are found, which a published port would shadow, and how messages name them.
#include "netlink/sock_diag.hpp"
#include "publisher/listening_sockets.hpp"
#include "socket_support.hpp"
#include "support.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

using namespace kt;
using sandbox::FreshNetns;
using warren::nft::layout::Family;
using warren::nft::layout::HostPort;
using warren::nft::layout::ListeningSockets;
using warren::nft::netlink::PortFilter;
using warren::nft::netlink::SocketDiag;
using warren::nft::netlink::SocketEntry;

namespace {

std::uint16_t local_port(int fd)
{
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return sandbox::port_of(address);
}

warren::nft::layout::Address address(const char* text) { return warren::nft::layout::parse_address(text).value(); }

SocketEntry entry(Protocol protocol, const char* ip, std::uint16_t port, const Fd& fd, bool ipv6_socket, bool v6only = false)
{
    return SocketEntry{protocol, address(ip), port, ipv6_socket, v6only, fd.inode(), static_cast<std::uint32_t>(getuid())};
}

std::vector<SocketEntry> on_port(const std::vector<SocketEntry>& entries, std::uint16_t port)
{
    std::vector<SocketEntry> found;
    for (const auto& e : entries)
        if (e.port == port)
            found.push_back(e);
    return found;
}

HostPort everywhere(Protocol protocol, std::uint16_t port, Family family)
{
    return HostPort{protocol, port, warren::nft::layout::any_address(family)};
}

HostPort on_address(Protocol protocol, std::uint16_t port, const char* ip) { return HostPort{protocol, port, address(ip)}; }

}  // namespace

namespace warren::nft::netlink {
inline std::ostream& operator<<(std::ostream& out, const SocketEntry& e)
{
    return out << to_string(e.protocol) << " " << layout::display(e.address) << ":" << e.port
               << (e.ipv6_socket ? " (IPv6 socket" : " (IPv4 socket") << (e.v6only ? ", v6only" : "") << ", inode " << e.inode
               << ", uid " << e.uid << ")";
}
}  // namespace warren::nft::netlink

TEST_CASE_METHOD(FreshNetns, "sock_diag finds the listening TCP sockets of both families, and only those", "[sockets]")
{
    add_namespace_addresses();
    SocketDiag diag;
    CHECK(diag.receiving(Protocol::tcp, Family::ip).empty());
    CHECK(diag.receiving(Protocol::tcp, Family::ip6).empty());

    auto any4 = tcp_listening("0.0.0.0", 18001);
    const auto loopback4 = tcp_listening("127.0.0.1", 18002);
    const auto own4 = tcp_listening(namespace_ipv4, 18003);
    const auto dual = tcp_listening("::", 18004);
    const auto only6 = tcp_listening("::", 18005, {.v6only = true});
    const auto mapped = tcp_listening("::ffff:127.0.0.1", 18006);
    const auto own6 = tcp_listening(namespace_ipv6, 18007);
    // A connection to a listener: neither end is listening.
    const auto server = tcp_listening("127.0.0.1", 18008);
    const auto client = tcp_connected("127.0.0.1", 18008);
    const Fd accepted(accept4(server.get(), nullptr, nullptr, SOCK_CLOEXEC));

    const auto ipv4 = diag.receiving(Protocol::tcp, Family::ip);
    auto sorted = ipv4;
    std::ranges::sort(sorted, {}, &SocketEntry::port);
    CHECK(sorted == std::vector{entry(Protocol::tcp, "0.0.0.0", 18001, any4, false),
                                entry(Protocol::tcp, "127.0.0.1", 18002, loopback4, false),
                                entry(Protocol::tcp, namespace_ipv4, 18003, own4, false),
                                entry(Protocol::tcp, "127.0.0.1", 18008, server, false)});
    CHECK(on_port(ipv4, local_port(client.get())).empty());

    // The kernel makes a socket bound to one IPv6 address IPv6-only.
    auto ipv6 = diag.receiving(Protocol::tcp, Family::ip6);
    std::ranges::sort(ipv6, {}, &SocketEntry::port);
    CHECK(ipv6 == std::vector{entry(Protocol::tcp, "::", 18004, dual, true), entry(Protocol::tcp, "::", 18005, only6, true, true),
                              entry(Protocol::tcp, "127.0.0.1", 18006, mapped, true),
                              entry(Protocol::tcp, namespace_ipv6, 18007, own6, true, true)});

    // No UDP socket, and no TCP socket shows up as one.
    CHECK(diag.receiving(Protocol::udp, Family::ip).empty());
    CHECK(diag.receiving(Protocol::udp, Family::ip6).empty());

    SECTION("a closed socket is no longer reported")
    {
        any4.close();
        CHECK(on_port(diag.receiving(Protocol::tcp, Family::ip), 18001).empty());
    }
    SECTION("a port filter keeps the sockets of its ports")
    {
        const std::vector<std::uint16_t> one{18002};
        CHECK(diag.receiving(Protocol::tcp, Family::ip, one) ==
              std::vector{entry(Protocol::tcp, "127.0.0.1", 18002, loopback4, false)});
        const std::vector<std::uint16_t> several{18003, 18999, 18001};
        sorted = diag.receiving(Protocol::tcp, Family::ip, several);
        std::ranges::sort(sorted, {}, &SocketEntry::port);
        CHECK(sorted == std::vector{entry(Protocol::tcp, "0.0.0.0", 18001, any4, false),
                                    entry(Protocol::tcp, namespace_ipv4, 18003, own4, false)});
        CHECK(diag.receiving(Protocol::tcp, Family::ip, std::vector<std::uint16_t>{}).empty());
        // More ports than a kernel-side filter takes: filtered as they are read.
        std::vector<std::uint16_t> many;
        for (std::uint16_t port = 20000; port < 21000; ++port)
            many.push_back(port);
        many.push_back(18002);
        CHECK(diag.receiving(Protocol::tcp, Family::ip, many) ==
              std::vector{entry(Protocol::tcp, "127.0.0.1", 18002, loopback4, false)});
        CHECK(diag.receiving(Protocol::tcp, Family::ip6, std::vector<std::uint16_t>{18005}) ==
              std::vector{entry(Protocol::tcp, "::", 18005, only6, true, true)});
    }
    SECTION("both families read at once: the sockets of a read of each")
    {
        const auto by_port = [](std::vector<SocketEntry> entries) {
            std::ranges::sort(entries, {}, [](const SocketEntry& e) { return std::pair{e.port, e.inode}; });
            return entries;
        };
        const std::vector both{Family::ip, Family::ip6};
        const std::vector<std::uint16_t> one{18004}, several{18001, 18004, 18006, 18999};
        // Every listener but the server's connection ends; 18999 has none.
        const std::pair<PortFilter, std::size_t> cases[] = {{std::nullopt, 8}, {one, 1}, {several, 3}};
        for (const auto& [filter, listeners] : cases) {
            auto apart = diag.receiving(Protocol::tcp, Family::ip, filter);
            const auto ipv6_sockets = diag.receiving(Protocol::tcp, Family::ip6, filter);
            apart.insert(apart.end(), ipv6_sockets.begin(), ipv6_sockets.end());
            const auto together = by_port(diag.receiving(Protocol::tcp, both, filter));
            CHECK(together == by_port(apart));
            CHECK(together.size() == listeners);
        }
        // In no particular order: the kernel walks its listening hash.
        CHECK(by_port(diag.receiving(Protocol::tcp, both, std::vector<std::uint16_t>{18001, 18004})) ==
              by_port({entry(Protocol::tcp, "0.0.0.0", 18001, any4, false), entry(Protocol::tcp, "::", 18004, dual, true)}));
    }
}

TEST_CASE_METHOD(FreshNetns, "sock_diag finds bound UDP sockets, each of those sharing a port with SO_REUSEADDR", "[sockets]")
{
    SocketDiag diag;
    const auto first = udp_bound("0.0.0.0", 18053, {.reuse = true});
    const auto second = udp_bound("0.0.0.0", 18053, {.reuse = true});
    const auto loopback = udp_bound("127.0.0.1", 18054);
    const auto any6 = udp_bound("::", 18053, {.v6only = true, .reuse = true});
    const auto dual = udp_bound("::", 18055);

    auto ipv4 = diag.receiving(Protocol::udp, Family::ip);
    std::ranges::sort(ipv4, {}, &SocketEntry::inode);
    auto expected =
        std::vector{entry(Protocol::udp, "0.0.0.0", 18053, first, false), entry(Protocol::udp, "0.0.0.0", 18053, second, false),
                    entry(Protocol::udp, "127.0.0.1", 18054, loopback, false)};
    std::ranges::sort(expected, {}, &SocketEntry::inode);
    CHECK(ipv4 == expected);

    auto ipv6 = diag.receiving(Protocol::udp, Family::ip6);
    std::ranges::sort(ipv6, {}, &SocketEntry::port);
    CHECK(ipv6 ==
          std::vector{entry(Protocol::udp, "::", 18053, any6, true, true), entry(Protocol::udp, "::", 18055, dual, true)});
    CHECK(diag.receiving(Protocol::tcp, Family::ip).empty());
}

TEST_CASE_METHOD(FreshNetns, "blocking() names the socket that would receive what a published port takes", "[sockets]")
{
    add_namespace_addresses();
    const auto any4 = tcp_listening("0.0.0.0", 18101);
    const auto loopback4 = tcp_listening("127.0.0.1", 18102);
    const auto dual = tcp_listening("::", 18103);
    const auto only6 = tcp_listening("::", 18104, {.v6only = true});
    const auto mapped = tcp_listening(std::string("::ffff:") + namespace_ipv4, 18105);
    const auto own6 = tcp_listening(namespace_ipv6, 18106);
    const auto udp = udp_bound("0.0.0.0", 18107);

    SocketDiag diag;
    const std::vector protocols{Protocol::tcp, Protocol::udp};
    const std::vector families{Family::ip, Family::ip6};
    const auto sockets = ListeningSockets::read(diag, protocols, families);
    CHECK(sockets.entries().size() == 7);
    const auto blocker = [&](const HostPort& port) { return sockets.blocking(port); };
    const auto blocked_by = [&](const HostPort& port, const Fd& fd) {
        const auto found = blocker(port);
        return found && found->inode == fd.inode();
    };
    using P = Protocol;

    // On 0.0.0.0: every IPv4 address, not IPv6.
    CHECK(blocked_by(everywhere(P::tcp, 18101, Family::ip), any4));
    CHECK(blocked_by(on_address(P::tcp, 18101, namespace_ipv4), any4));
    CHECK_FALSE(blocker(everywhere(P::tcp, 18101, Family::ip6)));
    CHECK_FALSE(blocker(everywhere(P::udp, 18101, Family::ip)));
    // On 127.0.0.1: a port on every IPv4 address, or on 127.0.0.1; not one on another address.
    CHECK(blocked_by(everywhere(P::tcp, 18102, Family::ip), loopback4));
    CHECK(blocked_by(on_address(P::tcp, 18102, "127.0.0.1"), loopback4));
    CHECK_FALSE(blocker(on_address(P::tcp, 18102, namespace_ipv4)));
    // On :: without IPV6_V6ONLY: both families, any address.
    CHECK(blocked_by(everywhere(P::tcp, 18103, Family::ip), dual));
    CHECK(blocked_by(on_address(P::tcp, 18103, namespace_ipv4), dual));
    CHECK(blocked_by(everywhere(P::tcp, 18103, Family::ip6), dual));
    CHECK(blocked_by(on_address(P::tcp, 18103, namespace_ipv6), dual));
    // On :: with IPV6_V6ONLY: IPv6 only.
    CHECK(blocked_by(everywhere(P::tcp, 18104, Family::ip6), only6));
    CHECK(blocked_by(on_address(P::tcp, 18104, "fd77::2"), only6));
    CHECK_FALSE(blocker(everywhere(P::tcp, 18104, Family::ip)));
    CHECK_FALSE(blocker(on_address(P::tcp, 18104, namespace_ipv4)));
    // On ::ffff:10.77.0.1: IPv4, on that address.
    CHECK(blocked_by(everywhere(P::tcp, 18105, Family::ip), mapped));
    CHECK(blocked_by(on_address(P::tcp, 18105, namespace_ipv4), mapped));
    CHECK_FALSE(blocker(on_address(P::tcp, 18105, "127.0.0.1")));
    CHECK_FALSE(blocker(everywhere(P::tcp, 18105, Family::ip6)));
    // On fd77::1: IPv6, on that address.
    CHECK(blocked_by(everywhere(P::tcp, 18106, Family::ip6), own6));
    CHECK(blocked_by(on_address(P::tcp, 18106, namespace_ipv6), own6));
    CHECK_FALSE(blocker(on_address(P::tcp, 18106, "fd77::2")));
    CHECK_FALSE(blocker(everywhere(P::tcp, 18106, Family::ip)));
    // UDP on 0.0.0.0: UDP only.
    CHECK(blocked_by(everywhere(P::udp, 18107, Family::ip), udp));
    CHECK_FALSE(blocker(everywhere(P::tcp, 18107, Family::ip)));

    // What automatic port selection asks of a candidate port.
    const std::vector both{everywhere(P::tcp, 0, Family::ip), everywhere(P::tcp, 0, Family::ip6)};
    CHECK_FALSE(sockets.free(18101, both));
    CHECK_FALSE(sockets.free(18104, both));
    CHECK_FALSE(sockets.free(18106, both));
    CHECK(sockets.free(18107, both));
    CHECK(sockets.free(18108, both));
    const std::vector ipv4_only{everywhere(P::tcp, 0, Family::ip)};
    CHECK(sockets.free(18104, ipv4_only));
    CHECK(sockets.free(18106, ipv4_only));
    const std::vector other_address{on_address(P::tcp, 0, namespace_ipv4)};
    CHECK(sockets.free(18102, other_address));
    CHECK_FALSE(sockets.free(18101, other_address));

    SECTION("a snapshot of some ports only")
    {
        const std::vector<std::uint16_t> ports{18101, 18103};
        const auto some = ListeningSockets::read(diag, protocols, std::vector{Family::ip}, ports);
        CHECK(some.blocking(everywhere(P::tcp, 18101, Family::ip)).value().inode == any4.inode());
        CHECK(some.blocking(everywhere(P::tcp, 18103, Family::ip)).value().inode == dual.inode());
        CHECK_FALSE(some.blocking(everywhere(P::tcp, 18102, Family::ip)));
        CHECK_FALSE(some.blocking(everywhere(P::tcp, 18104, Family::ip6)));
    }
    SECTION("a snapshot of what a publish needs")
    {
        const std::vector wanted{everywhere(P::tcp, 18101, Family::ip), on_address(P::udp, 18107, namespace_ipv4)};
        const auto some = ListeningSockets::read_for(diag, wanted);
        CHECK(some.entries().size() == 2);
        CHECK(some.blocking(wanted[0]).value().inode == any4.inode());
        CHECK(some.blocking(wanted[1]).value().inode == udp.inode());
        // An automatic port reads every port of its protocol and family (and IPv6 for IPv4).
        const auto automatic = ListeningSockets::read_for(diag, std::vector{everywhere(P::tcp, 0, Family::ip)});
        CHECK(automatic.entries().size() == 6);
        CHECK_FALSE(automatic.free(18103, std::vector{everywhere(P::tcp, 0, Family::ip)}));
        CHECK(automatic.free(18104, std::vector{everywhere(P::tcp, 0, Family::ip)}));
    }
}

TEST_CASE_METHOD(FreshNetns, "describe() names the socket's address and the process holding it", "[sockets]")
{
    const auto any4 = tcp_listening("0.0.0.0", 18201);
    const auto udp6 = udp_bound("::", 18202);
    const auto mapped = tcp_listening("::ffff:127.0.0.1", 18203);
    SocketDiag diag;
    const auto sockets = ListeningSockets::read(diag, std::vector{Protocol::tcp, Protocol::udp}, std::vector{Family::ip});
    const auto owner = " (process " + own_comm() + ", pid " + std::to_string(getpid()) + ")";

    CHECK(warren::nft::layout::describe(sockets.blocking(everywhere(Protocol::tcp, 18201, Family::ip)).value()) ==
          "tcp socket listening on 0.0.0.0:18201" + owner);
    CHECK(warren::nft::layout::describe(sockets.blocking(everywhere(Protocol::udp, 18202, Family::ip)).value()) ==
          "udp socket bound to [::]:18202" + owner);
    CHECK(warren::nft::layout::describe(sockets.blocking(everywhere(Protocol::tcp, 18203, Family::ip)).value()) ==
          "tcp socket listening on [::ffff:127.0.0.1]:18203" + owner);
    // A socket no process holds (any more): no owner part.
    auto gone = sockets.blocking(everywhere(Protocol::tcp, 18201, Family::ip)).value();
    gone.inode = 0;
    CHECK(warren::nft::layout::describe(gone) == "tcp socket listening on 0.0.0.0:18201");
}

TEST_CASE_METHOD(FreshNetns, "sock_diag finds listening SCTP sockets where the kernel has SCTP", "[sockets][sctp]")
{
    SocketDiag diag;
    const int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
    if (probe < 0) {
        const auto reason = std::string(std::strerror(errno));
        // No SCTP here: the dump must say "no SCTP socket", not fail.
        if (!warren::nft::netlink::sctp_loaded())
            CHECK(diag.receiving(Protocol::sctp, Family::ip).empty());
        WARN("skipped: this kernel cannot open SCTP sockets: " << reason);
        return;
    }
    ::close(probe);

    const auto any4 = listening(IPPROTO_SCTP, "0.0.0.0", 18301);
    const auto loopback4 = listening(IPPROTO_SCTP, "127.0.0.1", 18302);
    const auto any6 = listening(IPPROTO_SCTP, "::", 18303, {.v6only = true});
    const auto unlistened = bound(SOCK_STREAM, IPPROTO_SCTP, "0.0.0.0", 18304);
    std::vector<SocketEntry> ipv4;
    try {
        ipv4 = diag.receiving(Protocol::sctp, Family::ip);
    } catch (const Error& e) {
        // SCTP without sctp_diag: refused rather than "no sockets" (see sock_diag.cpp).
        CHECK(e.operation() == "dump listening sctp sockets (IPv4) over sock_diag");
        WARN("skipped: this kernel has SCTP but cannot list its sockets: " << e.what());
        return;
    }
    std::ranges::sort(ipv4, {}, &SocketEntry::port);
    CHECK(ipv4 == std::vector{entry(Protocol::sctp, "0.0.0.0", 18301, any4, false),
                              entry(Protocol::sctp, "127.0.0.1", 18302, loopback4, false)});
    CHECK(diag.receiving(Protocol::sctp, Family::ip6) == std::vector{entry(Protocol::sctp, "::", 18303, any6, true, true)});
}
