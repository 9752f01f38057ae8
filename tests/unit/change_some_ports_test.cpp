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
