// SPDX-License-Identifier: Apache-2.0
// netlink::ConntrackTable::forget() against the kernel's connection tracking, in the test's own
// namespace: entries made by real traffic over loopback (UDP and TCP, both families) and inserted with
// IPCTNL_MSG_CT_NEW (SCTP, replied and unreplied ones, many unrelated ones, a zone), read back with
// the `conntrack` tool of conntrack-tools, not with the code under test.
#include "flows.hpp"
#include "netlink/conntrack.hpp"
#include "support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <tuple>

using namespace kt;
using warren::nft::netlink::ConntrackTable;
using warren::nft::netlink::FlowMatch;
using warren::nft::netlink::FlowTuple;

namespace {

// Loopback addresses of the test's namespace: lo has 127.0.0.0/8 and ::1; fd00::2 is added.
constexpr const char* v4_a = "127.0.0.1";
constexpr const char* v4_b = "127.0.0.2";
constexpr const char* v6_a = "::1";
constexpr const char* v6_b = "fd00::2";

// One entry as `conntrack -L` shows it: its original direction, and whether it was answered.
struct Listed {
    std::string protocol;
    std::string source, destination;
    long source_port = 0, destination_port = 0;
    bool unreplied = false;
    long zone = 0;
    friend auto operator<=>(const Listed&, const Listed&) = default;
};

std::ostream& operator<<(std::ostream& out, const Listed& e)
{
    return out << e.protocol << " " << e.source << ":" << e.source_port << " -> " << e.destination << ":" << e.destination_port
               << (e.unreplied ? " [UNREPLIED]" : "") << (e.zone ? " zone " + std::to_string(e.zone) : "");
}

// A fresh namespace for a test that reads the table with the conntrack tool.
struct ConntrackNetns : FreshNetns {
    // True when the tool is missing: the test is then skipped, saying why.
    static bool tool_missing()
    {
        try {
            find_program("conntrack");
            return false;
        } catch (const std::exception&) {
            WARN("skipped: the conntrack tool (Debian package conntrack, installed by tools/setup.sh) is not installed");
            return true;
        }
    }
};

// Every entry of the namespace's table, both families, sorted.
std::vector<Listed> listed()
{
    std::vector<Listed> entries;
    for (const char* family : {"ipv4", "ipv6"}) {
        std::istringstream lines(check_output({"conntrack", "-L", "-f", family}));
        for (std::string line; std::getline(lines, line);) {
            std::istringstream words(line);
            Listed e;
            words >> e.protocol;
            // The first src=, dst=, sport= and dport= are the original direction's.
            bool source = false, destination = false, sport = false, dport = false;
            for (std::string word; words >> word;) {
                const auto value = word.substr(word.find('=') + 1);
                if (word.starts_with("src=") && !source)
                    source = true, e.source = value;
                else if (word.starts_with("dst=") && !destination)
                    destination = true, e.destination = value;
                else if (word.starts_with("sport=") && !sport)
                    sport = true, e.source_port = std::stol(value);
                else if (word.starts_with("dport=") && !dport)
                    dport = true, e.destination_port = std::stol(value);
                else if (word == "[UNREPLIED]")
                    e.unreplied = true;
                else if (word.starts_with("zone="))
                    e.zone = std::stol(value);
            }
            entries.push_back(e);
        }
    }
    std::sort(entries.begin(), entries.end());
    return entries;
}

template <class Predicate>
std::vector<Listed> without(std::vector<Listed> entries, Predicate&& gone)
{
    entries.erase(std::remove_if(entries.begin(), entries.end(), gone), entries.end());
    return entries;
}

// The kernel tracks connections in a namespace once a rule there uses conntrack.
void track_connections()
{
    nft_script(
        "table inet conntrack_on {\n"
        "  chain output {\n"
        "    type filter hook output priority 0\n"
        "    ct state new accept\n"
        "  }\n"
        "}\n");
    check_output({"ip", "-6", "address", "add", std::string(v6_b) + "/128", "dev", "lo", "nodad"});
}

struct Fd {
    int fd;
    explicit Fd(int f) : fd(f)
    {
        if (fd < 0)
            throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    }
    ~Fd() { close(fd); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
};

sockaddr_storage endpoint(const std::string& ip, std::uint16_t port, socklen_t& length)
{
    sockaddr_storage address{};
    if (ip.find(':') == std::string::npos) {
        auto* in = reinterpret_cast<sockaddr_in*>(&address);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, ip.c_str(), &in->sin_addr);
        length = sizeof(sockaddr_in);
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr);
        length = sizeof(sockaddr_in6);
    }
    return address;
}

int family_of(const std::string& ip) { return ip.find(':') == std::string::npos ? AF_INET : AF_INET6; }

void set_timeout(int fd)
{
    const timeval second{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &second, sizeof second);
}

// One datagram nobody answers: an unreplied entry.
void udp_datagram(const std::string& ip, std::uint16_t port)
{
    socklen_t length = 0;
    const auto to = endpoint(ip, port, length);
    const Fd client(socket(family_of(ip), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(sendto(client.fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&to), length) == 1);
}

// A datagram answered by a server bound to ip:port: a replied entry.
void udp_exchange(const std::string& ip, std::uint16_t port)
{
    socklen_t length = 0;
    const auto at = endpoint(ip, port, length);
    const Fd server(socket(family_of(ip), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(bind(server.fd, reinterpret_cast<const sockaddr*>(&at), length) == 0);
    const Fd client(socket(family_of(ip), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    set_timeout(server.fd);
    set_timeout(client.fd);
    REQUIRE(sendto(client.fd, "q", 1, 0, reinterpret_cast<const sockaddr*>(&at), length) == 1);
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    char byte = 0;
    REQUIRE(recvfrom(server.fd, &byte, 1, 0, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 1);
    REQUIRE(sendto(server.fd, "a", 1, 0, reinterpret_cast<const sockaddr*>(&peer), peer_length) == 1);
    REQUIRE(recv(client.fd, &byte, 1, 0) == 1);
}

// An accepted TCP connection to ip:port, then closed: a replied entry.
void tcp_connection(const std::string& ip, std::uint16_t port)
{
    socklen_t length = 0;
    const auto at = endpoint(ip, port, length);
    const Fd server(socket(family_of(ip), SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int on = 1;
    setsockopt(server.fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    REQUIRE(bind(server.fd, reinterpret_cast<const sockaddr*>(&at), length) == 0);
    REQUIRE(listen(server.fd, 1) == 0);
    const Fd client(socket(family_of(ip), SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(connect(client.fd, reinterpret_cast<const sockaddr*>(&at), length) == 0);
    const Fd accepted(accept(server.fd, nullptr, nullptr));
}

std::array<std::uint8_t, 16> address(const std::string& ip)
{
    std::array<std::uint8_t, 16> bytes{};
    REQUIRE(inet_pton(family_of(ip), ip.c_str(), bytes.data()) == 1);
    return bytes;
}

FlowMatch match(int family, std::uint8_t l4proto, std::uint16_t port) { return FlowMatch{family, l4proto, port, std::nullopt}; }

FlowMatch match_on(const std::string& ip, std::uint8_t l4proto, std::uint16_t port)
{
    return FlowMatch{family_of(ip), l4proto, port, address(ip)};
}

std::size_t forget(ConntrackTable& table, std::vector<FlowMatch> matches) { return table.forget(matches); }

bench::TrackedFlow made_up(const std::string& source, std::uint16_t source_port, const std::string& destination,
                           std::uint16_t destination_port, std::uint8_t l4proto, bool replied = false)
{
    FlowTuple t;
    t.family = family_of(source);
    t.l4proto = l4proto;
    t.source = address(source);
    t.destination = address(destination);
    t.source_port = source_port;
    t.destination_port = destination_port;
    return {t, replied};
}

}  // namespace

TEST_CASE_METHOD(ConntrackNetns, "forget() deletes the entries to a host port of one protocol and family, and no other",
                 "[conntrack]")
{
    if (tool_missing())
        return;
    track_connections();
    for (const char* ip : {v4_a, v6_a}) {
        udp_datagram(ip, 7000);
        udp_exchange(ip, 7000);
        udp_datagram(ip, 7001);
        tcp_connection(ip, 7000);
        tcp_connection(ip, 7001);
    }
    const std::vector<bench::TrackedFlow> sctp{made_up("10.1.0.1", 1000, "10.2.0.1", 7000, IPPROTO_SCTP),
                                               made_up("10.1.0.1", 1000, "10.2.0.1", 7001, IPPROTO_SCTP),
                                               made_up("fd00::10", 1000, "fd00::20", 7000, IPPROTO_SCTP)};
    bench::insert_flows(sctp);

    auto expected = listed();
    INFO("before: " << Catch::Detail::stringify(expected));
    REQUIRE(expected.size() == 13);
    ConntrackTable table;
    const auto step = [&](FlowMatch m, const char* protocol, std::size_t deleted) {
        const bool v4 = m.family == AF_INET;
        CHECK(forget(table, {m}) == deleted);
        expected = without(expected, [&](const Listed& e) {
            return e.protocol == protocol && e.destination_port == m.port && (e.source.find(':') == std::string::npos) == v4;
        });
        CHECK(listed() == expected);
    };
    step(match(AF_INET, IPPROTO_UDP, 7000), "udp", 2);  // one unreplied, one replied
    step(match(AF_INET6, IPPROTO_UDP, 7000), "udp", 2);
    step(match(AF_INET, IPPROTO_TCP, 7000), "tcp", 1);
    step(match(AF_INET6, IPPROTO_TCP, 7000), "tcp", 1);
    // Kernels compare only TCP and UDP ports in dump filters: the SCTP entry to 7001 is ours to spare.
    step(match(AF_INET, IPPROTO_SCTP, 7000), "sctp", 1);
    step(match(AF_INET6, IPPROTO_SCTP, 7000), "sctp", 1);
    CHECK(expected.size() == 5);                                     // everything to port 7001
    CHECK(forget(table, {match(AF_INET, IPPROTO_UDP, 7000)}) == 0);  // nothing left to forget
    CHECK(forget(table, {}) == 0);
    CHECK(listed() == expected);
}

TEST_CASE_METHOD(ConntrackNetns, "forget() with an address deletes only the entries to that address", "[conntrack]")
{
    if (tool_missing())
        return;
    track_connections();
    for (const char* ip : {v4_a, v4_b, v6_a, v6_b}) {
        udp_datagram(ip, 7000);
        udp_datagram(ip, 7000);
        tcp_connection(ip, 7000);
    }
    const auto before = listed();
    REQUIRE(before.size() == 12);
    ConntrackTable table;
    // Both families in one call; each match names one address.
    CHECK(forget(table, {match_on(v4_b, IPPROTO_UDP, 7000), match_on(v6_b, IPPROTO_UDP, 7000)}) == 4);
    auto expected =
        without(before, [](const Listed& e) { return e.protocol == "udp" && (e.destination == v4_b || e.destination == v6_b); });
    CHECK(listed() == expected);
    CHECK(forget(table, {match_on(v6_a, IPPROTO_TCP, 7000)}) == 1);
    expected = without(expected, [](const Listed& e) { return e.protocol == "tcp" && e.destination == v6_a; });
    CHECK(listed() == expected);
    CHECK(expected.size() == 7);
}

TEST_CASE_METHOD(ConntrackNetns, "forget() with a reply source deletes only the entries answered from that address and port",
                 "[conntrack]")
{
    if (tool_missing())
        return;
    track_connections();
    // Without NAT a reply comes from the original destination: each flow's reply source is its
    // destination address and port (with a DNAT, the backend the connection was sent to).
    bench::insert_flows(std::vector{
        made_up("10.1.0.1", 1000, "10.2.0.1", 7000, IPPROTO_UDP), made_up("10.1.0.1", 1001, "10.2.0.2", 7000, IPPROTO_UDP),
        made_up("fd00::10", 1000, "fd00::20", 7000, IPPROTO_UDP), made_up("fd00::10", 1001, "fd00::21", 7000, IPPROTO_UDP)});
    const auto before = listed();
    REQUIRE(before.size() == 4);
    ConntrackTable table;
    const auto answered_by = [](const std::string& ip, std::uint16_t port) {
        auto m = match(family_of(ip), IPPROTO_UDP, 7000);
        m.reply_source = std::pair(address(ip), port);
        return m;
    };
    CHECK(forget(table, {answered_by("10.2.0.2", 7001), answered_by("fd00::21", 7001)}) == 0);  // another port
    CHECK(listed() == before);
    CHECK(forget(table, {answered_by("10.2.0.2", 7000), answered_by("fd00::21", 7000)}) == 2);
    const auto expected =
        without(before, [](const Listed& e) { return e.destination == "10.2.0.2" || e.destination == "fd00::21"; });
    CHECK(listed() == expected);
    CHECK(expected.size() == 2);
}

TEST_CASE_METHOD(ConntrackNetns, "forget() spares the entries answered from a spared address and port", "[conntrack]")
{
    if (tool_missing())
        return;
    track_connections();
    // Without NAT a reply comes from the original destination (with a DNAT, from the backend).
    bench::insert_flows(std::vector{
        made_up("10.1.0.1", 1000, "10.2.0.1", 7000, IPPROTO_UDP), made_up("10.1.0.1", 1001, "10.2.0.2", 7000, IPPROTO_UDP),
        made_up("10.1.0.1", 1002, "10.2.0.3", 7000, IPPROTO_UDP), made_up("fd00::10", 1000, "fd00::20", 7000, IPPROTO_UDP),
        made_up("fd00::10", 1001, "fd00::21", 7000, IPPROTO_UDP)});
    const auto before = listed();
    REQUIRE(before.size() == 5);
    ConntrackTable table;
    const auto sparing = [](int family, std::vector<std::pair<std::string, std::uint16_t>> spared) {
        auto m = match(family, IPPROTO_UDP, 7000);
        for (const auto& [ip, port] : spared)
            m.spared.emplace_back(address(ip), port);
        return m;
    };
    // A spared port of another number spares nothing.
    CHECK(forget(table, {sparing(AF_INET, {{"10.2.0.2", 7001}}), sparing(AF_INET6, {{"fd00::21", 7001}})}) == 5);
    CHECK(listed().empty());
    bench::insert_flows(std::vector{
        made_up("10.1.0.1", 1000, "10.2.0.1", 7000, IPPROTO_UDP), made_up("10.1.0.1", 1001, "10.2.0.2", 7000, IPPROTO_UDP),
        made_up("10.1.0.1", 1002, "10.2.0.3", 7000, IPPROTO_UDP), made_up("fd00::10", 1000, "fd00::20", 7000, IPPROTO_UDP),
        made_up("fd00::10", 1001, "fd00::21", 7000, IPPROTO_UDP)});
    REQUIRE(listed() == before);
    CHECK(forget(table, {sparing(AF_INET, {{"10.2.0.2", 7000}, {"10.2.0.3", 7000}}), sparing(AF_INET6, {{"fd00::21", 7000}})}) ==
          2);
    const auto expected =
        without(before, [](const Listed& e) { return e.destination == "10.2.0.1" || e.destination == "fd00::20"; });
    CHECK(listed() == expected);
    CHECK(expected.size() == 3);
}

TEST_CASE_METHOD(ConntrackNetns, "forget() with unreplied_only spares the entries that were answered", "[conntrack]")
{
    if (tool_missing())
        return;
    track_connections();
    for (const char* ip : {v4_a, v6_a}) {
        udp_datagram(ip, 7000);
        udp_datagram(ip, 7000);
        udp_exchange(ip, 7000);
    }
    bench::insert_flows(std::vector{made_up("10.1.0.1", 1000, "10.2.0.1", 7000, IPPROTO_SCTP, true),
                                    made_up("10.1.0.2", 1000, "10.2.0.1", 7000, IPPROTO_SCTP, false)});
    const auto before = listed();
    REQUIRE(before.size() == 8);
    REQUIRE(std::count_if(before.begin(), before.end(), [](const Listed& e) { return e.unreplied; }) == 5);

    ConntrackTable table;
    auto unreplied = [](FlowMatch m) {
        m.unreplied_only = true;
        return m;
    };
    CHECK(forget(table, {unreplied(match(AF_INET, IPPROTO_UDP, 7000)), unreplied(match(AF_INET6, IPPROTO_UDP, 7000)),
                         unreplied(match(AF_INET, IPPROTO_SCTP, 7000))}) == 5);
    const auto answered = without(before, [](const Listed& e) { return e.unreplied; });
    CHECK(listed() == answered);
    CHECK(answered.size() == 3);
    // Without unreplied_only, the answered ones go too.
    CHECK(forget(table, {match(AF_INET, IPPROTO_UDP, 7000), match(AF_INET6, IPPROTO_UDP, 7000),
                         match(AF_INET, IPPROTO_SCTP, 7000)}) == 3);
    CHECK(listed().empty());
}

TEST_CASE_METHOD(ConntrackNetns, "forget() finds its entries among many unrelated ones, and matches given twice count once",
                 "[conntrack]")
{
    if (tool_missing())
        return;
    const auto unrelated = bench::unrelated_flows(5000);
    bench::insert_flows(unrelated);
    // To 10.127.0.1, the unrelated flows' destination, but to a port none of them uses.
    bench::insert_flows(std::vector{made_up("10.9.0.1", 1000, "10.127.0.1", 7000, IPPROTO_UDP),
                                    made_up("10.9.0.2", 1000, "10.127.0.1", 7000, IPPROTO_UDP, true)});
    REQUIRE(bench::tracked_flow_count() == 5002);
    const auto before = listed();
    REQUIRE(before.size() == 5002);

    ConntrackTable table;
    const auto m = match_on("10.127.0.1", IPPROTO_UDP, 7000);
    auto unreplied = m;
    unreplied.unreplied_only = true;
    CHECK(forget(table, {m, m, unreplied, match(AF_INET, IPPROTO_UDP, 7000)}) == 2);
    CHECK(listed() == without(before, [](const Listed& e) { return e.destination_port == 7000; }));
    CHECK(bench::tracked_flow_count() == 5000);
}

TEST_CASE_METHOD(ConntrackNetns, "forget() deletes entries of any conntrack zone", "[conntrack]")
{
    if (tool_missing())
        return;
    for (const char* zone : {"0", "5"})
        check_output({"conntrack", "-I", "-p", "udp", "-s", "10.1.0.1", "-d", "10.2.0.1", "--sport", "1000", "--dport", "7000",
                      "-t", "100", "-w", zone});
    const auto before = listed();
    REQUIRE(before.size() == 2);
    REQUIRE(before.back().zone == 5);
    ConntrackTable table;
    CHECK(forget(table, {match(AF_INET, IPPROTO_UDP, 7000)}) == 2);
    CHECK(listed().empty());
}

TEST_CASE_METHOD(ConntrackNetns, "the flow generator inserts exactly the flows asked for", "[conntrack]")
{
    if (tool_missing())
        return;
    const auto flows = bench::unrelated_flows(300);
    bench::insert_flows(flows);
    const auto entries = listed();
    REQUIRE(entries.size() == 300);
    std::vector<Listed> expected;
    for (const auto& flow : flows) {
        char source[INET_ADDRSTRLEN], destination[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, flow.original.source.data(), source, sizeof source);
        inet_ntop(AF_INET, flow.original.destination.data(), destination, sizeof destination);
        expected.push_back({"udp", source, destination, flow.original.source_port, flow.original.destination_port, true});
    }
    std::sort(expected.begin(), expected.end());
    CHECK(entries == expected);
    // A flow tracked already is refused, naming the kernel's errno.
    const auto e = expect_error([&] { bench::insert_flows(std::span(flows).first(1)); });
    INFO(describe(e));
    CHECK(e.kernel_errno() == EEXIST);
    CHECK(std::string(e.what()).find("insert conntrack entries") != std::string::npos);
}

TEST_CASE_METHOD(FreshNetns, "forget() refuses a family other than IPv4 and IPv6", "[conntrack]")
{
    ConntrackTable table;
    const auto e = expect_error([&] { forget(table, {FlowMatch{AF_UNIX, IPPROTO_UDP, 7000, std::nullopt}}); });
    INFO(describe(e));
    CHECK(e.code() == errc::invalid_argument);
}
