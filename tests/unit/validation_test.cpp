// SPDX-License-Identifier: Apache-2.0
// The public checks of <warren/nft/validation.hpp>, and the publisher's parsing variants of them.
#include "publisher/validation.hpp"

#include "printable.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "addresses.hpp"
#include "ports.hpp"

#include <algorithm>
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
    CHECK_NOTHROW(validate_task_id("task-abc123"));
    CHECK_NOTHROW(validate_task_id("svc.web_1:replica@node/2+x"));
    CHECK_NOTHROW(validate_task_id(std::string(64, 'a')));

    CHECK_THAT(refusal([] { validate_task_id(""); }), Catch::Contains("empty"));
    CHECK_THAT(refusal([] { validate_task_id(std::string(65, 'a')); }), Catch::Contains("at most 64"));
    CHECK_THAT(refusal([] { validate_task_id("task\"x"); }), Catch::Contains("task id"));
    CHECK_THAT(refusal([] { validate_task_id("task'x"); }), Catch::Contains("contains"));
    CHECK_THAT(refusal([] { validate_task_id("a b"); }), Catch::Contains("contains \" \""));
    CHECK_THAT(refusal([] { validate_task_id("tab\there"); }), Catch::Contains("\\x09"));
    CHECK_THAT(refusal([] { validate_task_id(std::string("nul\0x", 5)); }), Catch::Contains("\\x00"));
    CHECK_THAT(refusal([] { validate_task_id("x=y"); }), Catch::Contains("only letters, digits"));
}

TEST_CASE("port names are checked like task ids, but may be empty", "[validation]")
{
    CHECK_NOTHROW(validate_port_name(""));
    CHECK_NOTHROW(validate_port_name("http"));
    CHECK_NOTHROW(validate_port_name(std::string(max_name_length, 'n')));
    CHECK_THAT(refusal([] { validate_port_name(std::string(33, 'n')); }),
               Catch::Contains("port name is 33 characters long; at most 32"));
    CHECK_THAT(refusal([] { validate_port_name("web ui"); }), Catch::Contains("port name \"web ui\" contains \" \""));
    CHECK_THAT(refusal([] { validate_port_name("a\"b"); }), Catch::Contains("\\x22"));
}

TEST_CASE("the limits are the publisher's", "[validation]")
{
    STATIC_REQUIRE(HostPortPublisher::max_task_id_length == max_task_id_length);
    STATIC_REQUIRE(HostPortPublisher::max_name_length == max_name_length);
    STATIC_REQUIRE(HostPortPublisher::max_ports_per_request == max_ports_per_request);
    STATIC_REQUIRE(max_task_id_length == 64);
    STATIC_REQUIRE(max_name_length == 32);
    STATIC_REQUIRE(max_ports_per_request == 512);
}

TEST_CASE("container IPs are unicast IPv4 or IPv6 addresses", "[validation]")
{
    CHECK_NOTHROW(validate_container_ip("10.88.0.5"));
    CHECK(validation::parse_container_ip("10.88.0.5") == test::v4(10, 88, 0, 5));
    CHECK(validation::parse_container_ip("192.168.1.254") == test::v4(192, 168, 1, 254));
    CHECK(validation::parse_container_ip("fd00::5") == test::address("fd00:0::5"));
    CHECK(validation::parse_container_ip("2001:db8::10").family == ruleset::Family::ip6);

    // What is wrong is said by the family the text looks meant for.
    CHECK(refusal([] { validate_container_ip(""); }) ==
          "container IP \"\" is empty; give an IPv4 address like 10.88.0.5 or an IPv6 address like fd00::5: invalid argument");
    for (const char* bad : {"10.0.0", "10.0.0.256", "256.1.1.1", "10..0.1", "1.2.3.4.5"}) {
        INFO(bad);
        CHECK_THAT(refusal([&] { validate_container_ip(bad); }),
                   Catch::Contains("is not a valid IPv4 address: four numbers from 0 to 255 separated by dots"));
    }
    for (const char* bad : {"fd00::5::1", "fd00::/64", "fd00:::5", "10.0.0.1:80:90", "fd00::g"}) {
        INFO(bad);
        CHECK_THAT(refusal([&] { validate_container_ip(bad); }), Catch::Contains("has a ':' but is not a valid IPv6 address"));
    }
    for (const char* bad : {"10.0.0.1 ", " 10.0.0.1", "10.0.0.1/24", "010.0.0.1x", "host.example"}) {
        INFO(bad);
        CHECK_THAT(refusal([&] { validate_container_ip(bad); }),
                   Catch::Contains("is not an IPv4 address like 10.88.0.5 or an IPv6"));
    }
    // An address with a port: not "is IPv6" because of its ':'.
    CHECK(refusal([] { validate_container_ip("10.88.0.5:80"); }) ==
          "container IP \"10.88.0.5:80\" is an IPv4 address with a port; give the address alone (10.88.0.5): ports "
          "are given with each port mapping: invalid argument");
    CHECK_THAT(refusal([] { validate_container_addresses({"10.88.0.5:80", ""}); }), Catch::Contains("IPv4 address with a port"));
    CHECK_THAT(refusal([] { validate_host_ip("10.0.0.1:8080"); }), Catch::Contains("IPv4 address with a port"));
    CHECK_THAT(refusal([] { validate_container_ip("[fd00::5]:80"); }),
               Catch::Contains("has brackets and a port; give the IPv6 address alone, without brackets"));
    CHECK_THAT(refusal([] { validate_container_ip("[fd00::5]"); }), Catch::Contains("without brackets"));
    CHECK_THAT(refusal([] { validate_container_ip("fe80::1%eth0"); }), Catch::Contains("zone"));
    CHECK_THAT(refusal([] { validate_container_ip(std::string("10.0.0.1\0", 9)); }),
               Catch::Contains("\"10.0.0.1\\x00\" is not an IPv4 address"));
    for (const char* unusable : {"0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "255.255.255.255", "::", "::1",
                                 "::ffff:10.0.0.1", "fe80::1", "ff02::1"}) {
        INFO(unusable);
        CHECK_THAT(refusal([&] { validate_container_ip(unusable); }), Catch::Contains("cannot receive"));
    }
}

TEST_CASE("a task's container addresses are one of each family at most", "[validation]")
{
    CHECK_NOTHROW(validate_container_addresses({"10.88.0.5", "fd00::5"}));
    CHECK_NOTHROW(validate_container_addresses({"", "fd00::5"}));
    CHECK_NOTHROW(validate_container_addresses({"10.88.0.5", ""}));
    CHECK_THAT(refusal([] { validate_container_addresses({"", ""}); }), Catch::Contains("no container address"));
    CHECK_THAT(refusal([] {
                   validate_container_addresses({"fd00::5", ""});
               }),
               Catch::Contains("\"fd00::5\" is IPv6, given as the container's IPv4 address"));
    CHECK_THAT(refusal([] {
                   validate_container_addresses({"", "10.0.0.1"});
               }),
               Catch::Contains("is IPv4, given as the container's IPv6"));
    const auto families = validation::parse_container_addresses({"10.88.0.5", "fd00::5"});
    CHECK(families[0] == test::v4(10, 88, 0, 5));
    CHECK(families[1] == test::address("fd00::5"));
}

TEST_CASE("access policies are checked before anything is sent", "[validation][policy]")
{
    AccessPolicy good;
    good.allow = {"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "10.1.2.3/16"};
    good.max_connections = 10;
    good.rate = 5;
    good.rate_unit = RateUnit::minute;
    CHECK_NOTHROW(validate_access_policy(good));
    CHECK_NOTHROW(validate_access_policy({}));
    for (const std::string bad :
         {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8/8", "::/129", "example.com", "", "10.0.0.0/-1", "10.0.0.0/ 8", "[::1]/128"}) {
        INFO(bad);
        AccessPolicy policy;
        policy.allow = {bad};
        CHECK_THAT(refusal([&] { validate_access_policy(policy); }), Catch::Contains("allowed source"));
    }
    AccessPolicy many;
    many.allow.assign(max_allowed_sources + 1, "10.0.0.1");
    CHECK_THAT(refusal([&] { validate_access_policy(many); }), Catch::Contains("at most 64"));
    // The kernel elements they take: a /33 is 128 /40s; eight of them fit, nine do not.
    AccessPolicy pieces;
    pieces.allow = {"2000::/33", "2001::/33", "2002::/33", "2003::/33", "2004::/33", "2005::/33", "2006::/33", "2007::/33"};
    CHECK_NOTHROW(validate_access_policy(pieces));
    pieces.allow.push_back("2008::/33");
    CHECK_THAT(refusal([&] { validate_access_policy(pieces); }),
               Catch::Contains("IPv6 sources of the allow-list take 1152 kernel elements; at most 1024"));
    // Contained sources are not counted twice, and IPv4 counts apart: a /25 is eight /32s at most.
    pieces.allow.back() = "2000::/34";
    pieces.allow.push_back("10.0.0.0/25");
    CHECK_NOTHROW(validate_access_policy(pieces));
    AccessPolicy huge;
    huge.max_connections = max_policy_limit + 1;
    CHECK_THAT(refusal([&] { validate_access_policy(huge); }), Catch::Contains("max_connections"));
    AccessPolicy bad_unit;
    bad_unit.rate = 1;
    bad_unit.rate_unit = static_cast<RateUnit>(7);
    CHECK_THAT(refusal([&] { validate_access_policy(bad_unit); }), Catch::Contains("rate unit"));
    // As part of a port, the message names the port.
    std::vector<PortMapping> ports{test::port(8080, 80)};
    ports[0].access.allow = {"nope"};
    CHECK_THAT(refusal([&] { validate_ports(ports); }), Catch::Contains("host port 8080/tcp") && Catch::Contains("nope"));
}

TEST_CASE("port lists are checked and ordered", "[validation]")
{
    const std::vector<PortMapping> ports{{443, 8443, Protocol::tcp, PublishMode::host, "https"},
                                         {53, 53, Protocol::udp, PublishMode::host, ""},
                                         {80, 8080, Protocol::tcp, PublishMode::host, "http"},
                                         {53, 5353, Protocol::tcp, PublishMode::host, ""}};
    CHECK_NOTHROW(validate_ports(ports));
    const auto sorted = validation::check_ports(ports);
    REQUIRE(sorted.size() == 4);
    CHECK(sorted[0].mapping.host_port == 53);
    CHECK(sorted[0].mapping.protocol == Protocol::tcp);
    CHECK(sorted[1].mapping.host_port == 80);
    CHECK(sorted[2].mapping.host_port == 443);
    CHECK(sorted[3].mapping.protocol == Protocol::udp);
    CHECK_FALSE(sorted[3].host);  // every address

    CHECK_THAT(refusal([] { validate_ports({}); }), Catch::Contains("no ports"));
    // Host port 0 asks the publisher to choose one; two of them are not the same port.
    const std::vector<PortMapping> automatic{test::port(0, 80), test::port(0, 81), test::port(80, 80)};
    CHECK_NOTHROW(validate_ports(automatic));
    const std::vector<PortMapping> zero_container{test::port(80, 0)};
    CHECK_THAT(refusal([&] { validate_ports(zero_container); }), Catch::Contains("container port 0"));
    const std::vector<PortMapping> duplicate{test::port(80, 80), test::port(81, 81), test::port(80, 8080)};
    CHECK_THAT(refusal([&] { validate_ports(duplicate); }), Catch::Contains("80/tcp appears twice"));
    const std::vector<PortMapping> ingress{{80, 80, Protocol::tcp, PublishMode::ingress, ""}};
    CHECK_THAT(refusal([&] { validate_ports(ingress); }), Catch::Contains("ingress mode"));
    const std::vector<PortMapping> bad_protocol{{80, 80, static_cast<Protocol>(9), PublishMode::host, ""}};
    CHECK_THAT(refusal([&] { validate_ports(bad_protocol); }), Catch::Contains("protocol 9 is unknown"));
    const std::vector<PortMapping> bad_name{{80, 80, Protocol::tcp, PublishMode::host, "web ui"}};
    CHECK_THAT(refusal([&] { validate_ports(bad_name); }), Catch::Contains("port name"));
    const std::vector<PortMapping> long_name{{80, 80, Protocol::tcp, PublishMode::host, std::string(33, 'n')}};
    CHECK_THAT(refusal([&] { validate_ports(long_name); }), Catch::Contains("at most 32"));
    std::vector<PortMapping> too_many;
    for (unsigned p = 1; p <= HostPortPublisher::max_ports_per_request + 1; ++p)
        too_many.push_back(test::port(static_cast<std::uint16_t>(p), 80));
    CHECK_THAT(refusal([&] { validate_ports(too_many); }), Catch::Contains("at most 512"));
    // Same number, other protocol: two different host ports.
    const std::vector<PortMapping> both{{53, 53, Protocol::tcp, PublishMode::host, ""},
                                        {53, 53, Protocol::udp, PublishMode::host, ""}};
    CHECK_NOTHROW(validate_ports(both));
    CHECK(validation::check_ports(both).size() == 2);
}

TEST_CASE("host IPs are empty, every address of one family, one address, or IPv4 loopback", "[validation][host-ip]")
{
    for (const char* good : {"", "10.200.1.1", "0.0.0.0", "::", "0::0", "127.0.0.1", "127.1.2.3", "2001:db8::10", "fd00::1"}) {
        INFO(good);
        CHECK_NOTHROW(validate_host_ip(good));
    }
    CHECK_THAT(refusal([] { validate_host_ip("::1"); }), Catch::Contains("IPv6 loopback") && Catch::Contains("cannot NAT"));
    CHECK_THAT(refusal([] { validate_host_ip("fe80::1"); }), Catch::Contains("link-local"));
    CHECK_THAT(refusal([] { validate_host_ip("::ffff:10.0.0.1"); }), Catch::Contains("IPv4-mapped"));
    CHECK_THAT(refusal([] { validate_host_ip("0.1.2.3"); }), Catch::Contains("not an address ports can be published on"));
    CHECK_THAT(refusal([] { validate_host_ip("224.0.0.1"); }), Catch::Contains("not an address ports can be published on"));
    CHECK_THAT(refusal([] { validate_host_ip("ff02::1"); }), Catch::Contains("not an address ports can be published on"));
    CHECK_THAT(refusal([] { validate_host_ip("10.0.0"); }), Catch::Contains("not a valid IPv4 address"));
    CHECK_THAT(refusal([] { validate_host_ip("[::]"); }), Catch::Contains("without brackets"));

    // Within a port list, the message names the port.
    const std::vector<PortMapping> bad{test::port(80, 80), test::on("1.2.3", test::port(8080, 80))};
    CHECK_THAT(refusal([&] { validate_ports(bad); }),
               Catch::Contains("host port 8080/tcp: host IP \"1.2.3\" is not a valid IPv4"));
    // Echoed input is escaped and cut short.
    const std::vector<PortMapping> hostile{test::on("\x1b[31m" + std::string(200, 'x'), test::port(8080, 80))};
    const auto message = refusal([&] { validate_ports(hostile); });
    CHECK_THAT(message, Catch::Contains("\\x1b[31m") && Catch::Contains("cut short, 205 bytes"));
    CHECK(message.size() < 400);
}

TEST_CASE("one request may bind a port to several addresses, but not also to every address of their family",
          "[validation][host-ip]")
{
    const std::vector<PortMapping> two_addresses{test::on("10.0.0.2", test::port(80, 8080)), test::port(443, 443),
                                                 test::on("10.0.0.1", test::port(80, 80))};
    const auto sorted = validation::check_ports(two_addresses);
    REQUIRE(sorted.size() == 3);
    // By protocol, port, then address.
    CHECK(sorted[0].host == test::v4(10, 0, 0, 1));
    CHECK(sorted[0].mapping.host_ip == "10.0.0.1");
    CHECK(sorted[1].host == test::v4(10, 0, 0, 2));
    CHECK_FALSE(sorted[2].host);

    const std::vector<PortMapping> twice{test::on("10.0.0.1", test::port(80, 80)), test::on("10.0.0.1", test::port(80, 81))};
    CHECK_THAT(refusal([&] { validate_ports(twice); }), Catch::Contains("host port 80/tcp on 10.0.0.1 appears twice"));
    const std::vector<PortMapping> all_and_one{test::on("10.0.0.1", test::port(80, 80)), test::port(80, 81)};
    CHECK_THAT(refusal([&] { validate_ports(all_and_one); }),
               Catch::Contains("host port 80/tcp is asked for on every address and on \"10.0.0.1\""));
    const std::vector<PortMapping> v4_all_and_one{test::on("10.0.0.1", test::port(80, 80)),
                                                  test::on("0.0.0.0", test::port(80, 81))};
    CHECK_THAT(refusal([&] { validate_ports(v4_all_and_one); }), Catch::Contains("on \"0.0.0.0\" and on \"10.0.0.1\""));
    const std::vector<PortMapping> everywhere_twice{test::port(80, 80), test::on("::", test::port(80, 81))};
    CHECK_THAT(refusal([&] { validate_ports(everywhere_twice); }), Catch::Contains("on every address and on \"::\""));
    // docker: [::] and 0.0.0.0 do not overlap, nor do an IPv6 and an IPv4 address.
    const std::vector<PortMapping> both_families{test::on("0.0.0.0", test::port(80, 80)), test::on("::", test::port(80, 81)),
                                                 test::on("fd00::1", test::port(443, 443)),
                                                 test::on("10.0.0.1", test::port(443, 444))};
    CHECK_NOTHROW(validate_ports(both_families));
    const std::vector<PortMapping> v6_all_and_one{test::on("::", test::port(80, 80)), test::on("fd00::1", test::port(80, 81))};
    CHECK_THAT(refusal([&] { validate_ports(v6_all_and_one); }),
               Catch::Contains("80/tcp is asked for on \"::\" and on \"fd00::1\""));
    // Another protocol is another port.
    const std::vector<PortMapping> udp_too{test::on("10.0.0.1", test::port(80, 80)), test::port(80, 81, Protocol::udp)};
    CHECK_NOTHROW(validate_ports(udp_too));
    const std::vector<PortMapping> ingress{test::on("10.0.0.1", PortMapping{80, 80, Protocol::tcp, PublishMode::ingress, ""})};
    CHECK_THAT(refusal([&] { validate_ports(ingress); }), Catch::Contains("port 80/tcp on 10.0.0.1 asks for ingress"));
}

TEST_CASE("adoption asks the same of task ids and names as validation, without a message", "[validation]")
{
    for (const std::string& id : {std::string("web-1"), std::string("svc.web_1:replica@node/2+x"), std::string(64, 'a')}) {
        INFO(id);
        CHECK(validation::valid_task_id(id));
        CHECK_NOTHROW(validate_task_id(id));
    }
    for (const std::string& id :
         {std::string(), std::string(65, 'a'), std::string("a b"), std::string("a\x1b[31m"), std::string("a\nb"),
          std::string("caf\xc3\xa9"), std::string("\xff"), std::string("x=y"), std::string("nul\0x", 5)}) {
        INFO(printable(id));
        CHECK_FALSE(validation::valid_task_id(id));
        CHECK_THROWS_AS(validate_task_id(id), Error);
    }
    CHECK(validation::valid_port_name(""));
    CHECK(validation::valid_port_name(std::string(32, 'n')));
    CHECK_FALSE(validation::valid_port_name(std::string(33, 'n')));
    CHECK_FALSE(validation::valid_port_name("web ui"));
    CHECK_FALSE(validation::valid_port_name("\x1b"));
}

TEST_CASE("echoed values are escaped, quoted and cut short the same way everywhere", "[validation][printable]")
{
    CHECK(printable("web-1 8080/tcp") == "web-1 8080/tcp");
    // Control characters, bytes that are not UTF-8, and every other byte outside ASCII.
    CHECK(printable("a\nb\x1b[31m\x07\t\x7f") == R"(a\x0ab\x1b[31m\x07\x09\x7f)");
    CHECK(printable("\xff\xfe\xc3") == R"(\xff\xfe\xc3)");
    CHECK(printable("caf\xc3\xa9 \xc2\x9b") == R"(caf\xc3\xa9 \xc2\x9b)");  // a C1 control (CSI), valid UTF-8
    CHECK(printable(std::string("\0", 1)) == R"(\x00)");
    // A backslash is escaped, so that no escape can be forged; text already escaped keeps its own.
    CHECK(printable(R"(a\x1b)") == R"(a\x5cx1b)");
    CHECK(printable(R"(set \x1b)", Backslash::keep) == R"(set \x1b)");
    CHECK(printable("\\\n", Backslash::keep) == R"(\\x0a)");

    CHECK(quote("web-1") == "\"web-1\"");
    CHECK(quote("a\"b") == R"("a\x22b")");  // the quotes show where the value ends
    CHECK(quote("\"\"") == R"("\x22\x22")");
    CHECK(quote("") == "\"\"");
    CHECK(quote(std::string(echo_limit, 'x')) == "\"" + std::string(echo_limit, 'x') + "\"");
    CHECK(quote(std::string(300, 'x')) == "\"" + std::string(echo_limit, 'x') + "\" (cut short, 300 bytes)");
    CHECK(quote(std::string(10, '"'), 4) == R"("\x22\x22\x22\x22" (cut short, 10 bytes))");
    CHECK(excerpt(std::string(100, '\n'), 2) == R"(\x0a\x0a (cut short, 100 bytes))");
    CHECK(excerpt("short") == "short");

    // 100 KB of newlines is one line of a few hundred bytes.
    const std::string flood(100 * 1024, '\n');
    for (const auto& text : {quote(flood), excerpt(flood)}) {
        CHECK(text.find('\n') == std::string::npos);
        CHECK(text.size() <= 4 * echo_limit + 32);
    }
    // Whatever the bytes, the result is printable ASCII.
    std::string every_byte;
    for (int byte = 0; byte < 256; ++byte)
        every_byte += static_cast<char>(byte);
    for (const auto& text : {printable(every_byte), quote(every_byte, every_byte.size())}) {
        CHECK(std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
    }
    CHECK(printable(every_byte).size() == 95 - 1 + 4 * (256 - 95 + 1));
}
