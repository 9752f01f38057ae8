// SPDX-License-Identifier: Apache-2.0
#include "publisher/validation.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "ports.hpp"

#include <string>
#include <vector>

using namespace warren::nft;

namespace {

// Runs `f`, expects errc::invalid_argument, and returns the message for further checks.
template <typename F>
std::string refusal(F&& f)
{
    try {
        f();
    } catch (const Error& e) {
        CHECK(e.code() == errc::invalid_argument);
        CHECK(e.kernel_errno() == 0);
        return e.what();
    }
    FAIL("no error was raised");
    return {};
}

}  // namespace

TEST_CASE("task ids are checked before anything is sent", "[validation]")
{
    CHECK_NOTHROW(validation::check_task_id("task-abc123"));
    CHECK_NOTHROW(validation::check_task_id("svc.web_1:replica@node/2+x"));
    CHECK_NOTHROW(validation::check_task_id(std::string(64, 'a')));

    CHECK_THAT(refusal([] { validation::check_task_id(""); }), Catch::Contains("empty"));
    CHECK_THAT(refusal([] { validation::check_task_id(std::string(65, 'a')); }), Catch::Contains("at most 64"));
    CHECK_THAT(refusal([] { validation::check_task_id("task\"x"); }), Catch::Contains("task id"));
    CHECK_THAT(refusal([] { validation::check_task_id("task'x"); }), Catch::Contains("contains"));
    CHECK_THAT(refusal([] { validation::check_task_id("a b"); }), Catch::Contains("contains \" \""));
    CHECK_THAT(refusal([] { validation::check_task_id("tab\there"); }), Catch::Contains("\\x09"));
    CHECK_THAT(refusal([] { validation::check_task_id(std::string("nul\0x", 5)); }), Catch::Contains("\\x00"));
    CHECK_THAT(refusal([] { validation::check_task_id("x=y"); }), Catch::Contains("only letters, digits"));
}

TEST_CASE("container IPs must be unicast IPv4 addresses", "[validation]")
{
    CHECK(validation::parse_container_ip("10.88.0.5") == layout::Ipv4{10, 88, 0, 5});
    CHECK(validation::parse_container_ip("192.168.1.254") == layout::Ipv4{192, 168, 1, 254});

    CHECK_THAT(refusal([] { validation::parse_container_ip("fd00::5"); }), Catch::Contains("IPv6"));
    CHECK_THAT(refusal([] { validation::parse_container_ip("::ffff:10.0.0.1"); }), Catch::Contains("IPv6"));
    for (const char* bad : {"", "10.0.0", "10.0.0.256", "256.1.1.1", "10.0.0.1 ", " 10.0.0.1", "10.0.0.1/24",
                            "010.0.0.1x", "host.example", "10..0.1"}) {
        INFO(bad);
        CHECK_THAT(refusal([&] { validation::parse_container_ip(bad); }), Catch::Contains("not an IPv4 address"));
    }
    CHECK_THAT(refusal([] { validation::parse_container_ip(std::string("10.0.0.1\0", 9)); }),
               Catch::Contains("not an IPv4 address"));
    for (const char* unusable : {"0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255"}) {
        INFO(unusable);
        CHECK_THAT(refusal([&] { validation::parse_container_ip(unusable); }), Catch::Contains("cannot receive"));
    }
}

TEST_CASE("port lists are checked and ordered", "[validation]")
{
    const std::vector<PortMapping> ports{{443, 8443, Protocol::tcp, PublishMode::host, "https"},
                                         {53, 53, Protocol::udp, PublishMode::host, ""},
                                         {80, 8080, Protocol::tcp, PublishMode::host, "http"},
                                         {53, 5353, Protocol::tcp, PublishMode::host, ""}};
    const auto sorted = validation::check_ports(ports);
    REQUIRE(sorted.size() == 4);
    CHECK(sorted[0].host_port == 53);
    CHECK(sorted[0].protocol == Protocol::tcp);
    CHECK(sorted[1].host_port == 80);
    CHECK(sorted[2].host_port == 443);
    CHECK(sorted[3].protocol == Protocol::udp);

    CHECK_THAT(refusal([] { validation::check_ports({}); }), Catch::Contains("no ports"));
    const std::vector<PortMapping> zero_host{test::port(0, 80)};
    CHECK_THAT(refusal([&] { validation::check_ports(zero_host); }), Catch::Contains("host port 0"));
    const std::vector<PortMapping> zero_container{test::port(80, 0)};
    CHECK_THAT(refusal([&] { validation::check_ports(zero_container); }), Catch::Contains("container port 0"));
    const std::vector<PortMapping> duplicate{test::port(80, 80), test::port(81, 81), test::port(80, 8080)};
    CHECK_THAT(refusal([&] { validation::check_ports(duplicate); }), Catch::Contains("80/tcp appears twice"));
    const std::vector<PortMapping> ingress{{80, 80, Protocol::tcp, PublishMode::ingress, ""}};
    CHECK_THAT(refusal([&] { validation::check_ports(ingress); }), Catch::Contains("ingress mode"));
    const std::vector<PortMapping> bad_protocol{{80, 80, static_cast<Protocol>(9), PublishMode::host, ""}};
    CHECK_THAT(refusal([&] { validation::check_ports(bad_protocol); }), Catch::Contains("protocol 9 is unknown"));
    const std::vector<PortMapping> bad_name{{80, 80, Protocol::tcp, PublishMode::host, "web ui"}};
    CHECK_THAT(refusal([&] { validation::check_ports(bad_name); }), Catch::Contains("port name"));
    const std::vector<PortMapping> long_name{{80, 80, Protocol::tcp, PublishMode::host, std::string(33, 'n')}};
    CHECK_THAT(refusal([&] { validation::check_ports(long_name); }), Catch::Contains("at most 32"));
    std::vector<PortMapping> too_many;
    for (unsigned p = 1; p <= HostPortPublisher::max_ports_per_request + 1; ++p)
        too_many.push_back(test::port(static_cast<std::uint16_t>(p), 80));
    CHECK_THAT(refusal([&] { validation::check_ports(too_many); }), Catch::Contains("at most 512"));
    // Same number, other protocol: two different host ports.
    const std::vector<PortMapping> both{{53, 53, Protocol::tcp, PublishMode::host, ""}, {53, 53, Protocol::udp, PublishMode::host, ""}};
    CHECK(validation::check_ports(both).size() == 2);
}
