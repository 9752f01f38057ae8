// SPDX-License-Identifier: Apache-2.0
// The state lives in the kernel: other publisher objects and other processes see it, change it and
// conflict with it, and a new publisher adopts what an old one left.
#include "support.hpp"

#include <sstream>

using namespace kt;
using Catch::Matchers::Contains;

namespace {

template <class T>
std::string to_text(const std::vector<T>& items)
{
    std::ostringstream out;
    for (const auto& item : items)
        out << item << ";";
    return out.str();
}

const std::vector<PortMapping> a_ports = {tcp(8080, 80, "web"), udp(5353, 53, "dns")};

}  // namespace

TEST_CASE_METHOD(FreshNetns, "a second publisher object shares the kernel's state", "[state]")
{
    HostPortPublisher first;
    HostPortPublisher second;  // exists before the publish: its view is stale and must not matter
    first.publish_ports("task-a", "10.88.0.2", a_ports);

    CHECK(second.published_ports("task-a") == a_ports);
    CHECK(second.all_published_ports() == first.all_published_ports());

    const auto before = ruleset();
    const auto e = expect_error([&] { second.publish_ports("task-b", "10.88.0.3", std::vector{tcp(8080, 8080)}); });
    INFO(describe(e));
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Contains("8080") && Contains("task-a"));
    CHECK(ruleset() == before);

    second.unpublish_ports("task-a");
    CHECK(kernel_ports().empty());
    CHECK(first.published_ports("task-a").empty());
    // The first publisher's view was stale; the port is free and it may take it.
    first.publish_ports("task-b", "10.88.0.3", std::vector{tcp(8080, 8080)});
    CHECK(second.published_ports("task-b") == std::vector{tcp(8080, 8080)});
    CHECK(kernel_ports() == std::vector{kernel_port("task-b", "10.88.0.3", tcp(8080, 8080))});
}

TEST_CASE_METHOD(FreshNetns, "a second process sees, conflicts with and unpublishes the ports", "[state][process]")
{
    // No conntrack-cleanup thread (a udp port would start one): this process forks, and a forked
    // copy of a multi-threaded process may not start threads of its own under ThreadSanitizer.
    HostPortPublisher publisher(PublisherOptions{.conntrack_cleanup = false});
    publisher.publish_ports("task-a", "10.88.0.2", a_ports);

    ForkedChild child([](int report) {
        HostPortPublisher own;
        write_all(report, "ports " + to_text(own.published_ports("task-a")) + "\n");
        try {
            own.publish_ports("task-b", "10.88.0.3", std::vector{tcp(8080, 8080)});
            write_all(report, "published\n");
        } catch (const Error& e) {
            write_all(report, std::string(e.code() == errc::port_conflict ? "conflict " : "other-error ") + e.what() + "\n");
        }
        own.unpublish_ports("task-a");
        own.publish_ports("task-c", "10.88.0.4", std::vector{tcp(9090, 90, "child")});
        write_all(report, "done\n");
        return 0;
    });
    const int status = child.wait();
    INFO("child report:\n" << child.report());
    REQUIRE(status == 0);
    CHECK_THAT(child.report(), Contains("ports " + to_text(a_ports) + "\n"));
    CHECK_THAT(child.report(), Contains("conflict ") && Contains("task-a"));
    CHECK_THAT(child.report(), Contains("done\n"));

    // What the child did is what the kernel and this process's publisher now show.
    CHECK(kernel_ports() == std::vector{kernel_port("task-c", "10.88.0.4", tcp(9090, 90, "child"))});
    CHECK(publisher.published_ports("task-a").empty());
    CHECK(publisher.published_ports("task-c") == std::vector{tcp(9090, 90, "child")});
    const auto e = expect_error([&] { publisher.publish_ports("task-d", "10.88.0.5", std::vector{tcp(9090, 9090)}); });
    INFO(describe(e));
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Contains("task-c"));
}

TEST_CASE_METHOD(FreshNetns, "a new publisher adopts the ports an old one published", "[state][adoption]")
{
    // The adopter does not ask for counters; in a table that counts, it keeps the backends current.
    const bool counters = GENERATE(false, true);
    sandbox::add_loopback_addresses({"10.200.1.1", "10.200.2.1"});
    std::vector<PublishedPort> listed;
    {
        HostPortPublisher old(PublisherOptions{.counters = counters});
        old.publish_ports("task-a", "10.88.0.2", a_ports);
        old.publish_ports("task-b", "10.88.0.3",
                          std::vector{tcp(9000, 9000), on("10.200.2.1", tcp(9443, 2)), tcp(443, 8443, "tls"),
                                      on("10.200.1.1", tcp(9443, 1, "one"))});
        listed = old.all_published_ports();
    }
    // Written down independently of the library: ordered by protocol, host port, then host address
    // (all addresses first).
    const std::vector<PublishedPort> expected = {
        {"task-b", "10.88.0.3", tcp(443, 8443, "tls")},
        {"task-a", "10.88.0.2", tcp(8080, 80, "web")},
        {"task-b", "10.88.0.3", tcp(9000, 9000)},
        {"task-b", "10.88.0.3", on("10.200.1.1", tcp(9443, 1, "one"))},
        {"task-b", "10.88.0.3", on("10.200.2.1", tcp(9443, 2))},
        {"task-a", "10.88.0.2", udp(5353, 53, "dns")},
    };
    CHECK(listed == expected);
    const auto table_before = warren_table();

    HostPortPublisher adopter;
    CHECK(adopter.all_published_ports() == listed);
    CHECK(adopter.published_ports("task-a") == a_ports);
    // Adopting changes nothing in the kernel.
    CHECK(warren_table() == table_before);

    // And the adopter owns them as fully as the old publisher did.
    const auto e = expect_error([&] { adopter.publish_ports("task-x", "10.88.0.9", std::vector{tcp(443, 443)}); });
    CHECK(e.code() == errc::port_conflict);
    const auto bound = expect_error([&] { adopter.publish_ports("task-x", "10.88.0.9", std::vector{tcp(9443, 443)}); });
    CHECK(bound.code() == errc::port_conflict);
    CHECK_THAT(bound.what(), Contains("9443/tcp on 10.200.1.1"));
    adopter.unpublish_ports("task-b");
    CHECK(kernel_ports() ==
          std::vector{kernel_port("task-a", "10.88.0.2", a_ports[0]), kernel_port("task-a", "10.88.0.2", a_ports[1])});
    check_backends(counters, {{"10.88.0.2", "tcp", 80}, {"10.88.0.2", "udp", 53}});
}
