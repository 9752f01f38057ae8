// SPDX-License-Identifier: Apache-2.0
// Port conflicts between tasks (and with elements of other programs, whatever their comments hold),
// re-publishing, and idempotent unpublish, checked against `nft` output.
#include "hostile_comments.hpp"
#include "printable.hpp"
#include "support.hpp"

#include <algorithm>

using namespace kt;
using Catch::Matchers::Contains;

TEST_CASE_METHOD(FreshNetns, "a port held by another task is a port_conflict that changes nothing", "[conflict]")
{
    HostPortPublisher publisher;
    const std::vector<PortMapping> a_ports = {tcp(8080, 80, "web")};
    publisher.publish_ports("task-a", "10.88.0.2", a_ports);
    const auto before = ruleset();

    const auto e = expect_error([&] { publisher.publish_ports("task-b", "10.88.0.3", std::vector{tcp(8080, 8080)}); });
    INFO(describe(e));
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Contains("8080") && Contains("task-a"));
    CHECK(ruleset() == before);
    CHECK(publisher.published_ports("task-a") == a_ports);
    CHECK(publisher.published_ports("task-b").empty());

    // The same number with the other protocol is another port.
    const std::vector<PortMapping> b_ports = {udp(8080, 8080, "metrics")};
    publisher.publish_ports("task-b", "10.88.0.3", b_ports);
    CHECK(kernel_ports() ==
          std::vector{kernel_port("task-a", "10.88.0.2", a_ports[0]), kernel_port("task-b", "10.88.0.3", b_ports[0])});
    CHECK(publisher.published_ports("task-b") == b_ports);
    const std::vector<PortMapping> c_ports = {sctp(8080, 8080)};
    publisher.publish_ports("task-c", "10.88.0.4", c_ports);
    CHECK(kernel_ports() == std::vector{kernel_port("task-c", "10.88.0.4", c_ports[0]),
                                        kernel_port("task-a", "10.88.0.2", a_ports[0]),
                                        kernel_port("task-b", "10.88.0.3", b_ports[0])});
}

TEST_CASE_METHOD(FreshNetns, "re-publishing a task replaces its mapping", "[conflict]")
{
    // In a table that counts, the backends set follows the destinations; in one that does not, it
    // does not exist.
    const bool counters = GENERATE(false, true);
    HostPortPublisher publisher(PublisherOptions{.counters = counters});
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80, "web"), udp(5353, 53, "dns")});
    publisher.publish_ports("task-b", "10.88.0.3", std::vector{tcp(9000, 9000)});

    SECTION("other ports")
    {
        const std::vector<PortMapping> replacement = {tcp(8443, 443, "tls")};
        publisher.publish_ports("task-a", "10.88.0.2", replacement);
        CHECK(kernel_ports() == std::vector{kernel_port("task-a", "10.88.0.2", replacement[0]),
                                            kernel_port("task-b", "10.88.0.3", tcp(9000, 9000))});
        check_backends(counters, {{"10.88.0.2", "tcp", 443}, {"10.88.0.3", "tcp", 9000}});
        CHECK(publisher.published_ports("task-a") == replacement);
        // The ports it gave up are free for others.
        publisher.publish_ports("task-c", "10.88.0.4", std::vector{tcp(8080, 80)});
        CHECK(publisher.published_ports("task-c") == std::vector{tcp(8080, 80)});
    }
    SECTION("same host port, other container address and port")
    {
        const std::vector<PortMapping> replacement = {tcp(8080, 8081, "web")};
        publisher.publish_ports("task-a", "10.88.0.7", replacement);
        CHECK(kernel_ports() == std::vector{kernel_port("task-a", "10.88.0.7", replacement[0]),
                                            kernel_port("task-b", "10.88.0.3", tcp(9000, 9000))});
        check_backends(counters, {{"10.88.0.3", "tcp", 9000}, {"10.88.0.7", "tcp", 8081}});
    }
    SECTION("a replacement that conflicts keeps the old mapping")
    {
        const auto before = ruleset();
        const auto e = expect_error([&] {
            publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(7000, 70), tcp(9000, 90)});
        });
        INFO(describe(e));
        CHECK(e.code() == errc::port_conflict);
        CHECK_THAT(e.what(), Contains("9000") && Contains("task-b"));
        CHECK(ruleset() == before);
        CHECK(publisher.published_ports("task-a") == std::vector{tcp(8080, 80, "web"), udp(5353, 53, "dns")});
    }
}

TEST_CASE_METHOD(FreshNetns, "in a table that counts, two tasks sharing a destination keep its backend until both are gone",
                 "[conflict][counters]")
{
    HostPortPublisher publisher(PublisherOptions{.counters = true});
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80)});
    publisher.publish_ports("task-b", "10.88.0.2", std::vector{tcp(8081, 80)});
    CHECK(kernel_backends() == std::vector<KernelBackend>{{"10.88.0.2", "tcp", 80}});
    publisher.unpublish_ports("task-a");
    CHECK(kernel_backends() == std::vector<KernelBackend>{{"10.88.0.2", "tcp", 80}});
    CHECK(kernel_ports() == std::vector{kernel_port("task-b", "10.88.0.2", tcp(8081, 80))});
    publisher.unpublish_ports("task-b");
    CHECK(kernel_backends().empty());
    CHECK(kernel_ports().empty());
}

TEST_CASE_METHOD(FreshNetns, "unpublish is idempotent", "[unpublish]")
{
    HostPortPublisher publisher;
    publisher.publish_ports("task-keep", "10.88.0.9", std::vector{tcp(9999, 99)});

    SECTION("a task that was never published")
    {
        const auto before = ruleset();
        MonitorLog log;
        CHECK_NOTHROW(log = monitor_transactions([&] { publisher.unpublish_ports("never-published"); }));
        CHECK(log.generations == 0);
        CHECK(ruleset() == before);
    }
    SECTION("a task unpublished twice")
    {
        publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80), udp(8080, 80)});
        publisher.unpublish_ports("task-a");
        const auto before = ruleset();
        CHECK(kernel_ports() == std::vector{kernel_port("task-keep", "10.88.0.9", tcp(9999, 99))});
        CHECK_NOTHROW(publisher.unpublish_ports("task-a"));
        CHECK(ruleset() == before);
        // And by another publisher that never knew the task.
        HostPortPublisher other;
        CHECK_NOTHROW(other.unpublish_ports("task-a"));
        CHECK(ruleset() == before);
    }
    SECTION("a task whose elements someone already deleted with nft")
    {
        publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80)});
        nft({"delete", "element", "ip", "warren", "ports", "{ tcp . 8080 }"});
        CHECK_NOTHROW(publisher.unpublish_ports("task-a"));
        CHECK(kernel_ports() == std::vector{kernel_port("task-keep", "10.88.0.9", tcp(9999, 99))});
        CHECK(publisher.published_ports("task-a").empty());
    }
}

TEST_CASE_METHOD(FreshNetns, "ports bound to host addresses conflict as docker's do, across processes", "[conflict][host-ip]")
{
    sandbox::add_loopback_addresses({"10.200.1.1", "10.200.2.1"});
    HostPortPublisher publisher;
    const std::vector<PortMapping> a_ports = {on("10.200.1.1", tcp(8080, 80, "web"))};
    publisher.publish_ports("task-a", "10.88.0.2", a_ports);
    // The same port on another address is another port.
    const std::vector<PortMapping> b_ports = {on("10.200.2.1", tcp(8080, 81))};
    publisher.publish_ports("task-b", "10.88.0.3", b_ports);
    CHECK(kernel_ports() ==
          std::vector{kernel_port("task-a", "10.88.0.2", a_ports[0]), kernel_port("task-b", "10.88.0.3", b_ports[0])});
    CHECK(kernel_ports().front().host_ip == "10.200.1.1");
    CHECK(kernel_ports().front().comment == "task=task-a name=web");
    const auto before = ruleset();

    // Another process, with its own view: the same address, or all addresses, conflict.
    ForkedChild child([](int report) {
        HostPortPublisher own;
        for (const auto& port : {on("10.200.1.1", tcp(8080, 82)), tcp(8080, 82)}) {
            try {
                own.publish_ports("task-c", "10.88.0.4", std::vector{port});
                write_all(report, "published\n");
            } catch (const Error& e) {
                write_all(report,
                          std::string(e.code() == errc::port_conflict ? "conflict: " : "other-error: ") + e.what() + "\n");
            }
        }
        return 0;
    });
    REQUIRE(child.wait() == 0);
    INFO("child report:\n" << child.report());
    CHECK_THAT(child.report(), Contains("conflict: host port 8080/tcp on 10.200.1.1 is already published by task \"task-a\""));
    CHECK_THAT(child.report(), Contains("conflict: host port 8080/tcp overlaps host port 8080/tcp on 10.200.1.1"));
    CHECK_THAT(child.report(), !Contains("published\n"));
    CHECK(ruleset() == before);

    // Once both bound ports are gone, all addresses are free, and then no single one is.
    publisher.unpublish_ports("task-a");
    publisher.unpublish_ports("task-b");
    publisher.publish_ports("task-c", "10.88.0.4", std::vector{tcp(8080, 82)});
    const auto e =
        expect_error([&] { publisher.publish_ports("task-d", "10.88.0.5", std::vector{on("10.200.2.1", tcp(8080, 83))}); });
    INFO(describe(e));
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Contains("overlaps host port 8080/tcp (a port on all addresses includes every address)") &&
                             Contains("task \"task-c\""));
    CHECK(kernel_ports() == std::vector{kernel_port("task-c", "10.88.0.4", tcp(8080, 82))});
}

TEST_CASE_METHOD(FreshNetns, "a port held by an element with a hostile comment is a conflict that shows it escaped",
                 "[conflict][untrusted]")
{
    HostPortPublisher publisher;
    const std::vector<PortMapping> web{tcp(8080, 80, "web")};
    publisher.publish_ports("web-1", "10.88.0.2", web);
    nft_script(untrusted::nft_script());
    const auto before = ruleset();
    for (const auto& hostile : untrusted::elements()) {
        const auto e =
            expect_error([&] { publisher.publish_ports("api", "10.88.0.3", std::vector{tcp(hostile.host_port, 80)}); });
        const std::string message = e.what();
        INFO(describe(e));
        CHECK(e.code() == errc::port_conflict);
        CHECK(std::all_of(message.begin(), message.end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
        CHECK_THAT(message, Contains("host port " + std::to_string(hostile.host_port) +
                                     "/tcp is already published by another program (an element without a warren-nft "
                                     "owner, comment " +
                                     warren::nft::quote(hostile.comment) + ") to " + untrusted::destination_ip +
                                     ":80; nothing was changed for task \"api\""));
    }
    // The message is cut short, not the comment's bytes dropped: the long one says how long it is.
    CHECK_THAT(expect_error([] { HostPortPublisher().publish_ports("api", "10.88.0.3", std::vector{tcp(9004, 80)}); }).what(),
               Contains("\"task=" + std::string(59, 'a') + "\" (cut short, 70 bytes)"));
    CHECK(ruleset() == before);
    CHECK(publisher.published_ports("web-1") == web);
    CHECK(publisher.published_ports("api").empty());
}
