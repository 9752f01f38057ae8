// SPDX-License-Identifier: Apache-2.0
// The port spec parser of warren-nft on its own (no kernel involved).
#include "spec.hpp"

#include <catch2/catch.hpp>

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
    CHECK(parse_port_spec("0.0.0.0:8080:80").host_port == 8080);
    CHECK(parse_port_spec("08080:80").host_port == 8080);
    CHECK(warren::cli::format_port_spec(parse_port_spec("0.0.0.0:53:5353/udp")) == "53:5353/udp");

    for (const char* bad : {"", "80", ":80", "80:", "a:80", "80:b", "-1:80", "0:80", "80:0", "65536:80", "80:65536",
                            "80:80/", "80:80/ip", "80:80/tcp/udp", "1.2.3.4:80:80", "x:80:80", "[::]:80:80",
                            "1:2:3:4", " 80:80", "80:80 "})
        CHECK_THROWS_AS(parse_port_spec(bad), UsageError);
}

TEST_CASE("task ids, names and container addresses checked before the kernel is asked", "[cli][spec]")
{
    CHECK_NOTHROW(warren::cli::check_task_id("--task", "web-1_a.b:c@d/e+f"));
    CHECK_THROWS_AS(warren::cli::check_task_id("--task", ""), UsageError);
    CHECK_THROWS_AS(warren::cli::check_task_id("--task", "a'b"), UsageError);
    CHECK_NOTHROW(warren::cli::check_task_id("--task", std::string(64, 'a')));
    CHECK_THROWS_AS(warren::cli::check_task_id("--task", std::string(65, 'a')), UsageError);
    CHECK_NOTHROW(warren::cli::check_port_name("--name", ""));
    CHECK_THROWS_AS(warren::cli::check_port_name("--name", std::string(33, 'a')), UsageError);
    CHECK_NOTHROW(warren::cli::check_container_ip("--ip", "172.17.0.2"));
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "0.0.0.0", "127.0.0.1", "224.0.0.1", "::1", "x"})
        CHECK_THROWS_AS(warren::cli::check_container_ip("--ip", bad), UsageError);
}

}  // namespace
