// SPDX-License-Identifier: Apache-2.0
// Dual stack over the in-memory fake: both families' tables in one commit, docker's host address
// semantics, read-back, loopback ports and the flows a change makes stale.
#include "publisher/layout.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "addresses.hpp"
#include "error_of.hpp"
#include "ports.hpp"

#include <netinet/in.h>

#include <algorithm>

using namespace warren::nft;
using ruleset::FakeBackend;
using ruleset::Family;
using test::error_of;
using test::on;
using test::port;

namespace {

bool has_table(const FakeBackend& fake, Family family) { return fake.state().contains({family, "warren"}); }

std::size_t elements(const FakeBackend& fake, Family family, const char* set)
{
    const auto table = fake.state().find({family, "warren"});
    if (table == fake.state().end() || !table->second.sets.contains(set))
        return 0;
    return table->second.sets.at(set).elements.size();
}

const ContainerAddresses dual{"10.88.0.2", "fd00:88::2"};

}  // namespace

TEST_CASE("an IPv4 task never makes an IPv6 table, an IPv6 task never an IPv4 one", "[dual-stack]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("v4", "10.88.0.2", std::vector{port(8080, 80)});
    CHECK(has_table(fake, Family::ip));
    CHECK_FALSE(has_table(fake, Family::ip6));

    FakeBackend fake6;
    auto publisher6 = publisher_on(test::share(fake6));
    publisher6.publish_ports("v6", "fd00:88::2", std::vector{port(8080, 80), on("::", port(8081, 81))});
    CHECK(has_table(fake6, Family::ip6));
    CHECK_FALSE(has_table(fake6, Family::ip));
    CHECK(elements(fake6, Family::ip6, layout::ports_map) == 2);
    CHECK(publisher6.published_ports("v6") == std::vector{port(8080, 80), port(8081, 81)});
}

TEST_CASE("a dual-stack task is one commit over both tables, and reads back as published", "[dual-stack]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const std::vector ports{port(8080, 80), on("0.0.0.0", port(8081, 81)), on("::", port(8082, 82)),
                            on("2001:DB8::10", port(9000, 90)), on("10.0.0.1", port(9001, 91))};
    publisher.publish_ports("web", dual, ports);
    REQUIRE(fake.committed().size() == 1);
    CHECK(fake.committed().back().parts().size() == 2);
    CHECK(elements(fake, Family::ip, layout::ports_map) == 2);         // 8080, 8081
    CHECK(elements(fake, Family::ip6, layout::ports_map) == 2);        // 8080, 8082
    CHECK(elements(fake, Family::ip, layout::bound_ports_map) == 1);   // 9001 on 10.0.0.1
    CHECK(elements(fake, Family::ip6, layout::bound_ports_map) == 1);  // 9000 on 2001:db8::10

    // In host-port order; addresses as inet_ntop writes them; every address of both families as one.
    CHECK(publisher.published_ports("web") == std::vector{port(8080, 80), on("0.0.0.0", port(8081, 81)), on("::", port(8082, 82)),
                                                          on("2001:db8::10", port(9000, 90)), on("10.0.0.1", port(9001, 91))});
    const auto all = publisher.all_published_ports();
    REQUIRE(all.size() == 6);
    CHECK(std::count_if(all.begin(), all.end(), [](const PublishedPort& p) { return p.container_ip == "fd00:88::2"; }) == 3);

    // The same again sends nothing; dropping the IPv6 address drops its ports, in one commit.
    publisher.publish_ports("web", dual, ports);
    CHECK(fake.committed().size() == 1);
    publisher.publish_ports("web", "10.88.0.2", std::vector{port(8080, 80)});
    CHECK(fake.committed().size() == 2);
    CHECK(elements(fake, Family::ip6, layout::ports_map) == 0);
    CHECK(elements(fake, Family::ip6, layout::bound_ports_map) == 0);
    CHECK(publisher.published_ports("web") == std::vector{port(8080, 80)});
    publisher.unpublish_ports("web");
    CHECK(publisher.all_published_ports().empty());
}

TEST_CASE("conflicts follow docker: every address of a family clashes with its addresses, not with the other family's",
          "[dual-stack][conflict]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("v4-all", ContainerAddresses{"10.88.0.2", ""}, std::vector{on("0.0.0.0", port(8080, 80))});
    // [::] and 0.0.0.0 do not conflict, nor does an IPv6 address with an IPv4 port on every address.
    CHECK_NOTHROW(publisher.publish_ports("v6-all", "fd00:88::3", std::vector{on("::", port(8080, 80))}));
    CHECK_NOTHROW(publisher.publish_ports("v6-one", "fd00:88::4", std::vector{on("fd00::1", port(9090, 90))}));
    // An IPv4 address under 0.0.0.0, an IPv6 one under [::]: conflicts, naming the holder.
    const auto v4 = error_of([&] { publisher.publish_ports("x", "10.88.0.5", std::vector{on("10.0.0.1", port(8080, 80))}); });
    CHECK(v4.code() == errc::port_conflict);
    CHECK_THAT(std::string(v4.what()), Catch::Contains("8080/tcp on 10.0.0.1 overlaps host port 8080/tcp") &&
                                           Catch::Contains("task \"v4-all\" to 10.88.0.2:80"));
    const auto v6 = error_of([&] { publisher.publish_ports("x", "fd00:88::5", std::vector{on("fd00::2", port(8080, 80))}); });
    CHECK(v6.code() == errc::port_conflict);
    CHECK_THAT(std::string(v6.what()), Catch::Contains("8080/tcp on [fd00::2] overlaps host port 8080/tcp on [::]") &&
                                           Catch::Contains("to [fd00:88::3]:80"));
    // A dual-stack port on every address clashes in whichever family is taken, and changes nothing.
    const auto before = fake.committed().size();
    CHECK(error_of([&] { publisher.publish_ports("x", dual, std::vector{port(9090, 90)}); }).code() == errc::port_conflict);
    CHECK(fake.committed().size() == before);
}

TEST_CASE("a port on one family's address needs a container address of that family", "[dual-stack][validation]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const auto e = error_of([&] { publisher.publish_ports("x", "10.88.0.2", std::vector{on("fd00::1", port(80, 80))}); });
    CHECK(e.code() == errc::invalid_argument);
    CHECK_THAT(std::string(e.what()), Catch::Contains("no IPv6 container address"));
    CHECK(error_of([&] {
              publisher.publish_ports("x", ContainerAddresses{"fd00::2", ""}, std::vector{port(80, 80)});
          }).code() == errc::invalid_argument);
    CHECK(fake.committed().empty());
}

TEST_CASE("ports the host's loopback addresses reach get route_localnet towards their container first", "[localhost]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("plain", dual, std::vector{port(8080, 80)});
    CHECK(fake.route_localnet().empty());
    publisher.publish_ports("db", dual, std::vector{on("127.0.0.1", port(5432, 5432))});
    CHECK(fake.route_localnet() == std::vector{std::array<std::uint8_t, 4>{10, 88, 0, 2}});

    FakeBackend other;
    auto everywhere = publisher_on(test::share(other), PublisherOptions{.wildcard_on_localhost = true});
    everywhere.publish_ports("web", "10.88.0.7", std::vector{port(8080, 80)});
    CHECK(other.route_localnet() == std::vector{std::array<std::uint8_t, 4>{10, 88, 0, 7}});
}

TEST_CASE("UDP and SCTP ports that go, move or come get their stale connection tracking entries deleted", "[conntrack]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("dns", "10.88.0.2", std::vector{port(5353, 53, Protocol::udp), port(8080, 80)});
    publisher.wait_for_conntrack_cleanup();
    // Entries already NATed to where the port leads now are spared in every case: a client's first
    // datagram after the commit may have made one before the cleanup ran.
    const auto to_container = [](const char* address) {
        return std::vector{ruleset::FlowEndpoint{test::address(address).bytes, 53}};
    };
    // New: only entries that never saw a reply (a client that sent before the port existed).
    REQUIRE(fake.forgotten_flows().size() == 1);
    CHECK(fake.forgotten_flows()[0] ==
          ruleset::FlowMatch{Family::ip, IPPROTO_UDP, 5353, std::nullopt, true, std::nullopt, to_container("10.88.0.2")});

    // Moved to another container: all of them; the unchanged TCP port: none.
    publisher.publish_ports("dns", "10.88.0.3", std::vector{port(5353, 53, Protocol::udp), port(8080, 80)});
    publisher.wait_for_conntrack_cleanup();
    REQUIRE(fake.forgotten_flows().size() == 2);
    CHECK(fake.forgotten_flows()[1] ==
          ruleset::FlowMatch{Family::ip, IPPROTO_UDP, 5353, std::nullopt, false, std::nullopt, to_container("10.88.0.3")});

    // Handed to another task in one reconcile: all of them but the new container's, in one match.
    publisher.reconcile(std::vector{warren::nft::TaskPorts{"dns-2", "10.88.0.4", {port(5353, 53, Protocol::udp)}}});
    publisher.wait_for_conntrack_cleanup();
    REQUIRE(fake.forgotten_flows().size() == 3);
    CHECK(fake.forgotten_flows()[2] ==
          ruleset::FlowMatch{Family::ip, IPPROTO_UDP, 5353, std::nullopt, false, std::nullopt, to_container("10.88.0.4")});

    // Gone, on one IPv6 address: matched on that address.
    publisher.publish_ports("dns6", "fd00:88::2", std::vector{on("fd00::1", port(53, 53, Protocol::sctp))});
    publisher.unpublish_ports("dns6");
    publisher.wait_for_conntrack_cleanup();
    REQUIRE(fake.forgotten_flows().size() == 5);
    const auto gone = fake.forgotten_flows()[4];
    CHECK(gone.family == Family::ip6);
    CHECK(gone.l4proto == IPPROTO_SCTP);
    CHECK_FALSE(gone.unreplied_only);
    CHECK(gone.address == test::address("fd00::1").bytes);

    FakeBackend quiet;
    auto off = publisher_on(test::share(quiet), PublisherOptions{.conntrack_cleanup = false});
    off.publish_ports("dns", "10.88.0.2", std::vector{port(5353, 53, Protocol::udp)});
    off.unpublish_ports("dns");
    off.wait_for_conntrack_cleanup();
    CHECK(quiet.forgotten_flows().empty());
}

TEST_CASE("a failed conntrack cleanup is reported, and the change stands", "[conntrack]")
{
    class Refusing final : public ruleset::ForwardingBackend {
    public:
        using ForwardingBackend::ForwardingBackend;
        std::size_t forget_flows(std::span<const ruleset::FlowMatch>) override
        {
            throw Error(errc::kernel_error, "forget flows: Operation not permitted", EPERM, "forget flows");
        }
    };
    FakeBackend fake;
    std::vector<std::string> warnings;
    auto publisher =
        publisher_on(std::make_unique<Refusing>(fake), PublisherOptions{.logger = [&](LogLevel level, std::string_view message) {
                         if (level == LogLevel::warning)  // a warning, on the cleanup thread
                             warnings.emplace_back(message);
                     }});
    CHECK_NOTHROW(publisher.publish_ports("dns", "10.88.0.2", std::vector{port(5353, 53, Protocol::udp)}));
    publisher.wait_for_conntrack_cleanup();
    CHECK(elements(fake, Family::ip, layout::ports_map) == 1);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("was committed") && Catch::Contains("Operation not permitted"));
}

TEST_CASE("reconcile takes dual-stack tasks", "[dual-stack][reconcile]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.reconcile(
        std::vector<TaskPorts>{{"web", "10.88.0.2", {port(8080, 80)}, "fd00:88::2"}, {"v6", "fd00:88::3", {port(9090, 90)}}});
    CHECK(fake.committed().size() == 1);
    CHECK(elements(fake, Family::ip, layout::ports_map) == 1);
    CHECK(elements(fake, Family::ip6, layout::ports_map) == 2);
    CHECK(error_of([&] {
              publisher.reconcile(std::vector<TaskPorts>{{"web", "fd00:88::2", {port(8080, 80)}, "fd00:88::3"}});
          }).code() == errc::invalid_argument);
}

TEST_CASE("publishing the same loopback port again sets route_localnet again; a conflict sets nothing", "[localhost]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const std::vector ports{on("127.0.0.1", port(5432, 5432))};
    publisher.publish_ports("db", "10.88.0.2", ports);
    const auto commits = fake.committed().size();
    publisher.publish_ports("db", "10.88.0.2", ports);
    CHECK(fake.committed().size() == commits);
    CHECK(fake.route_localnet().size() == 2);
    CHECK(error_of([&] { publisher.publish_ports("other", "10.88.0.9", ports); }).code() == errc::port_conflict);
    CHECK(fake.route_localnet().size() == 2);
}
