// SPDX-License-Identifier: Apache-2.0
// Access policies of published ports (AccessPolicy) with real traffic: sources outside an
// allow-list are dropped in both families, the connection limit holds with N+1 clients, the rate
// limit drops the excess of a burst; a policy changes with its ports in one transaction, goes with
// them, reads back canonical (also in a publisher that adopts the table), and a bad one changes
// nothing.
#include "dual_stack_support.hpp"
#include "socket_address.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <utility>

using namespace kt;

namespace {

using warren::nft::AccessPolicy;
using warren::nft::RateUnit;

// A dropped SYN is answered by nothing; the namespaces answer an accepted one within milliseconds.
constexpr std::chrono::milliseconds connect_wait{400};
// How long a limit may take to let a connection through again once it should (conntrack marks a
// closed connection at once, but nf_conncount collects it at its own pace).
constexpr std::chrono::seconds settle{5};

// A TCP socket that is closed with RST (SO_LINGER 0): its conntrack entry is closed at once, and no
// TIME_WAIT keeps it around.
class Client {
public:
    explicit Client(int fd) : fd_(fd) {}
    Client(Client&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Client& operator=(Client&&) = delete;
    Client(const Client&) = delete;
    ~Client()
    {
        if (fd_ < 0)
            return;
        const linger reset{1, 0};
        setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        close(fd_);
    }
    int fd() const { return fd_; }

private:
    int fd_ = -1;
};

// What a burst of connection attempts got: those established (kept open), and why the others failed.
struct Burst {
    std::vector<Client> open;
    std::size_t timed_out = 0;
    std::size_t failed = 0;  // refused, unreachable, ...
    std::string first_error;
};

// Starts `count` TCP connections at once from `source` (an address of `from`) to ip:port and waits
// up to `wait` for them; those not established by then count as timed out (a dropped SYN).
Burst connect_burst(const Netns& from, const std::string& source, const std::string& ip, std::uint16_t port, std::size_t count,
                    std::chrono::milliseconds wait = connect_wait)
{
    const auto target = socket_address(ip, port);
    const auto local = socket_address(source, 0);
    std::vector<Client> pending;
    Burst burst;
    for (std::size_t i = 0; i < count; ++i) {
        Client client(from.run([&] { return socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }));
        REQUIRE(client.fd() >= 0);
        REQUIRE(bind(client.fd(), local.get(), local.length) == 0);
        if (connect(client.fd(), target.get(), target.length) != 0 && errno != EINPROGRESS) {
            ++burst.failed;
            burst.first_error = burst.first_error.empty() ? std::strerror(errno) : burst.first_error;
            continue;
        }
        pending.push_back(std::move(client));
    }
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!pending.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            break;
        std::vector<pollfd> polled;
        for (const auto& client : pending)
            polled.push_back(pollfd{client.fd(), POLLOUT, 0});
        if (poll(polled.data(), polled.size(), static_cast<int>(left.count())) <= 0)
            continue;
        std::vector<Client> still;
        for (std::size_t i = 0; i < pending.size(); ++i) {
            if (polled[i].revents == 0) {
                still.push_back(std::move(pending[i]));
                continue;
            }
            int error = 0;
            socklen_t length = sizeof error;
            getsockopt(pending[i].fd(), SOL_SOCKET, SO_ERROR, &error, &length);
            if (error == 0) {
                burst.open.push_back(std::move(pending[i]));
            } else {
                ++burst.failed;
                burst.first_error = burst.first_error.empty() ? std::strerror(error) : burst.first_error;
            }
        }
        pending = std::move(still);
    }
    burst.timed_out = pending.size();
    return burst;
}

std::string summary(const Burst& burst)
{
    return std::to_string(burst.open.size()) + " open, " + std::to_string(burst.timed_out) + " timed out, " +
           std::to_string(burst.failed) + " failed" + (burst.first_error.empty() ? "" : " (" + burst.first_error + ")");
}

// One connection: established, or dropped (timed out); anything else fails the test.
enum class Outcome { established, dropped };
std::ostream& operator<<(std::ostream& out, Outcome outcome)
{
    return out << (outcome == Outcome::established ? "established" : "dropped");
}
Outcome connect_once(const Netns& from, const std::string& source, const std::string& ip, std::uint16_t port)
{
    const auto burst = connect_burst(from, source, ip, port, 1);
    INFO("from " << source << " to " << ip << " port " << port << ": " << summary(burst));
    REQUIRE(burst.failed == 0);
    return burst.open.empty() ? Outcome::dropped : Outcome::established;
}

// A connection from `source` gets through before `settle` passes (a limit lets it through again).
std::optional<Client> connect_eventually(const Netns& from, const std::string& source, const std::string& ip, std::uint16_t port)
{
    const auto deadline = std::chrono::steady_clock::now() + settle;
    while (std::chrono::steady_clock::now() < deadline) {
        auto burst = connect_burst(from, source, ip, port, 1);
        if (!burst.open.empty())
            return std::move(burst.open.front());
    }
    return std::nullopt;
}

// A TCP listener in a namespace, on every address of both families, that never accepts: the kernel
// completes each handshake into its queue, so connections stay established until the client resets
// them.
class HoldingListener {
public:
    HoldingListener(const Netns& netns, std::uint16_t port)
    {
        fd_ = netns.run([] { return socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0); });
        REQUIRE(fd_ >= 0);
        const int off = 0;
        const int on = 1;
        setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        const auto address = any_address(AF_INET6, port);
        REQUIRE(bind(fd_, address.get(), address.length) == 0);
        REQUIRE(listen(fd_, 512) == 0);
    }
    ~HoldingListener() { close(fd_); }
    HoldingListener(const HoldingListener&) = delete;
    HoldingListener& operator=(const HoldingListener&) = delete;

private:
    int fd_ = -1;
};

// The client's second address in each family (the first is Net::client_ip / client_ipv6).
constexpr const char* other_client_ip = "10.200.1.3";
constexpr const char* other_client_ipv6 = "fd00:200:1::3";

void add_second_client_addresses(const Net& net)
{
    for (const std::vector<std::string>& argv :
         {std::vector<std::string>{"ip", "addr", "add", std::string(other_client_ip) + "/24", "dev", "eth0"},
          std::vector<std::string>{"ip", "-6", "addr", "add", std::string(other_client_ipv6) + "/64", "dev", "eth0", "nodad"}}) {
        Command command;
        command.argv = argv;
        command.netns = &net.client;
        check_output(command);
    }
}

struct Sources {
    std::string allowed, other;
};
Sources client_sources(Family family)
{
    return family == Family::ipv4 ? Sources{Net::client_ip, other_client_ip} : Sources{Net::client_ipv6, other_client_ipv6};
}

PortMapping with(AccessPolicy access, PortMapping mapping)
{
    mapping.access = std::move(access);
    return mapping;
}

constexpr std::uint16_t held_port = 8080;  // the container's holding listener
constexpr std::uint16_t policed_port = 18080;
constexpr std::uint16_t open_port = 18081;
constexpr std::uint16_t bound_port = 18082;

// The policy sets of both tables, as `nft -j list ruleset` shows them: set name -> the JSON text of
// each element, per family ("ip", "ip6").
const std::set<std::string> policy_sets{"policed", "bound_policed", "allowed", "bound_allowed"};
std::map<std::string, std::vector<std::string>> policy_elements()
{
    std::map<std::string, std::vector<std::string>> out;
    const auto listing = nlohmann::json::parse(nft({"-j", "list", "ruleset"}));
    for (const auto& object : listing.at("nftables")) {
        if (!object.contains("set"))
            continue;
        const auto& set = object.at("set");
        if (set.value("table", "") != "warren" || !policy_sets.contains(set.value("name", "")))
            continue;
        auto& elements = out[set.at("family").get<std::string>() + " " + set.at("name").get<std::string>()];
        if (set.contains("elem"))
            for (const auto& element : set.at("elem"))
                elements.push_back(element.dump());
    }
    return out;
}

// The ports both allow-list tests publish: one with `policy`, one open, and one bound to each
// family's host address that only the client may reach.
std::vector<PortMapping> web_ports(const AccessPolicy& policy)
{
    return {with(policy, tcp(policed_port, held_port)), tcp(open_port, held_port),
            with(AccessPolicy{.allow = {Net::client_ip}}, on(Net::host_client_side_ip, tcp(bound_port, held_port))),
            with(AccessPolicy{.allow = {Net::client_ipv6}}, on(Net::host_client_side_ipv6, tcp(bound_port, held_port)))};
}

// How many elements of the policy sets mention `port` (their keys hold the protocol and port).
std::size_t policy_elements_of(std::uint16_t port)
{
    std::size_t count = 0;
    const auto needle = std::to_string(port);
    for (const auto& [set, elements] : policy_elements())
        for (const auto& element : elements)
            count += element.find(needle) != std::string::npos ? 1 : 0;
    return count;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "an allow-list lets its sources connect and drops the others, in both families",
                 "[policy][traffic][dual-stack]")
{
    const Net net;
    add_second_client_addresses(net);
    HoldingListener listener(net.first, held_port);
    const AccessPolicy only_client{.allow = {Net::client_ip, std::string(Net::client_ipv6) + "/128"}};
    HostPortPublisher publisher;
    publisher.publish_ports("web", first_addresses, web_ports(only_client));

    for (const auto family : {Family::ipv4, Family::ipv6}) {
        const auto a = addresses_of(family);
        const auto sources = client_sources(family);
        INFO(name_of(family));
        for (const auto port : {policed_port, bound_port}) {
            INFO("port " << port);
            CHECK(connect_once(net.client, sources.allowed, a.host_client_side, port) == Outcome::established);
            CHECK(connect_once(net.client, sources.other, a.host_client_side, port) == Outcome::dropped);
        }
        // A port without a policy takes every source.
        CHECK(connect_once(net.client, sources.other, a.host_client_side, open_port) == Outcome::established);
        // The host's own connections are policed too: its address is not on the list.
        CHECK(connect_once(net.host, a.host_client_side, a.host_client_side, policed_port) == Outcome::dropped);
        CHECK(connect_once(net.host, a.host_client_side, a.host_client_side, open_port) == Outcome::established);
    }

    // Published again with the client's whole networks, the other addresses get through too.
    publisher.publish_ports(
        "web", first_addresses,
        std::vector{with(AccessPolicy{.allow = {"10.200.1.0/24", "fd00:200:1::/64"}}, tcp(policed_port, held_port))});
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        INFO(name_of(family));
        const auto a = addresses_of(family);
        CHECK(connect_once(net.client, client_sources(family).other, a.host_client_side, policed_port) == Outcome::established);
        // The host's address on the client's network is in those networks now; its other one is not.
        CHECK(connect_once(net.host, a.host_client_side, a.host_client_side, policed_port) == Outcome::established);
        CHECK(connect_once(net.host, a.host_bridge, a.host_client_side, policed_port) == Outcome::dropped);
    }

    // CIDRs of lengths the police chain does not look up (/31, /127 are held as their /32, /128
    // halves): their addresses get through, their neighbours do not.
    publisher.publish_ports(
        "web", first_addresses,
        std::vector{with(AccessPolicy{.allow = {"10.200.1.2/31", "fd00:200:1::2/127"}}, tcp(policed_port, held_port))});
    for (const auto family : {Family::ipv4, Family::ipv6}) {
        INFO(name_of(family));
        const auto a = addresses_of(family);
        CHECK(connect_once(net.client, client_sources(family).allowed, a.host_client_side, policed_port) == Outcome::established);
        CHECK(connect_once(net.client, client_sources(family).other, a.host_client_side, policed_port) == Outcome::established);
        CHECK(connect_once(net.host, a.host_client_side, a.host_client_side, policed_port) == Outcome::dropped);
    }
}

TEST_CASE_METHOD(FreshNetns, "the connection limit holds with N+1 clients, and a closed connection makes room",
                 "[limits][policy][traffic][dual-stack]")
{
    constexpr std::uint32_t limit = 3;
    const Net net;
    HoldingListener listener(net.first, held_port);
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const bool bound = GENERATE(false, true);
    const auto a = addresses_of(family);
    const auto client = client_sources(family).allowed;
    INFO(name_of(family) << (bound ? ", bound to the host's address" : ", on every address"));
    auto limited = with(AccessPolicy{.max_connections = limit}, tcp(policed_port, held_port));
    if (bound)
        limited.host_ip = a.host_client_side;
    HostPortPublisher publisher;
    publisher.publish_ports("web", first_addresses, std::vector{limited, tcp(open_port, held_port)});

    auto held = connect_burst(net.client, client, a.host_client_side, policed_port, limit);
    INFO("first " << limit << ": " << summary(held));
    REQUIRE(held.open.size() == limit);
    // The N+1th is dropped while the N stay open, whichever source it comes from.
    CHECK(connect_once(net.client, client, a.host_client_side, policed_port) == Outcome::dropped);
    CHECK(connect_once(net.host, a.host_client_side, a.host_client_side, policed_port) == Outcome::dropped);
    // Another port of the task is not affected.
    CHECK(connect_burst(net.client, client, a.host_client_side, open_port, limit + 2).open.size() == limit + 2);

    // One closed (reset): one more gets through, and then the limit holds again.
    held.open.pop_back();
    auto replacement = connect_eventually(net.client, client, a.host_client_side, policed_port);
    CHECK(replacement.has_value());
    CHECK(connect_once(net.client, client, a.host_client_side, policed_port) == Outcome::dropped);

    // All closed: N at once again.
    held.open.clear();
    replacement.reset();
    auto first_again = connect_eventually(net.client, client, a.host_client_side, policed_port);
    REQUIRE(first_again.has_value());
    const auto deadline = std::chrono::steady_clock::now() + settle;
    std::vector<Client> again;
    again.push_back(std::move(*first_again));
    while (again.size() < limit && std::chrono::steady_clock::now() < deadline)
        for (auto& c : connect_burst(net.client, client, a.host_client_side, policed_port, 1).open)
            again.push_back(std::move(c));
    CHECK(again.size() == limit);
}

TEST_CASE_METHOD(FreshNetns, "the rate limit lets about `rate` of a burst through and drops the rest",
                 "[limits][policy][traffic][dual-stack]")
{
    constexpr std::uint32_t rate = 10;
    const Net net;
    HoldingListener listener(net.first, held_port);
    const auto family = GENERATE(Family::ipv4, Family::ipv6);
    const auto a = addresses_of(family);
    const auto client = client_sources(family).allowed;
    INFO(name_of(family));
    HostPortPublisher publisher;
    publisher.publish_ports(
        "web", first_addresses,
        std::vector{with(AccessPolicy{.rate = rate, .rate_unit = RateUnit::second}, tcp(policed_port, held_port)),
                    with(AccessPolicy{.rate = rate, .rate_unit = RateUnit::hour}, tcp(open_port, held_port))});

    // Three times the rate at once: the burst allowance (`rate`) passes, plus what the bucket refills
    // while the burst is under way (a tenth of a second is one more); the rest is dropped.
    const auto burst = connect_burst(net.client, client, a.host_client_side, policed_port, 3 * rate);
    INFO(summary(burst));
    CHECK(burst.failed == 0);
    CHECK(burst.open.size() >= rate);
    CHECK(burst.open.size() <= rate + rate / 2);
    CHECK(burst.timed_out == 3 * rate - burst.open.size());

    // Per hour, the bucket does not refill within the test: exactly `rate` get through.
    const auto hourly = connect_burst(net.client, client, a.host_client_side, open_port, 3 * rate);
    INFO("per hour: " << summary(hourly));
    CHECK(hourly.open.size() == rate);
    CHECK(connect_once(net.client, client, a.host_client_side, open_port) == Outcome::dropped);

    // Per second, it refills: new connections get through again.
    CHECK(connect_eventually(net.client, client, a.host_client_side, policed_port).has_value());
}

TEST_CASE_METHOD(FreshNetns, "a policy changes with its ports in one transaction and goes with them", "[policy]")
{
    HostPortPublisher publisher;
    const warren::nft::ContainerAddresses dual{"10.88.0.2", "fd00::2"};
    const AccessPolicy first{.allow = {"10.0.0.0/8", "2001:db8::/32"}, .max_connections = 10};
    publisher.publish_ports("web", dual, std::vector{with(first, tcp(policed_port, 80))});
    publisher.publish_ports("api", "10.88.0.3",
                            std::vector{with(AccessPolicy{.allow = {"192.0.2.0/24"}, .rate = 5}, tcp(18090, 80))});
    const auto web_elements = policy_elements_of(policed_port);
    const auto api_elements = policy_elements_of(18090);
    INFO(nft({"list", "ruleset"}));
    CHECK(web_elements > 0);
    CHECK(api_elements > 0);

    // Another policy and another port: one transaction.
    const AccessPolicy second{.allow = {"10.0.0.0/8", "172.16.0.0/12", "::/0"}, .rate = 100, .rate_unit = RateUnit::minute};
    const auto log = monitor_transactions([&] {
        publisher.publish_ports("web", dual,
                                std::vector{with(second, tcp(policed_port, 80)), with(second, udp(policed_port, 53))});
    });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    CHECK(publisher.published_ports("web") ==
          std::vector{with(second, tcp(policed_port, 80)), with(second, udp(policed_port, 53))});
    const auto ipv4 = nft({"list", "table", "ip", "warren"});
    INFO(ipv4);
    // Each CIDR as its first and last address.
    CHECK(ipv4.find("tcp . 18080 . 172.16.0.0 . 172.31.255.255") != std::string::npos);
    CHECK(ipv4.find("udp . 18080 . 172.16.0.0 . 172.31.255.255") != std::string::npos);
    CHECK(ipv4.find("100/minute") != std::string::npos);

    // Unpublished: none of the task's elements is left, the other task's all are.
    publisher.unpublish_ports("web");
    CHECK(policy_elements_of(policed_port) == 0);
    CHECK(policy_elements_of(18090) == api_elements);
    publisher.unpublish_ports("api");
    for (const auto& [set, elements] : policy_elements()) {
        INFO(set);
        CHECK(elements.empty());
    }
    CHECK(nft({"list", "table", "ip", "warren"}).find("192.0.2.0 . 192.0.2.255") == std::string::npos);
}

TEST_CASE_METHOD(FreshNetns, "a policy reads back canonical, from the publisher and from one that adopts the table", "[policy]")
{
    sandbox::add_loopback_addresses({"10.200.1.1"});
    const warren::nft::ContainerAddresses dual{"10.88.0.2", "fd00::2"};
    const AccessPolicy asked{
        .allow = {"192.0.2.77/24", "10.1.2.3/8", "10.200.0.0/16", "2001:db8::1/32", "10.9.9.9", "2001:db8:1::/48", "fd00:1::7",
                  "198.51.100.128/25", "198.51.100.0/25", "203.0.113.32/27", "fd00:8000::/33"},
        .max_connections = 7,
        .rate = 20,
        .rate_unit = RateUnit::hour};
    // Network addresses with their prefix, those inside another left out, two halves of a CIDR
    // merged, in order; lengths the police chain does not look up (/27, /33) read back as given.
    const AccessPolicy canonical{.allow = {"10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.32/27", "2001:db8::/32",
                                           "fd00:1::7/128", "fd00:8000::/33"},
                                 .max_connections = 7,
                                 .rate = 20,
                                 .rate_unit = RateUnit::hour};
    const std::vector<PortMapping> asked_ports{with(asked, tcp(policed_port, 80)),
                                               with(AccessPolicy{.allow = {"10.200.1.2"}}, on("10.200.1.1", udp(bound_port, 53))),
                                               tcp(open_port, 81)};
    const std::vector<PortMapping> expected{
        with(canonical, tcp(policed_port, 80)), tcp(open_port, 81),
        with(AccessPolicy{.allow = {"10.200.1.2/32"}}, on("10.200.1.1", udp(bound_port, 53)))};
    HostPortPublisher publisher;
    const auto returned = publisher.publish_ports("web", dual, asked_ports);
    CHECK(returned == expected);
    CHECK(publisher.published_ports("web") == expected);

    HostPortPublisher adopter;
    CHECK(adopter.published_ports("web") == expected);
    // Per family: each port carries its policy.
    for (const auto& port : adopter.all_published_ports()) {
        INFO(port);
        if (port.mapping.host_port == open_port)
            CHECK(port.mapping.access.empty());
        else
            CHECK_FALSE(port.mapping.access.empty());
        if (port.mapping.host_port == policed_port) {
            CHECK(port.mapping.access.max_connections == 7);
            CHECK(port.mapping.access.rate == 20);
            CHECK(port.mapping.access.rate_unit == RateUnit::hour);
        }
    }
    // Publishing exactly what it read back changes no element (a publisher's first change rewrites
    // the fixed rules, docs/architecture.md), and a second time sends nothing at all.
    const auto first = monitor_transactions([&] { CHECK(adopter.publish_ports("web", dual, expected) == expected); });
    INFO("nft monitor:\n" << first.text);
    CHECK(first.text.find("element") == std::string::npos);
    const auto again = monitor_transactions([&] { CHECK(adopter.publish_ports("web", dual, expected) == expected); });
    INFO("nft monitor:\n" << again.text);
    CHECK(again.generations == 0);
}

TEST_CASE_METHOD(FreshNetns, "bad policies are invalid_argument and change nothing", "[policy][validation]")
{
    HostPortPublisher publisher;
    const warren::nft::ContainerAddresses dual{"10.88.0.2", "fd00::2"};
    const auto bad = [](AccessPolicy access, std::string host_ip = {}) {
        auto mapping = with(std::move(access), tcp(policed_port, 80));
        mapping.host_ip = std::move(host_ip);
        return mapping;
    };
    std::vector<std::string> too_many;
    for (std::size_t i = 0; i <= warren::nft::max_allowed_sources; ++i)
        too_many.push_back("10." + std::to_string(i) + ".0.0/16");
    const std::vector<PortMapping> cases{
        bad({.allow = {"10.0.0.0/33"}}),
        bad({.allow = {"2001:db8::/129"}}),
        bad({.allow = {"10.0.0.0/8/8"}}),
        bad({.allow = {"10.0.0.256"}}),
        bad({.allow = {"nonsense"}}),
        bad({.allow = {""}}),
        bad({.allow = {"10.0.0.0/8", " 10.0.0.1"}}),
        bad({.allow = too_many}),
        // Published in both families, allowed from one.
        bad({.allow = {"10.0.0.0/8"}}),
        bad({.allow = {"2001:db8::/32"}}),
        // Published in one family, allowed only from the other.
        bad({.allow = {"2001:db8::/32"}}, "0.0.0.0"),
        bad({.allow = {"10.0.0.0/8"}}, "::"),
        bad({.max_connections = warren::nft::max_policy_limit + 1}),
        bad({.rate = warren::nft::max_policy_limit + 1}),
    };
    for (const bool with_table : {false, true}) {
        if (with_table)
            publisher.publish_ports("web", dual,
                                    std::vector{with(AccessPolicy{.allow = {"10.0.0.0/8", "::/0"}}, tcp(policed_port, 80))});
        const auto before = ruleset();
        for (const auto& mapping : cases) {
            INFO(mapping << " allow " << mapping.access.allow.size() << " sources, first "
                         << (mapping.access.allow.empty() ? "-" : mapping.access.allow.front()));
            const auto error = expect_error([&] { publisher.publish_ports("web", dual, std::vector{mapping}); });
            INFO(describe(error));
            CHECK(error.code() == errc::invalid_argument);
            CHECK(error.kernel_errno() == 0);
            CHECK(ruleset() == before);
        }
        if (!with_table)
            CHECK(tables().empty());
        // The refusals changed nothing the publisher reads back either.
        CHECK(HostPortPublisher().all_published_ports().size() == (with_table ? 2u : 0u));
    }
}

namespace {

// The `nft -f` script that turns a family's warren table, as this version writes it, into the
// layout of the version before: ports with a policy marked in sets restricted and bound_restricted
// (`restricted` and `bound_restricted` hold the keys given), looked up by the jumps to the police
// chains, whose chains have no rule for ports without a policy, and no ingress objects. Everything
// else of that layout is as this version writes it.
std::string restricted_layout_script(const std::string& family, const std::string& key_ports, const std::string& bound_key_ports)
{
    const bool ipv4 = family == "ip";
    const std::string address = ipv4 ? "ipv4_addr" : "ipv6_addr";
    const std::string daddr = ipv4 ? "ip daddr" : "ip6 daddr";
    const std::string not_loopback = ipv4 ? "ip daddr != 127.0.0.0/8 " : "ip6 daddr != ::1 ";
    const std::string bound_comment = "warren-nft: check connections to host ports on one address that have an access policy";
    const std::string comment = "warren-nft: check connections to published host ports that have an access policy";
    const std::string table = family + " warren";
    std::string script = without_ingress_script(family) + "add set " + table +
                         " restricted { type inet_proto . inet_service; elements = { " + key_ports + " }; }\n" + "add set " +
                         table + " bound_restricted { type " + address + " . inet_proto . inet_service; elements = { " +
                         bound_key_ports + " }; }\n";
    for (const char* chain : {"police", "bound_police"})
        script += "delete rule " + table + " " + chain + " handle " +
                  rule_handle(family, chain, "warren-nft: let connections to ports without an access policy through") + "\n";
    for (const std::string chain : {"prerouting", "output"}) {
        const auto spare = chain == "output" ? not_loopback : std::string();
        script += "replace rule " + table + " " + chain + " handle " +
                  rule_handle(family, chain,
                              "warren-nft: check new connections to ports published on one address against their access "
                              "policy") +
                  " fib daddr type local " + daddr + " . meta l4proto . th dport @bound_restricted jump bound_police comment \"" +
                  bound_comment + "\"\n";
        script += "replace rule " + table + " " + chain + " handle " +
                  rule_handle(family, chain, "warren-nft: check new connections to published ports against their access policy") +
                  " fib daddr type local " + spare + "meta l4proto . th dport @restricted jump police comment \"" + comment +
                  "\"\n";
    }
    return script;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "a table with the restricted sets is adopted, converted by the next change, and polices throughout",
                 "[policy][traffic][adopt]")
{
    const Net net;
    add_second_client_addresses(net);
    HoldingListener listener(net.first, held_port);
    const AccessPolicy only_client{.allow = {Net::client_ip, std::string(Net::client_ipv6) + "/128"}, .max_connections = 50};
    const auto ports = web_ports(only_client);
    std::vector<PortMapping> expected;
    {
        HostPortPublisher writer;
        writer.publish_ports("web", first_addresses, ports);
        expected = writer.published_ports("web");
    }
    const auto policed = "tcp . " + std::to_string(policed_port);
    nft_script(restricted_layout_script("ip", policed,
                                        std::string(Net::host_client_side_ip) + " . tcp . " + std::to_string(bound_port)) +
               restricted_layout_script("ip6", policed,
                                        std::string(Net::host_client_side_ipv6) + " . tcp . " + std::to_string(bound_port)));
    const auto old_layout = ruleset();
    INFO(old_layout);
    REQUIRE(old_layout.find("@restricted jump police") != std::string::npos);
    REQUIRE(old_layout.find("!= @policed") == std::string::npos);

    const auto check_traffic = [&] {
        for (const auto family : {Family::ipv4, Family::ipv6}) {
            const auto a = addresses_of(family);
            const auto sources = client_sources(family);
            INFO(name_of(family));
            for (const auto port : {policed_port, bound_port}) {
                INFO("port " << port);
                CHECK(connect_once(net.client, sources.allowed, a.host_client_side, port) == Outcome::established);
                CHECK(connect_once(net.client, sources.other, a.host_client_side, port) == Outcome::dropped);
            }
            CHECK(connect_once(net.client, sources.other, a.host_client_side, open_port) == Outcome::established);
        }
    };
    {
        INFO("the table as the version before wrote it");
        check_traffic();
    }

    // Adopted as it is: every port is the task's, with its policy; reading changes nothing (the
    // listing is taken after the traffic, which moves the counters of a table that counts).
    const auto before_adoption = ruleset();
    HostPortPublisher publisher;
    CHECK(publisher.published_ports("web") == expected);
    CHECK(publisher.all_published_ports().size() == 6);
    CHECK(ruleset() == before_adoption);

    // The next change converts both tables in its one transaction; ports and policies stay.
    const auto log = monitor_transactions([&] {
        publisher.publish_ports("db", ContainerAddresses{Net::second_ip, Net::second_ipv6}, std::vector{tcp(18090, 90)});
    });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    const auto converted = ruleset();
    INFO(converted);
    CHECK(converted.find("restricted") == std::string::npos);
    CHECK(converted.find("meta l4proto . th dport != @policed return") != std::string::npos);
    CHECK(publisher.published_ports("web") == expected);
    CHECK(HostPortPublisher().published_ports("web") == expected);
    {
        INFO("the table converted");
        check_traffic();
    }
}

namespace {

// Sends `payload` from `from` to `to` as an IPv4 packet of a protocol without ports (253, for
// experiments) and says whether a raw socket of this (the host's) namespace received it.
bool portless_packet_arrives(const Netns& from, const char* to, const std::string& payload)
{
    constexpr int protocol = 253;
    const int receiver = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, protocol);
    REQUIRE(receiver >= 0);
    const int sender = from.run([] { return socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, protocol); });
    REQUIRE(sender >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    REQUIRE(inet_pton(AF_INET, to, &address.sin_addr) == 1);
    REQUIRE(sendto(sender, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&address), sizeof address) ==
            static_cast<ssize_t>(payload.size()));
    pollfd waiting{receiver, POLLIN, 0};
    bool arrived = false;
    if (poll(&waiting, 1, 1000) == 1) {
        char packet[256];
        const auto length = recv(receiver, packet, sizeof packet, 0);
        // A raw socket receives the IP header too: the payload ends the packet.
        arrived = length >= static_cast<ssize_t>(payload.size()) &&
                  std::string(packet + length - payload.size(), payload.size()) == payload;
    }
    close(sender);
    close(receiver);
    return arrived;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "packets too short to have a port pass the police chain untouched", "[policy][traffic]")
{
    const Topology net;
    HostPortPublisher publisher;
    publisher.publish_ports("web", Topology::container_ip,
                            std::vector{with(AccessPolicy{.allow = {Topology::client_ip}}, tcp(18080, 8080)), tcp(18081, 8080)});
    // A new connection to a local address jumps to the police chain, whose rules read the
    // destination port: with two bytes of transport header there is none to read.
    CHECK(portless_packet_arrives(net.client, Topology::host_client_side_ip, "ab"));
    CHECK(portless_packet_arrives(net.client, Topology::host_client_side_ip, "longer than a port"));
}
