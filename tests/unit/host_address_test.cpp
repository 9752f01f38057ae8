// SPDX-License-Identifier: Apache-2.0
// The host address check over the in-memory fake: a port on an address no interface of the host
// has is refused before anything is sent, on every path a publish takes (publish, reconcile, the
// engine's batches), unless PublisherOptions::check_host_addresses is off.
#include "publisher/host_addresses.hpp"
#include "publisher/publisher_on.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "error_of.hpp"
#include "ports.hpp"

#include <cerrno>
#include <exception>
#include <thread>

using namespace warren::nft;
using ruleset::FakeBackend;
using test::error_of;
using test::on;
using test::port;

namespace {

layout::Address address(const char* text) { return *layout::parse_address(text); }

FakeBackend& with_host_addresses(FakeBackend& fake)
{
    fake.set_host_addresses({address("192.0.2.1"), address("2001:db8::1")});
    return fake;
}

void check_refused(const Error& error, const std::string& address, const std::string& port)
{
    CHECK(error.code() == errc::invalid_argument);
    CHECK(error.kernel_errno() == EADDRNOTAVAIL);
    CHECK_THAT(error.what(), Catch::Contains(address + " is not an address of this host") && Catch::Contains(port) &&
                                 Catch::Contains("check_host_addresses") && Catch::Contains("nothing was changed"));
}

}  // namespace

TEST_CASE("loopback and every-address ports need no interface address; bound ones do", "[host-address]")
{
    CHECK_FALSE(layout::needs_interface_address(address("0.0.0.0")));
    CHECK_FALSE(layout::needs_interface_address(address("::")));
    CHECK_FALSE(layout::needs_interface_address(address("127.0.0.1")));
    CHECK_FALSE(layout::needs_interface_address(address("127.45.6.7")));
    CHECK_FALSE(layout::needs_interface_address(address("::1")));
    CHECK(layout::needs_interface_address(address("128.0.0.1")));
    CHECK(layout::needs_interface_address(address("203.0.113.9")));
    CHECK(layout::needs_interface_address(address("::2")));
    CHECK(layout::needs_interface_address(address("2001:db8::1")));
}

TEST_CASE("a port on an address the host does not have is refused and changes nothing", "[host-address]")
{
    FakeBackend fake;
    with_host_addresses(fake);
    auto publisher = publisher_on(test::share(fake));

    check_refused(error_of([&] { publisher.publish_ports("web", "10.88.0.2", std::vector{on("203.0.113.9", port(8080, 80))}); }),
                  "203.0.113.9", "8080/tcp on 203.0.113.9");
    check_refused(
        error_of([&] {
            publisher.publish_ports("web6", "fd00:88::2", std::vector{port(80, 80), on("2001:db8::9", port(8443, 443))});
        }),
        "2001:db8::9", "8443/tcp on [2001:db8::9]");
    CHECK(fake.commit_attempts() == 0);
    CHECK(fake.state().empty());

    // The host's own addresses, every address, and loopback (never read back) are published.
    CHECK_NOTHROW(publisher.publish_ports("web", "10.88.0.2", std::vector{on("192.0.2.1", port(8080, 80))}));
    CHECK_NOTHROW(publisher.publish_ports("web6", "fd00:88::2", std::vector{on("2001:db8::1", port(8443, 443))}));
    const auto reads = fake.host_address_reads();
    CHECK_NOTHROW(publisher.publish_ports("any", "10.88.0.3", std::vector{port(9000, 90), on("127.0.0.2", port(9001, 91))}));
    CHECK(fake.host_address_reads() == reads);

    // A port the task publishes already is not checked again, even when its address has gone.
    fake.set_host_addresses({});
    CHECK_NOTHROW(publisher.publish_ports("web", "10.88.0.2", std::vector{on("192.0.2.1", port(8080, 80))}));
    CHECK(error_of([&] {
              publisher.publish_ports("web", "10.88.0.2",
                                      std::vector{on("192.0.2.1", port(8080, 80)), on("192.0.2.1", port(8081, 81))});
          }).code() == errc::invalid_argument);
    CHECK(publisher.published_ports("web").size() == 1);
}

TEST_CASE("with check_host_addresses off, an address the host does not have yet is published", "[host-address]")
{
    FakeBackend fake;
    with_host_addresses(fake);
    PublisherOptions options;
    options.check_host_addresses = false;
    auto publisher = publisher_on(test::share(fake), options);
    const auto published = publisher.publish_ports("web", "10.88.0.2", std::vector{on("203.0.113.9", port(8080, 80))});
    REQUIRE(published.size() == 1);
    CHECK(published[0].host_ip == "203.0.113.9");
    CHECK(fake.host_address_reads() == 0);
}

TEST_CASE("reconcile refuses a desired state with an address the host does not have, changing nothing", "[host-address]")
{
    FakeBackend fake;
    with_host_addresses(fake);
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("kept", "10.88.0.5", std::vector{port(7000, 70)});
    const auto commits = fake.commit_attempts();
    std::vector<TaskPorts> desired(2);
    desired[0].task_id = "web";
    desired[0].container_ip = "10.88.0.2";
    desired[0].ports = {on("192.0.2.1", port(8080, 80))};
    desired[1].task_id = "api";
    desired[1].container_ip = "10.88.0.3";
    desired[1].ports = {on("198.51.100.7", port(8081, 81))};
    check_refused(error_of([&] { publisher.reconcile(desired); }), "198.51.100.7", "8081/tcp on 198.51.100.7");
    CHECK(fake.commit_attempts() == commits);
    CHECK(publisher.published_ports("kept").size() == 1);
    desired[1].ports = {on("192.0.2.1", port(8081, 81))};
    CHECK_NOTHROW(publisher.reconcile(desired));
    CHECK(publisher.published_ports("api").size() == 1);
}

TEST_CASE("a batch of the engine refuses only the request with an address the host does not have", "[host-address][engine]")
{
    FakeBackend fake;
    with_host_addresses(fake);
    auto engine = engine_on(test::share(fake));
    std::exception_ptr good_error;
    std::exception_ptr bad_error;
    bool good_done = false;
    bool bad_done = false;
    engine.publish_ports("good", "10.88.0.2", std::vector{on("192.0.2.1", port(8080, 80))},
                         [&](std::exception_ptr error, std::vector<PortMapping>) {
                             good_error = error;
                             good_done = true;
                         });
    engine.publish_ports("bad", "10.88.0.3", std::vector{on("203.0.113.9", port(8081, 81))},
                         [&](std::exception_ptr error, std::vector<PortMapping>) {
                             bad_error = error;
                             bad_done = true;
                         });
    do {
        const auto wait = engine.run();
        if (wait.until)
            std::this_thread::sleep_until(*wait.until);
    } while (engine.busy());
    REQUIRE(good_done);
    REQUIRE(bad_done);
    CHECK_FALSE(good_error);
    REQUIRE(bad_error);
    check_refused(error_of([&] { std::rethrow_exception(bad_error); }), "203.0.113.9", "8081/tcp on 203.0.113.9");
}
