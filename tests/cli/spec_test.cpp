// SPDX-License-Identifier: Apache-2.0
// The argument parsers of warren-nft on their own (no kernel involved): docker's -p syntax with
// addresses of both families and port ranges, --ip once per family, and how messages echo input.
#include "printable.hpp"
#include "spec.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

using warren::cli::format_port_spec;
using warren::cli::parse_port_spec;
using warren::cli::UsageError;
using warren::nft::PortMapping;
using warren::nft::Protocol;

// The one mapping of a spec without a range.
PortMapping parse_one(std::string_view spec)
{
    const auto mappings = parse_port_spec(spec);
    REQUIRE(mappings.size() == 1);
    return mappings.front();
}

// The message of the UsageError that `parse` throws.
template <class Parse>
std::string refusal(Parse&& parse)
{
    try {
        parse();
    } catch (const UsageError& e) {
        return e.what();
    }
    FAIL("no UsageError");
    return {};
}

std::string spec_refusal(std::string_view spec)
{
    return refusal([&] { parse_port_spec(spec); });
}

TEST_CASE("port specs in docker's syntax", "[cli][spec]")
{
    const auto tcp = parse_one("8080:80");
    CHECK(tcp.host_port == 8080);
    CHECK(tcp.container_port == 80);
    CHECK(tcp.protocol == Protocol::tcp);
    CHECK(tcp.host_ip.empty());
    CHECK(parse_one("53:5353/udp").protocol == Protocol::udp);
    CHECK(parse_one("1:65535/sctp").container_port == 65535);
    CHECK(parse_one("65535:1/tcp").host_port == 65535);
    CHECK(parse_one("08080:80").host_port == 8080);
    CHECK(parse_one(":8080:80").host_ip.empty());  // docker's empty HOST_IP: every address

    // One host address, of either family, IPv6 in brackets.
    const auto bound = parse_one("10.1.2.3:8080:80/udp");
    CHECK(bound.host_ip == "10.1.2.3");
    CHECK(bound.host_port == 8080);
    CHECK(bound.container_port == 80);
    CHECK(bound.protocol == Protocol::udp);
    CHECK(parse_one("10.0.0.1:8080:80").host_ip == "10.0.0.1");
    const auto bound6 = parse_one("[2001:db8::10]:8080:80");
    CHECK(bound6.host_ip == "2001:db8::10");
    CHECK(bound6.host_port == 8080);
    CHECK(bound6.container_port == 80);
    CHECK(parse_one("[2001:db8::10]:53:5353/udp").protocol == Protocol::udp);

    // Every address of one family: docker's 0.0.0.0 and [::] are kept, so that each means its
    // family only (an empty host_ip means every family the container has).
    const auto every_ipv4 = parse_one("0.0.0.0:8080:80");
    CHECK(every_ipv4.host_ip == "0.0.0.0");
    CHECK(every_ipv4.host_port == 8080);
    CHECK(parse_one("[::]:8080:80").host_ip == "::");
    CHECK(parse_one("[::]:8080:80/udp").protocol == Protocol::udp);

    // For the host's own processes only.
    const auto local = parse_one("127.0.0.1:5432:5432");
    CHECK(local.host_ip == "127.0.0.1");
    CHECK(local.host_port == 5432);
    CHECK(local.container_port == 5432);

    // Docker accepts an IPv4 address in brackets too.
    CHECK(parse_one("[10.0.0.1]:8080:80").host_ip == "10.0.0.1");

    CHECK(format_port_spec(bound) == "10.1.2.3:8080:80/udp");
    CHECK(format_port_spec(bound6) == "[2001:db8::10]:8080:80/tcp");
    CHECK(format_port_spec(every_ipv4) == "0.0.0.0:8080:80/tcp");
    CHECK(format_port_spec(parse_one("[::]:53:5353/udp")) == "[::]:53:5353/udp");
    CHECK(format_port_spec(tcp) == "8080:80/tcp");
    for (const char* spec : {"8080:80/tcp", "10.1.2.3:8080:80/udp", "[2001:db8::10]:8080:80/sctp", "[::]:1:2/tcp",
                             "0.0.0.0:65535:65535/tcp", "127.0.0.1:5432:5432/tcp"})
        CHECK(format_port_spec(parse_one(spec)) == spec);
}

TEST_CASE("docker's forms for a free host port ask for host port 0", "[cli][spec][automatic]")
{
    // The container port alone: a free host port on every address of the container's families.
    const auto alone = parse_one("80");
    CHECK(alone.host_port == 0);
    CHECK(alone.container_port == 80);
    CHECK(alone.protocol == Protocol::tcp);
    CHECK(alone.host_ip.empty());
    CHECK(parse_one("53/udp").protocol == Protocol::udp);
    CHECK(parse_one("53/udp").host_port == 0);
    // Docker's empty HOST_PORT, with or without an address, and 0.
    for (const char* spec : {":80", "::80", "0:80", "00:80", ":0:80"}) {
        INFO(spec);
        const auto mapping = parse_one(spec);
        CHECK(mapping.host_port == 0);
        CHECK(mapping.container_port == 80);
        CHECK(mapping.host_ip.empty());
    }
    const auto local = parse_one("127.0.0.1::5432");
    CHECK(local.host_ip == "127.0.0.1");
    CHECK(local.host_port == 0);
    CHECK(local.container_port == 5432);
    CHECK(parse_one("10.0.0.1:0:80/sctp") == PortMapping{0, 80, Protocol::sctp, warren::nft::PublishMode::host, "", "10.0.0.1"});
    CHECK(parse_one("0.0.0.0::80").host_ip == "0.0.0.0");
    // IPv6 in brackets, as for explicit host ports.
    const auto every6 = parse_one("[::]::80/udp");
    CHECK(every6.host_ip == "::");
    CHECK(every6.host_port == 0);
    CHECK(every6.protocol == Protocol::udp);
    const auto bound6 = parse_one("[2001:db8::10]:0:80");
    CHECK(bound6.host_ip == "2001:db8::10");
    CHECK(bound6.host_port == 0);
    // A container port range: a free host port for each.
    const auto range = parse_port_spec("9000-9002/udp");
    REQUIRE(range.size() == 3);
    for (std::size_t i = 0; i < range.size(); ++i) {
        CHECK(range[i].host_port == 0);
        CHECK(range[i].container_port == 9000 + i);
        CHECK(range[i].protocol == Protocol::udp);
    }
    CHECK(parse_port_spec("127.0.0.1::9000-9001").size() == 2);
    CHECK(parse_port_spec("0:9000-9511").size() == 512);

    // Written back in the shortest of those forms, which reads back the same.
    CHECK(format_port_spec(alone) == "80/tcp");
    CHECK(format_port_spec(local) == "127.0.0.1::5432/tcp");
    CHECK(format_port_spec(every6) == "[::]::80/udp");
    for (const char* spec : {"80/tcp", "127.0.0.1::80/tcp", "[2001:db8::10]::80/sctp", "0.0.0.0::1/udp"})
        CHECK(format_port_spec(parse_one(spec)) == spec);

    // ::1 is refused as for explicit ports; a bare IPv6 address still asks for brackets.
    CHECK_THAT(spec_refusal("[::1]::80"), Catch::StartsWith("-p \"[::1]::80\": ") && Catch::Contains("::1"));
    CHECK_THAT(spec_refusal("2001:db8::10::80"), Catch::Contains("use \"[2001:db8::10]::80\""));
    // 0 is no port of a host range.
    CHECK_THAT(spec_refusal("0-2:80-82"), Catch::Contains("host port range \"0-2\" starts at 0"));
    CHECK_THAT(spec_refusal("0:9000-9600"), Catch::Contains("601 ports in one request; at most 512"));
}

TEST_CASE("port ranges map each host port to the container port at its place", "[cli][spec]")
{
    const auto tcp = parse_port_spec("8000-8002:9000-9002");
    REQUIRE(tcp.size() == 3);
    for (std::size_t i = 0; i < tcp.size(); ++i) {
        CHECK(tcp[i].host_port == 8000 + i);
        CHECK(tcp[i].container_port == 9000 + i);
        CHECK(tcp[i].protocol == Protocol::tcp);
        CHECK(tcp[i].host_ip.empty());
    }
    const auto udp = parse_port_spec("8000-8002:9000-9002/udp");
    REQUIRE(udp.size() == 3);
    CHECK(udp[2].host_port == 8002);
    CHECK(udp[2].container_port == 9002);
    CHECK(udp[0].protocol == Protocol::udp);

    // With an address of either family, which every port of the range gets.
    const auto bound = parse_port_spec("10.0.0.1:7000-7001:80-81/sctp");
    REQUIRE(bound.size() == 2);
    CHECK(bound[1].host_ip == "10.0.0.1");
    CHECK(bound[1].host_port == 7001);
    CHECK(bound[1].container_port == 81);
    CHECK(bound[1].protocol == Protocol::sctp);
    const auto bound6 = parse_port_spec("[2001:db8::10]:8000-8001:9000-9001/udp");
    REQUIRE(bound6.size() == 2);
    CHECK(bound6[0].host_ip == "2001:db8::10");
    CHECK(bound6[1].host_port == 8001);
    CHECK(bound6[1].container_port == 9001);
    const auto every6 = parse_port_spec("[::]:8000-8001:9000-9001");
    REQUIRE(every6.size() == 2);
    CHECK(every6[1].host_ip == "::");

    // Shifted ranges, one-port ranges and the top of the port space.
    const auto shifted = parse_port_spec("8080-8081:80-81");
    REQUIRE(shifted.size() == 2);
    CHECK(shifted[1].host_port == 8081);
    CHECK(shifted[1].container_port == 81);
    CHECK(parse_port_spec("80-80:90").size() == 1);
    CHECK(parse_port_spec("80:90-90").at(0).container_port == 90);
    const auto top = parse_port_spec("65534-65535:1-2");
    REQUIRE(top.size() == 2);
    CHECK(top[1].host_port == 65535);
    CHECK(top[1].container_port == 2);
    CHECK(parse_port_spec("1-512:1-512").size() == 512);  // the most one request may have
}

TEST_CASE("bad port specs are refused with a message that says what is right", "[cli][spec]")
{
    for (const char* bad : {"",
                            "80:",
                            "a:80",
                            "80:b",
                            "-1:80",
                            "0-1:80-81",
                            "0-0:80",
                            "80:0",
                            "0:0",
                            "/udp",
                            "127.0.0.1::",
                            "65536:80",
                            "80:65536",
                            "80:80/",
                            "80:80/ip",
                            "80:80/tcp/udp",
                            "1.2.3:80:80",
                            "x:80:80",
                            "224.0.0.1:80:80",
                            "[::1]:80",
                            "[10.0.0.1]80:80",
                            "1:2:3:4",
                            " 80:80",
                            "80:80 ",
                            "[]:80:80",
                            "[::1:80:80",
                            "8000-:80",
                            "-8000:80",
                            "80-81-82:80-81-82",
                            "1-2:1",
                            "0-1:0-1",
                            "65535-65536:1-2",
                            "[::]:1:2:3",
                            "::",
                            "::1:80"})
        CHECK_THROWS_AS(parse_port_spec(bad), UsageError);

    CHECK(spec_refusal("8000-8002:9000-9001") ==
          "-p \"8000-8002:9000-9001\": host and container port ranges must have the same length: 8000-8002 has 3 "
          "ports, 9000-9001 has 2 ports; each host port leads to the container port at its place");
    CHECK_THAT(spec_refusal("8000-8002:80/udp"),
               Catch::Contains("ranges must have the same length: 8000-8002 has 3 ports, 80 has 1 port;"));
    CHECK(spec_refusal("8002-8000:9000-9002") ==
          "-p \"8002-8000:9000-9002\": host port range \"8002-8000\" is reversed; give the lower port first, e.g. "
          "8000-8002");
    CHECK_THAT(spec_refusal("8000-8002:9002-9000"), Catch::Contains("container port range \"9002-9000\" is reversed"));
    CHECK_THAT(spec_refusal("8000-70000:1-2"), Catch::Contains("host port \"70000\" is out of range"));

    // A bare IPv6 address: the message gives the bracketed form.
    CHECK(spec_refusal("2001:db8::10:8080:80") ==
          "-p \"2001:db8::10:8080:80\": the IPv6 host address \"2001:db8::10\" must be in brackets; use "
          "\"[2001:db8::10]:8080:80\" ([ADDRESS]:HOST_PORT:CONTAINER_PORT)");
    CHECK_THAT(spec_refusal(":::8080:80/udp"), Catch::Contains("use \"[::]:8080:80/udp\""));
    CHECK_THAT(spec_refusal("fd00::5:8000-8001:80-81"), Catch::Contains("use \"[fd00::5]:8000-8001:80-81\""));
    // Too many ':' without an IPv6 address in front still says where IPv6 goes.
    CHECK_THAT(spec_refusal("1:2:3:4"),
               Catch::StartsWith("-p \"1:2:3:4\": too many ':'; use [[HOST_IP:]HOST_PORT:]CONTAINER_PORT") &&
                   Catch::Contains("an IPv6 HOST_IP goes in brackets"));

    CHECK_THAT(spec_refusal("[]:80:80"), Catch::Contains("the brackets hold no host address"));
    CHECK_THAT(spec_refusal("[::1:80:80"), Catch::Contains("has no ']'"));
    CHECK_THAT(spec_refusal("[::]80:80"), Catch::Contains("must be followed by ':'"));
    CHECK_THAT(spec_refusal("[::]:1:2:3"),
               Catch::Contains("a host port (empty for a free one) and a container port after the host address"));
    CHECK_THAT(spec_refusal("80:80/TCP"), Catch::Contains("unknown protocol \"TCP\""));
    CHECK_THAT(spec_refusal("http:80"), Catch::Contains("host port \"http\" is not a number; use a number from 1 to 65535"));
    CHECK_THAT(spec_refusal("8080:"), Catch::Contains("the container port is missing"));
}

TEST_CASE("the library judges host addresses and counts, in its own words after the spec", "[cli][spec]")
{
    // Container port 0, and a range longer than one request may be.
    CHECK_THAT(spec_refusal("8080:0"), Catch::StartsWith("-p \"8080:0\": container port 0"));
    CHECK_THAT(spec_refusal("1-1000:1-1000"), Catch::StartsWith("-p \"1-1000:1-1000\": 1000 ports in one request; at most 512"));
    // Addresses that cannot be published on: the message names the spec, then the address.
    for (const char* spec : {"[::1]:8080:80", "[fe80::1]:8080:80", "224.0.0.1:8080:80", "nohost:8080:80", "[ff02::1]:8080:80",
                             "10.0.0.300:8080:80"}) {
        const auto message = spec_refusal(spec);
        INFO(message);
        CHECK(message.starts_with("-p \"" + std::string(spec) + "\": "));
        CHECK(message.find("host IP") != std::string::npos);
    }
    // ::1 cannot be DNATed by the kernel, and the message says so.
    CHECK_THAT(spec_refusal("[::1]:8080:80"), Catch::Contains("::1"));
}

TEST_CASE("--ip once per family", "[cli][spec]")
{
    using warren::cli::parse_container_addresses;
    using warren::nft::ContainerAddresses;
    const auto parse = [](std::vector<std::string> ips) { return parse_container_addresses(ips); };
    CHECK(parse({"10.88.0.5"}) == ContainerAddresses{"10.88.0.5", ""});
    CHECK(parse({"fd00::5"}) == ContainerAddresses{"", "fd00::5"});
    CHECK(parse({"10.88.0.5", "fd00::5"}) == ContainerAddresses{"10.88.0.5", "fd00::5"});
    CHECK(parse({"fd00::5", "10.88.0.5"}) == ContainerAddresses{"10.88.0.5", "fd00::5"});

    CHECK(refusal([&] {
              parse({"10.88.0.5", "10.88.0.6"});
          }) ==
          "--ip: \"10.88.0.5\" and \"10.88.0.6\" are both IPv4 addresses; give the container's address of each family "
          "once (at most one IPv4 and one IPv6 address)");
    CHECK_THAT(refusal([&] {
                   parse({"fd00::5", "10.88.0.5", "fd00::6"});
               }),
               Catch::StartsWith("--ip: \"fd00::5\" and \"fd00::6\" are both IPv6 addresses"));
    // Each address is the library's to judge.
    CHECK_THAT(refusal([&] { parse({"127.0.0.1"}); }), Catch::StartsWith("--ip: container IP \"127.0.0.1\""));
    CHECK_THAT(refusal([&] { parse({"10.88.0.5", "::1"}); }), Catch::StartsWith("--ip: container IP \"::1\""));
    CHECK_THAT(refusal([&] { parse({"container"}); }), Catch::StartsWith("--ip: container IP \"container\""));
    CHECK_THROWS_AS(parse({""}), UsageError);
    CHECK_THROWS_AS(parse({"10.88.0.5", ""}), UsageError);
    CHECK_THROWS_AS(parse({}), UsageError);
}

TEST_CASE("a host address of a family the container lacks is refused", "[cli][spec]")
{
    using warren::cli::check_host_family;
    using warren::nft::ContainerAddresses;
    const ContainerAddresses ipv4{"10.88.0.5", ""};
    const ContainerAddresses ipv6{"", "fd00::5"};
    const ContainerAddresses dual{"10.88.0.5", "fd00::5"};
    for (const char* spec :
         {"8080:80", ":8080:80", "0.0.0.0:8080:80", "127.0.0.1:8080:80", "[::]:8080:80", "[2001:db8::10]:8080:80"}) {
        const auto mapping = parse_one(spec);
        CHECK_NOTHROW(check_host_family(spec, mapping, dual));
        const bool v6 = mapping.host_ip.find(':') != std::string::npos;
        const bool any = mapping.host_ip.empty();
        if (any || !v6)
            CHECK_NOTHROW(check_host_family(spec, mapping, ipv4));
        else
            CHECK_THROWS_AS(check_host_family(spec, mapping, ipv4), UsageError);
        if (any || v6)
            CHECK_NOTHROW(check_host_family(spec, mapping, ipv6));
        else
            CHECK_THROWS_AS(check_host_family(spec, mapping, ipv6), UsageError);
    }
    CHECK(refusal([&] { check_host_family("[::]:8080:80", parse_one("[::]:8080:80"), ipv4); }) ==
          "-p \"[::]:8080:80\": the host address \"::\" is IPv6, but the container has no IPv6 address; give it with "
          "--ip, or an IPv4 host address, or leave HOST_IP out to publish on every address of the container's "
          "families");
}

TEST_CASE("echoed input is escaped, one line, and cut short", "[cli][spec][untrusted]")
{
    // The library's own quoting (lib/printable.hpp), which its messages use too: the command line's
    // and the library's parts of one message look alike.
    using warren::nft::quote;
    CHECK(quote("8080:80") == "\"8080:80\"");
    CHECK(quote("a\nb\x1b[31m\\\"") == R"("a\x0ab\x1b[31m\x5c\x22")");

    // A spec with control bytes and invalid UTF-8 gives one line, escaped.
    const auto message = spec_refusal("80:80/\x1b]0;owned\x07\n\xff");
    INFO(message);
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find('\x1b') == std::string::npos);
    CHECK(message.find('\xff') == std::string::npos);
    CHECK_THAT(message, Catch::StartsWith("-p \"80:80/\\x1b]0;owned\\x07\\x0a\\xff\": unknown protocol"));
    // A newline cannot start a line of its own that looks like another message.
    const auto forged = spec_refusal("8080:80\nwarren-nft: forged");
    INFO(forged);
    CHECK(forged.find('\n') == std::string::npos);
    CHECK_THAT(forged, Catch::StartsWith("-p \"8080:80\\x0awarren-nft: forged\": "));
    // A long one is cut, wherever it is echoed: in the command line's words and in the library's.
    for (const auto& long_spec : {std::string(5000, '9') + ":80", "10.0.0.1" + std::string(100 * 1024, '1') + ":80:80",
                                  "80:80/" + std::string(100 * 1024, '\n')}) {
        const auto long_message = spec_refusal(long_spec);
        INFO(long_message);
        CHECK(long_message.size() < 700);
        CHECK(long_message.find('\n') == std::string::npos);
        CHECK(long_message.find("(cut short, " + std::to_string(long_spec.size()) + " bytes)") != std::string::npos);
    }
}

TEST_CASE("an address with a port, or one that is no address of either family, says what is wrong", "[cli][spec]")
{
    using warren::cli::parse_container_addresses;
    const auto parse = [](std::vector<std::string> ips) { return parse_container_addresses(ips); };
    CHECK(refusal([&] { parse({"10.88.0.5:80"}); }) ==
          "--ip: container IP \"10.88.0.5:80\" is an IPv4 address with a port; give the address alone (10.88.0.5): "
          "ports are given with each port mapping: invalid argument");
    CHECK_THAT(refusal([&] { parse({"[fd00::5]:80"}); }), Catch::Contains("has brackets and a port"));
    CHECK_THAT(refusal([&] { parse({"10.88.0.500"}); }), Catch::Contains("is not a valid IPv4 address"));
    CHECK_THAT(refusal([&] { parse({"fd00::5::6"}); }), Catch::Contains("has a ':' but is not a valid IPv6 address"));
    for (const char* ip : {"10.88.0.5:80", "[fd00::5]:80", "10.88.0.500", "fd00::5::6"}) {
        INFO(ip);
        CHECK(refusal([&] { parse({ip}); }).find("is IPv6") == std::string::npos);
    }
}

TEST_CASE("the library's checks name the command-line argument", "[cli][spec]")
{
    using warren::cli::check_argument;
    namespace nft = warren::nft;
    CHECK_NOTHROW(check_argument("--task", [] { nft::validate_task_id("web-1_a.b:c@d/e+f"); }));
    try {
        check_argument("--task", [] { nft::validate_task_id("a'b"); });
        FAIL("no UsageError");
    } catch (const UsageError& e) {
        // The argument first, then the library's own sentence.
        CHECK_THAT(e.what(),
                   Catch::StartsWith("--task: task id \"a'b\" contains \"'\"") && Catch::Contains("only letters, digits"));
    }
    CHECK_THROWS_AS(check_argument("--task", [] { nft::validate_task_id(""); }), UsageError);
    CHECK_THROWS_AS(check_argument("--name", [] { nft::validate_port_name(std::string(33, 'a')); }), UsageError);
    CHECK_THROWS_AS(check_argument("--ip", [] { nft::validate_container_ip("127.0.0.1"); }), UsageError);
    // Only invalid_argument is a usage error; anything else is passed on as it is.
    CHECK_THROWS_AS(check_argument("--ip", [] { throw nft::Error(nft::errc::port_conflict, "taken"); }), nft::Error);
}

}  // namespace
