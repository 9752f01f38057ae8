// SPDX-License-Identifier: Apache-2.0
// Ports for the host's own processes: bound to 127.0.0.1, they reach the container from the host
// and from nowhere else, not even from a neighbour that routes 127.0.0.1 to the host
// (CVE-2020-8558); wildcard ports reach 127.0.0.1 only when asked to; route_localnet is turned on
// only where the container is reached; ::1 cannot be published.
#include "dual_stack_support.hpp"

#include <filesystem>
#include <map>
#include <regex>

using namespace kt;

namespace {

// net.ipv4.conf.<name>.route_localnet of every interface of the calling thread's namespace, and
// of `all` and `default`.
std::map<std::string, std::string> route_localnet_settings()
{
    std::map<std::string, std::string> settings;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/sys/net/ipv4/conf")) {
        const auto name = entry.path().filename().string();
        settings[name] = read_net_sysctl("net/ipv4/conf/" + name + "/route_localnet");
    }
    return settings;
}

std::string settings_text(const std::map<std::string, std::string>& settings)
{
    std::string text;
    for (const auto& [name, value] : settings)
        text += name + "=" + value.substr(0, value.find('\n')) + " ";
    return text;
}

// Counts the packets addressed to 127.0.0.0/8 that arrive from the client, as they come in on the
// host's link (the ingress hook, before any IP hook where the publisher's rules could drop them):
// the proof that what a test finds dropped did reach the host.
class LoopbackArrivals {
public:
    LoopbackArrivals()
    {
        nft_script(std::string("table netdev kt_probe {\n  chain ingress { type filter hook ingress device \"") +
                   Net::client_link + "\" priority 0; policy accept;\n    ip daddr 127.0.0.0/8 counter\n  }\n}\n");
    }
    long packets() const
    {
        const auto listing = nft({"list", "chain", "netdev", "kt_probe", "ingress"});
        std::smatch match;
        if (!std::regex_search(listing, match, std::regex("counter packets ([0-9]+)")))
            throw std::runtime_error("no counter in:\n" + listing);
        return std::stol(match[1]);
    }
};

constexpr const char* loopback = "127.0.0.1";

}  // namespace

TEST_CASE_METHOD(FreshNetns, "a port bound to 127.0.0.1 reaches the container from the host itself, and nowhere else",
                 "[traffic][localhost]")
{
    const DualStackNet n;
    const auto before = route_localnet_settings();
    HostPortPublisher publisher;
    publisher.publish_ports(
        "db", first_addresses,
        std::vector{on(loopback, tcp(tcp_host_port, tcp_container_port)), on(loopback, udp(udp_host_port, udp_container_port))});

    for (const auto transport : {Transport::tcp, Transport::udp}) {
        const auto port = host_port_of(transport);
        // The loopback source is masqueraded: a container cannot answer 127.0.0.1.
        expect_reaches(n.net.host, transport, loopback, port, n.first.on(transport), Net::host_bridge_ip);
        // Not on the host's addresses, of either family, from the host or from the client.
        for (const auto* ip : {Net::host_client_side_ip, Net::host_bridge_ip, Net::host_client_side_ipv6}) {
            expect_no_answer(n.net.host, transport, ip, port, all_echoes(n));
            expect_no_answer(n.net.client, transport, ip, port, all_echoes(n));
        }
    }

    // route_localnet (which lets 127.0.0.1 leave the host towards the container) is on for the
    // interface that leads to the container, and nowhere else.
    const auto after = route_localnet_settings();
    INFO("route_localnet before: " << settings_text(before) << "\nafter: " << settings_text(after));
    CHECK(after.at(Net::bridge) == "1\n");
    for (const auto& [name, value] : before)
        if (name != Net::bridge)
            CHECK(after.at(name) == value);
    CHECK(after.at("all") == "0\n");
    CHECK(after.at("default") == "0\n");
}

TEST_CASE_METHOD(FreshNetns, "a neighbour that routes 127.0.0.1 to the host reaches no published port through it (CVE-2020-8558)",
                 "[traffic][localhost][security]")
{
    const DualStackNet n;
    n.net.route_client_loopback_to_host();
    const LoopbackArrivals arrivals;
    const bool wildcard_on_localhost = GENERATE(false, true);
    INFO("wildcard_on_localhost " << wildcard_on_localhost);
    HostPortPublisher publisher(PublisherOptions{.wildcard_on_localhost = wildcard_on_localhost});
    constexpr std::uint16_t wildcard_port = 18090;
    publisher.publish_ports(
        "db", first_addresses,
        std::vector{on(loopback, tcp(tcp_host_port, tcp_container_port)), on(loopback, udp(udp_host_port, udp_container_port)),
                    tcp(wildcard_port, tcp_container_port)});
    // Published: the host reaches the bound port, the client the wildcard one on the host's address.
    expect_reaches(n.net.host, Transport::tcp, loopback, tcp_host_port, n.first.tcp, Net::host_bridge_ip);
    expect_reaches(n.net.client, Transport::tcp, Net::host_client_side_ip, wildcard_port, n.first.tcp, Net::host_bridge_ip);

    const auto arrived = arrivals.packets();
    expect_no_answer(n.net.client, Transport::tcp, loopback, tcp_host_port, all_echoes(n));
    expect_no_answer(n.net.client, Transport::udp, loopback, udp_host_port, all_echoes(n));
    expect_no_answer(n.net.client, Transport::tcp, loopback, wildcard_port, all_echoes(n));
    // They did arrive: the host dropped them.
    CHECK(arrivals.packets() >= arrived + 3);
}

TEST_CASE_METHOD(FreshNetns, "a wildcard port is reachable via 127.0.0.1 from the host only with wildcard_on_localhost",
                 "[traffic][localhost]")
{
    const DualStackNet n;
    const auto before = route_localnet_settings();
    const bool wildcard_on_localhost = GENERATE(false, true);
    INFO("wildcard_on_localhost " << wildcard_on_localhost);
    HostPortPublisher publisher(PublisherOptions{.wildcard_on_localhost = wildcard_on_localhost});
    publisher.publish_ports("web", first_addresses,
                            std::vector{tcp(tcp_host_port, tcp_container_port), udp(udp_host_port, udp_container_port)});

    for (const auto transport : {Transport::tcp, Transport::udp}) {
        const auto port = host_port_of(transport);
        expect_reaches(n.net.host, transport, Net::host_client_side_ip, port, n.first.on(transport), Net::host_bridge_ip);
        if (wildcard_on_localhost) {
            expect_reaches(n.net.host, transport, loopback, port, n.first.on(transport), Net::host_bridge_ip);
        } else {
            expect_no_answer(n.net.host, transport, loopback, port, all_echoes(n));
        }
    }
    if (!wildcard_on_localhost) {
        // The host's own service on 127.0.0.1 keeps the port.
        const Echo local(n.net.host, Transport::tcp, tcp_host_port, "host-service");
        expect_reaches(n.net.host, Transport::tcp, loopback, tcp_host_port, local, loopback);
    }

    const auto after = route_localnet_settings();
    INFO("route_localnet before: " << settings_text(before) << "\nafter: " << settings_text(after));
    if (wildcard_on_localhost)
        CHECK(after.at(Net::bridge) == "1\n");
    for (const auto& [name, value] : before)
        if (name != Net::bridge)
            CHECK(after.at(name) == value);
}

TEST_CASE_METHOD(FreshNetns, "host_ip ::1 is refused, saying that the kernel cannot NAT IPv6 loopback, and changes nothing",
                 "[localhost][bad-input][ipv6]")
{
    HostPortPublisher publisher;
    publisher.publish_ports("web", first_addresses, std::vector{tcp(tcp_host_port, tcp_container_port)});
    const auto ruleset_before = ruleset();

    MonitorLog log;
    for (const auto& container : {first_addresses, ContainerAddresses{"", Net::second_ipv6}}) {
        log = monitor_transactions([&] {
            const auto e =
                expect_error([&] { publisher.publish_ports("db", container, std::vector{on("::1", tcp(15432, 5432))}); });
            INFO(describe(e));
            CHECK(e.code() == errc::invalid_argument);
            CHECK(e.kernel_errno() == 0);
            const std::string what = e.what();
            CHECK(what.find("::1") != std::string::npos);
            CHECK(what.find("loopback") != std::string::npos);
            CHECK(what.find("kernel") != std::string::npos);
        });
        INFO("nft monitor:\n" << log.text);
        CHECK(log.generations == 0);
    }
    // The public check says the same, before any socket.
    const auto e = expect_error([] { warren::nft::validate_host_ip("::1"); });
    CHECK(e.code() == errc::invalid_argument);
    CHECK(ruleset() == ruleset_before);
    CHECK(publisher.published_ports("db").empty());
}
