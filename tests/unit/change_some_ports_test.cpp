// SPDX-License-Identifier: Apache-2.0
// add_ports() and remove_ports() over the in-memory fake backend: one transaction each, the task's
// other ports kept, and a change another writer commits meanwhile kept too.
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "error_of.hpp"
#include "ports.hpp"

using namespace warren::nft;
using ruleset::FakeBackend;
using test::error_of;

namespace {

const ContainerAddresses container{"10.88.0.5", ""};

}  // namespace

TEST_CASE("add_ports publishes beside the task's ports in one transaction", "[publisher][change]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", container, std::vector{test::port(8080, 80)});
    const auto commits = fake.committed().size();

    const auto all = publisher.add_ports("task-a", container, std::vector{test::port(8443, 443, Protocol::tcp, "tls")});
    CHECK(fake.committed().size() == commits + 1);
    CHECK(all == std::vector{test::port(8080, 80), test::port(8443, 443, Protocol::tcp, "tls")});
    CHECK(publisher.published_ports("task-a") == all);

    // The same host port again replaces that port only.
    publisher.add_ports("task-a", container, std::vector{test::port(8080, 81)});
    CHECK(publisher.published_ports("task-a") == std::vector{test::port(8080, 81), test::port(8443, 443, Protocol::tcp, "tls")});

    // A task without ports gets them as a publish would give them.
    publisher.add_ports("task-b", container, std::vector{test::port(9090, 90)});
    CHECK(publisher.published_ports("task-b") == std::vector{test::port(9090, 90)});
}

TEST_CASE("add_ports refuses other container addresses and conflicts, changing nothing", "[publisher][change]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", container, std::vector{test::port(8080, 80)});
    publisher.publish_ports("task-b", "10.88.0.6", std::vector{test::port(9090, 90)});
    const auto state = fake.state();

    const auto moved = error_of([&] { publisher.add_ports("task-a", {"10.88.0.7", ""}, std::vector{test::port(8443, 443)}); });
    CHECK(moved.code() == errc::invalid_argument);
    CHECK_THAT(moved.what(), Catch::Contains("10.88.0.5") && Catch::Contains("10.88.0.7"));
    CHECK(error_of([&] { publisher.add_ports("task-a", container, std::vector{test::port(9090, 91)}); }).code() ==
          errc::port_conflict);
    CHECK(error_of([&] { publisher.add_ports("task-a", container, std::vector{test::port(8443, 0)}); }).code() ==
          errc::invalid_argument);
    CHECK(fake.state() == state);
}

TEST_CASE("remove_ports removes the named host ports and keeps the rest", "[publisher][change]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports(
        "task-a", container,
        std::vector{test::port(8080, 80), test::port(5353, 53, Protocol::udp), test::on("10.0.0.1", test::port(8443, 443))});
    const auto commits = fake.committed().size();

    // Another protocol, another address or an unknown port names nothing: no transaction.
    publisher.remove_ports(
        "task-a", std::vector{test::port(8080, 0, Protocol::udp), test::on("10.0.0.2", test::port(8443, 0)), test::port(1, 0)});
    CHECK(fake.committed().size() == commits);

    const auto left = publisher.remove_ports(
        "task-a", std::vector{test::port(5353, 0, Protocol::udp), test::on("10.0.0.1", test::port(8443, 0))});
    CHECK(fake.committed().size() == commits + 1);
    CHECK(left == std::vector{test::port(8080, 80)});
    CHECK(publisher.published_ports("task-a") == left);

    // 0.0.0.0 names the port on every address; the last port gone, the task has none.
    CHECK(publisher.remove_ports("task-a", std::vector{test::on("0.0.0.0", test::port(8080, 0))}).empty());
    CHECK(publisher.all_published_ports().empty());
    CHECK_NOTHROW(publisher.remove_ports("never-published", std::vector{test::port(8080, 0)}));
}

TEST_CASE("a port another writer adds meanwhile is kept by add_ports and remove_ports", "[publisher][change]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    auto other = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", container, std::vector{test::port(8080, 80), test::port(8081, 81)});
    // Read once now, so that the first attempt below plans from a view the other writer then makes stale.
    CHECK(publisher.published_ports("task-a").size() == 2);

    int injected = 0;
    fake.before_commit = [&](const ruleset::Commit&) {
        if (injected++ == 0)
            other.add_ports("task-a", container, std::vector{test::port(9000, 90)});
    };
    publisher.add_ports("task-a", container, std::vector{test::port(9001, 91)});
    CHECK(injected == 3);  // ours refused as stale, theirs, ours again
    CHECK(publisher.published_ports("task-a") ==
          std::vector{test::port(8080, 80), test::port(8081, 81), test::port(9000, 90), test::port(9001, 91)});

    injected = 0;
    fake.before_commit = [&](const ruleset::Commit&) {
        if (injected++ == 0)
            other.add_ports("task-a", container, std::vector{test::port(9002, 92)});
    };
    publisher.remove_ports("task-a", std::vector{test::port(8081, 0)});
    CHECK(publisher.published_ports("task-a") ==
          std::vector{test::port(8080, 80), test::port(9000, 90), test::port(9001, 91), test::port(9002, 92)});
}

TEST_CASE("add_ports takes the task's families as they are: none dropped, none added", "[publisher][change][dual-stack]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const ContainerAddresses dual{"10.88.0.5", "fd00::5"};
    publisher.publish_ports("task-dual", dual, std::vector{test::port(8080, 80)});
    publisher.publish_ports("task-v4", container, std::vector{test::port(9090, 90)});
    const auto state = fake.state();

    // Its IPv6 address left out, the dual-stack task would lose the IPv6 half of 8080.
    const auto dropped = error_of([&] { publisher.add_ports("task-dual", container, std::vector{test::port(9000, 90)}); });
    CHECK(dropped.code() == errc::invalid_argument);
    CHECK_THAT(dropped.what(), Catch::Contains("fd00::5") && Catch::Contains("none of its family"));
    // An IPv6 address given to an IPv4 task would publish its every-address ports in IPv6 too.
    const auto added = error_of([&] { publisher.add_ports("task-v4", dual, std::vector{test::port(9001, 91)}); });
    CHECK(added.code() == errc::invalid_argument);
    CHECK_THAT(added.what(), Catch::Contains("no IPv6 container address"));
    CHECK(fake.state() == state);
}

TEST_CASE("0.0.0.0 and :: name one family's half of a port on every address of both", "[publisher][change][dual-stack]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const ContainerAddresses dual{"10.88.0.5", "fd00::5"};
    auto both = test::port(8080, 80);
    both.access.allow = {"10.0.0.0/8", "fd00::/8"};
    publisher.publish_ports("task-a", dual, std::vector{both});

    // Replacing the IPv4 half keeps the IPv6 one, with its own sources only.
    const auto all = publisher.add_ports("task-a", dual, std::vector{test::on("0.0.0.0", test::port(8080, 81))});
    auto ipv6_half = test::on("::", test::port(8080, 80));
    ipv6_half.access.allow = {"fd00::/8"};
    CHECK_THAT(all, Catch::UnorderedEquals(std::vector{test::on("0.0.0.0", test::port(8080, 81)), ipv6_half}));
    CHECK_THAT(publisher.published_ports("task-a"), Catch::UnorderedEquals(all));

    // :: removes the IPv6 half only; the task then publishes in IPv4 alone, where its port on every
    // address reads back as "".
    CHECK(publisher.remove_ports("task-a", std::vector{test::on("::", test::port(8080, 0))}) ==
          std::vector{test::port(8080, 81)});
    // On an IPv4 task, :: names nothing.
    publisher.publish_ports("task-v4", container, std::vector{test::port(9090, 90)});
    const auto commits = fake.committed().size();
    CHECK(publisher.remove_ports("task-v4", std::vector{test::on("::", test::port(9090, 0))}) ==
          std::vector{test::port(9090, 90)});
    CHECK(fake.committed().size() == commits);
}

TEST_CASE("remove_ports refuses what names no host port, changing nothing", "[publisher][change]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", container, std::vector{test::port(8080, 80), test::port(8081, 81)});
    const auto state = fake.state();
    auto no_protocol = test::port(8080, 0);
    no_protocol.protocol = static_cast<Protocol>(99);
    for (const auto& bad : {test::on("10.0.0.1x", test::port(8080, 0)), no_protocol, test::port(0, 80)}) {
        INFO(bad.host_ip << " " << bad.host_port);
        CHECK(error_of([&] {
                  publisher.remove_ports("task-a", std::vector{test::port(8081, 0), bad});
              }).code() == errc::invalid_argument);
    }
    CHECK(fake.state() == state);
}

TEST_CASE("add_ports asked again for an automatic host port keeps the one the task has", "[publisher][change]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const auto first = publisher.add_ports("task-a", container, std::vector{test::port(0, 80)});
    REQUIRE(first.size() == 1);
    CHECK(first.front().host_port != 0);
    CHECK(publisher.add_ports("task-a", container, std::vector{test::port(0, 80)}) == first);
}
