// SPDX-License-Identifier: Apache-2.0
// Automatic host ports (host_port 0): the publisher picks a free port of
// PublisherOptions::automatic_ports, traffic flows through it, a task keeps it when published
// again, a dual-stack task gets one number in both families, an exhausted range is a port_conflict
// that changes nothing, and publishers racing in two threads or two processes never get the same
// port (the kernel's EEXIST arbitrates).
#include "dual_stack_support.hpp"
#include "socket_address.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using namespace kt;

namespace {

using Range = PublisherOptions::PortRange;

PublisherOptions in_range(std::uint16_t first, std::uint16_t last)
{
    return PublisherOptions{.automatic_ports = Range{first, last}};
}

bool within(const Range& range, long port) { return port >= range.first && port <= range.last; }

// A listening TCP socket of the host (the test's namespace) on every IPv4 address.
class HostListener {
public:
    explicit HostListener(std::uint16_t port)
    {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        const auto address = any_address(AF_INET, port);
        REQUIRE(bind(fd_, address.get(), address.length) == 0);
        REQUIRE(listen(fd_, 16) == 0);
    }
    ~HostListener() { close(fd_); }
    HostListener(const HostListener&) = delete;
    HostListener& operator=(const HostListener&) = delete;

private:
    int fd_ = -1;
};

std::string racer_ip(int racer, int task) { return "10.77." + std::to_string(racer) + "." + std::to_string(task + 1); }

// One racer's publishes: a task per iteration, each with one automatic TCP port. Reports one line
// per task: "win TASK PORT", "conflict TASK" (port_conflict) or "error TASK WHAT".
std::string race(HostPortPublisher& publisher, int racer, int tasks)
{
    std::string report;
    for (int i = 0; i < tasks; ++i) {
        const auto task = "r" + std::to_string(racer) + "-t" + std::to_string(i);
        try {
            const auto published = publisher.publish_ports(task, racer_ip(racer, i), std::vector{tcp(0, 80)});
            report += "win " + task + " " + (published.size() == 1 ? std::to_string(published[0].host_port) : "none") + "\n";
        } catch (const Error& e) {
            report += (e.code() == errc::port_conflict ? "conflict " + task : "error " + task + " " + describe(e)) + "\n";
        }
    }
    return report;
}

// The racers' reports against the kernel: every publish won a distinct port of `range` or, with
// the range full, lost with port_conflict; what the kernel holds is exactly the winners' ports.
void check_race(const std::vector<std::string>& reports, const Range& range, int requests)
{
    std::map<std::string, long> wins;
    int conflicts = 0;
    for (const auto& report : reports) {
        std::istringstream lines(report);
        std::string word, task, port;
        while (lines >> word >> task) {
            if (word == "win" && lines >> port) {
                wins[task] = port == "none" ? -1 : std::stol(port);
            } else if (word == "conflict") {
                ++conflicts;
            } else {
                std::string rest;
                std::getline(lines, rest);
                FAIL_CHECK("unexpected: " << word << " " << task << rest);
            }
        }
    }
    const auto size = static_cast<int>(range.last - range.first + 1);
    CHECK(static_cast<int>(wins.size()) == std::min(size, requests));
    CHECK(conflicts == requests - static_cast<int>(wins.size()));

    const auto ports = kernel_ports();
    std::set<long> distinct;
    std::map<std::string, long> in_kernel;
    for (const auto& port : ports) {
        INFO(port);
        CHECK(within(range, port.host_port));
        distinct.insert(port.host_port);
        in_kernel[port.comment.substr(std::string("task=").size())] = port.host_port;
    }
    CHECK(distinct.size() == ports.size());  // no host port twice
    CHECK(in_kernel == wins);                // each winner holds the port it was told
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "host port 0 gets a free port of the range, which traffic takes and the task keeps",
                 "[automatic][traffic]")
{
    const Topology net;
    EchoServer tcp_echo(net.container, Transport::tcp, 8080, "tcp");
    EchoServer udp_echo(net.container, Transport::udp, 5353, "udp");
    const Range range{20000, 20009};
    HostPortPublisher publisher(in_range(range.first, range.last));
    const auto published = publisher.publish_ports("web", Topology::container_ip, std::vector{tcp(0, 8080), udp(0, 5353)});
    INFO(::Catch::Detail::stringify(published));
    REQUIRE(published.size() == 2);
    const auto tcp_port = published[0].host_port;
    const auto udp_port = published[1].host_port;
    CHECK(published[0].protocol == Protocol::tcp);
    CHECK(within(range, tcp_port));
    CHECK(published[1].protocol == Protocol::udp);
    CHECK(within(range, udp_port));
    CHECK(published == std::vector{tcp(tcp_port, 8080), udp(udp_port, 5353)});
    CHECK(publisher.published_ports("web") == published);
    CHECK(HostPortPublisher().published_ports("web") == published);
    CHECK(kernel_ports() == std::vector{kernel_port("web", Topology::container_ip, tcp(tcp_port, 8080)),
                                        kernel_port("web", Topology::container_ip, udp(udp_port, 5353))});

    const auto tcp_reply = exchange(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_port, "auto");
    INFO(tcp_reply.error);
    CHECK(tcp_reply.reply == "tcp:auto");
    const auto udp_reply = exchange(net.client, Transport::udp, Topology::host_client_side_ip, udp_port, "auto");
    INFO(udp_reply.error);
    CHECK(udp_reply.reply == "udp:auto");

    // Published again, with one more port: the task keeps the ports it has, and sends nothing when
    // nothing changes.
    const auto log = monitor_transactions([&] {
        CHECK(publisher.publish_ports("web", Topology::container_ip, std::vector{tcp(0, 8080), udp(0, 5353)}) == published);
    });
    CHECK(log.generations == 0);
    const auto grown =
        publisher.publish_ports("web", Topology::container_ip, std::vector{tcp(0, 8080), tcp(0, 9090), udp(0, 5353)});
    REQUIRE(grown.size() == 3);
    CHECK(std::count(grown.begin(), grown.end(), tcp(tcp_port, 8080)) == 1);
    CHECK(std::count(grown.begin(), grown.end(), udp(udp_port, 5353)) == 1);
    std::set<std::uint16_t> tcp_ports;
    for (const auto& port : grown) {
        CHECK(within(range, port.host_port));
        if (port.protocol == Protocol::tcp)
            tcp_ports.insert(port.host_port);
    }
    CHECK(tcp_ports.size() == 2);  // the new TCP port is another one
    CHECK(tcp_ports.contains(tcp_port));
    // Another publisher's task gets another port of the range.
    HostPortPublisher other(in_range(range.first, range.last));
    const auto api = other.publish_ports("api", "10.200.2.3", std::vector{tcp(0, 80)});
    REQUIRE(api.size() == 1);
    CHECK(within(range, api[0].host_port));
    for (const auto& port : grown)
        if (port.protocol == Protocol::tcp)
            CHECK(port.host_port != api[0].host_port);
    CHECK(exchange(net.client, Transport::tcp, Topology::host_client_side_ip, tcp_port, "still").reply == "tcp:still");

    // The default range is the kernel's ephemeral range.
    HostPortPublisher defaults;
    const auto db = defaults.publish_ports("db", "10.200.2.4", std::vector{tcp(0, 5432)});
    REQUIRE(db.size() == 1);
    CHECK(db[0].host_port >= 32768);
    CHECK(db[0].host_port <= 60999);
}

TEST_CASE_METHOD(FreshNetns, "the chosen port avoids published ports and listening sockets; a full range is a port_conflict",
                 "[automatic][conflict]")
{
    const Range range{21000, 21003};
    HostPortPublisher publisher(in_range(range.first, range.last));
    publisher.publish_ports("explicit", "10.88.0.2", std::vector{tcp(21000, 80)});
    const HostListener listening(21001);
    const auto first = publisher.publish_ports("a", "10.88.0.3", std::vector{tcp(0, 80)});
    const auto second = publisher.publish_ports("b", "10.88.0.4", std::vector{tcp(0, 80)});
    REQUIRE(first.size() == 1);
    REQUIRE(second.size() == 1);
    CHECK(std::set<std::uint16_t>{first[0].host_port, second[0].host_port} == std::set<std::uint16_t>{21002, 21003});

    // Full: refused, and nothing changed, also for a task that already has ports.
    const auto before = ruleset();
    for (const auto& [task, ports] : std::vector<std::pair<std::string, std::vector<PortMapping>>>{
             {"c", {tcp(0, 80)}}, {"a", {tcp(0, 80), tcp(0, 81)}}, {"d", {tcp(30000, 80), tcp(0, 81)}}}) {
        INFO(task);
        const auto error = expect_error([&] { publisher.publish_ports(task, "10.88.0.9", ports); });
        INFO(describe(error));
        CHECK(error.code() == errc::port_conflict);
        CHECK(ruleset() == before);
    }
    CHECK(publisher.published_ports("a") == first);
    CHECK(publisher.published_ports("c").empty());

    // A freed port is free again.
    publisher.unpublish_ports("explicit");
    const auto third = publisher.publish_ports("c", "10.88.0.5", std::vector{tcp(0, 80)});
    REQUIRE(third.size() == 1);
    CHECK(third[0].host_port == 21000);
}

TEST_CASE_METHOD(FreshNetns, "an exhausted range gives port_conflict and changes nothing", "[automatic][conflict]")
{
    HostPortPublisher publisher(in_range(22000, 22001));
    // More automatic ports in one request than the range has: nothing is published.
    const auto error = expect_error([&] {
        publisher.publish_ports("big", "10.88.0.2", std::vector{tcp(0, 80), tcp(0, 81), tcp(0, 82)});
    });
    INFO(describe(error));
    CHECK(error.code() == errc::port_conflict);
    CHECK(tables().empty());

    const auto both = publisher.publish_ports("a", "10.88.0.2", std::vector{tcp(0, 80), tcp(0, 81)});
    REQUIRE(both.size() == 2);
    CHECK(std::set<std::uint16_t>{both[0].host_port, both[1].host_port} == std::set<std::uint16_t>{22000, 22001});
    const auto before = ruleset();
    const auto full = expect_error([&] { publisher.publish_ports("b", "10.88.0.3", std::vector{tcp(0, 80)}); });
    INFO(describe(full));
    CHECK(full.code() == errc::port_conflict);
    CHECK(ruleset() == before);
    // UDP is another protocol's range of the same numbers.
    const auto dns = publisher.publish_ports("b", "10.88.0.3", std::vector{udp(0, 53)});
    REQUIRE(dns.size() == 1);
    CHECK(within(Range{22000, 22001}, dns[0].host_port));
}

TEST_CASE_METHOD(FreshNetns, "a dual-stack task gets one automatic port number in both families",
                 "[automatic][traffic][dual-stack]")
{
    const DualStackNet n;
    const Range range{23000, 23999};
    HostPortPublisher publisher(in_range(range.first, range.last));
    const auto published = publisher.publish_ports(
        "web", first_addresses,
        std::vector{tcp(0, tcp_container_port), on(Net::host_client_side_ipv6, udp(0, udp_container_port))});
    INFO(::Catch::Detail::stringify(published));
    REQUIRE(published.size() == 2);
    const auto port = published[0].host_port;
    CHECK(published[0] == tcp(port, tcp_container_port));
    CHECK(within(range, port));
    CHECK(published[1].host_ip == Net::host_client_side_ipv6);
    CHECK(within(range, published[1].host_port));
    CHECK(publisher.published_ports("web") == published);

    std::map<std::string, std::uint16_t> tcp_by_family;
    for (const auto& p : HostPortPublisher().all_published_ports())
        if (p.mapping.protocol == Protocol::tcp)
            tcp_by_family[p.container_ip] = p.mapping.host_port;
    CHECK(tcp_by_family == std::map<std::string, std::uint16_t>{{Net::first_ip, port}, {Net::first_ipv6, port}});

    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto a = addresses_of(family);
        INFO(name_of(family));
        expect_reaches(n.net.client, Transport::tcp, a.host_client_side, port, n.first.tcp, a.host_bridge);
    }
    expect_reaches(n.net.client, Transport::udp, Net::host_client_side_ipv6, published[1].host_port, n.first.udp,
                   Net::host_bridge_ipv6);
}

TEST_CASE_METHOD(FreshNetns, "two publishers in two threads racing for automatic ports get distinct ones",
                 "[automatic][concurrency]")
{
    constexpr int tasks = 14;
    const Range range{40000, 40019};
    std::vector<std::string> reports(2);
    {
        HostPortPublisher first(in_range(range.first, range.last));
        HostPortPublisher second(in_range(range.first, range.last));
        std::thread a([&] { reports[0] = race(first, 0, tasks); });
        std::thread b([&] { reports[1] = race(second, 1, tasks); });
        a.join();
        b.join();
    }
    INFO("racer 0:\n" << reports[0] << "racer 1:\n" << reports[1]);
    check_race(reports, range, 2 * tasks);
}

TEST_CASE_METHOD(FreshNetns, "two processes racing for automatic ports get distinct ones", "[automatic][concurrency][process]")
{
    constexpr int tasks = 14;
    const Range range{41000, 41019};
    int go[2];
    REQUIRE(pipe(go) == 0);
    const auto racer = [&](int id) {
        return [=](int report) {
            close(go[1]);
            HostPortPublisher publisher(in_range(range.first, range.last));
            char byte;
            [[maybe_unused]] const auto ignored = read(go[0], &byte, 1);  // EOF: the parent says go
            write_all(report, race(publisher, id, tasks));
            return 0;
        };
    };
    ForkedChild p0(racer(0));
    ForkedChild p1(racer(1));
    close(go[0]);
    close(go[1]);
    CHECK(p0.wait() == 0);
    CHECK(p1.wait() == 0);
    INFO("process 0:\n" << p0.report() << "process 1:\n" << p1.report());
    check_race({p0.report(), p1.report()}, range, 2 * tasks);
}
