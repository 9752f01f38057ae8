// SPDX-License-Identifier: Apache-2.0
// The port spec parser of warren-nft on its own (no kernel involved).
#include "spec.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace {

using warren::cli::parse_port_spec;
using warren::cli::UsageError;
using warren::nft::Protocol;

TEST_CASE("port specs in docker's syntax", "[cli][spec]")
{
    const auto tcp = parse_port_spec("8080:80");
    CHECK(tcp.host_port == 8080);
    CHECK(tcp.container_port == 80);
    CHECK(tcp.protocol == Protocol::tcp);
    CHECK(parse_port_spec("53:5353/udp").protocol == Protocol::udp);
    CHECK(parse_port_spec("1:65535/sctp").container_port == 65535);
    CHECK(parse_port_spec("65535:1/tcp").host_port == 65535);
    CHECK(parse_port_spec("08080:80").host_port == 8080);
    CHECK(parse_port_spec("8080:80").host_ip.empty());

    // HOST_IP: one address, or every address (omitted, empty or docker's 0.0.0.0).
    const auto bound = parse_port_spec("10.1.2.3:8080:80/udp");
    CHECK(bound.host_ip == "10.1.2.3");
    CHECK(bound.host_port == 8080);
    CHECK(bound.container_port == 80);
    CHECK(bound.protocol == Protocol::udp);
    CHECK(parse_port_spec("0.0.0.0:8080:80").host_ip.empty());
    CHECK(parse_port_spec("0.0.0.0:8080:80").host_port == 8080);
    CHECK(parse_port_spec(":8080:80").host_ip.empty());
    CHECK(warren::cli::format_port_spec(parse_port_spec("0.0.0.0:53:5353/udp")) == "53:5353/udp");
    CHECK(warren::cli::format_port_spec(bound) == "10.1.2.3:8080:80/udp");

    for (const char* bad : {"", "80", ":80", "80:", "a:80", "80:b", "-1:80", "0:80", "80:0", "65536:80", "80:65536",
                            "80:80/", "80:80/ip", "80:80/tcp/udp", "1.2.3:80:80", "x:80:80", "127.0.0.1:80:80",
                            "224.0.0.1:80:80", "[::]:80:80", "[::1]:80", "[10.0.0.1]80:80", "1:2:3:4", " 80:80",
                            "80:80 "})
        CHECK_THROWS_AS(parse_port_spec(bad), UsageError);
    // The address is the library's to judge, and the message says so in its words.
    CHECK_THROWS_WITH(parse_port_spec("[fd00::1]:80:80"),
                      Catch::StartsWith("-p '[fd00::1]:80:80': host port 80/tcp: host IP \"fd00::1\" is IPv6"));
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
        CHECK_THAT(e.what(), Catch::StartsWith("--task: task id \"a'b\" contains \"'\"") &&
                                 Catch::Contains("only letters, digits"));
    }
    CHECK_THROWS_AS(check_argument("--task", [] { nft::validate_task_id(""); }), UsageError);
    CHECK_THROWS_AS(check_argument("--name", [] { nft::validate_port_name(std::string(33, 'a')); }), UsageError);
    CHECK_THROWS_AS(check_argument("--ip", [] { nft::validate_container_ip("127.0.0.1"); }), UsageError);
    // Only invalid_argument is a usage error; anything else is passed on as it is.
    CHECK_THROWS_AS(check_argument("--ip", [] { throw nft::Error(nft::errc::port_conflict, "taken"); }), nft::Error);

    // A port spec is checked with validate_ports(): port 0 is the library's refusal, naming the spec.
    try {
        parse_port_spec("0:80");
        FAIL("no UsageError");
    } catch (const UsageError& e) {
        CHECK_THAT(e.what(), Catch::StartsWith("-p '0:80': host port 0 is not a port"));
    }
}

}  // namespace
