// SPDX-License-Identifier: Apache-2.0
// One atomic nf_tables transaction per publish: a publish the kernel or the conflict check refuses
// leaves the ruleset byte-identical, and `nft monitor` sees exactly one transaction per change.
#include "support.hpp"

#include <algorithm>
#include <cerrno>

using namespace kt;
using Catch::Matchers::Contains;

namespace {

int count_lines_starting(const MonitorLog& log, const std::string& prefix)
{
    return static_cast<int>(
        std::count_if(log.lines.begin(), log.lines.end(), [&](const std::string& line) { return line.starts_with(prefix); }));
}

// Elements added to map ports; nft monitor says "create" for adds that must not replace (NLM_F_EXCL).
int added_ports(const MonitorLog& log)
{
    return count_lines_starting(log, "add element ip warren ports") + count_lines_starting(log, "create element ip warren ports");
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "a refused publish leaves the ruleset and the publisher's view unchanged", "[atomic]")
{
    HostPortPublisher publisher;
    const std::vector<PortMapping> a_ports = {tcp(8080, 80, "web")};
    publisher.publish_ports("task-a", "10.88.0.2", a_ports);

    SECTION("another task already holds the port")
    {
        const auto before = ruleset();
        const auto view = publisher.all_published_ports();
        const std::vector<PortMapping> ports = {tcp(8080, 8080)};
        const auto e = expect_error([&] { publisher.publish_ports("task-b", "10.88.0.3", ports); });
        INFO(describe(e));
        CHECK(e.code() == errc::port_conflict);
        CHECK(ruleset() == before);
        CHECK(publisher.all_published_ports() == view);
        CHECK(publisher.published_ports("task-b").empty());
    }

    SECTION("a multi-port publish whose last port conflicts publishes none of its ports")
    {
        const auto before = ruleset();
        const auto view = publisher.all_published_ports();
        const std::vector<PortMapping> ports = {tcp(7001, 1), tcp(7002, 2), tcp(7003, 3), tcp(8080, 4)};
        const auto e = expect_error([&] { publisher.publish_ports("task-b", "10.88.0.3", ports); });
        INFO(describe(e));
        CHECK(e.code() == errc::port_conflict);
        CHECK(ruleset() == before);
        CHECK(kernel_ports() == std::vector{kernel_port("task-a", "10.88.0.2", a_ports[0])});
        CHECK(publisher.all_published_ports() == view);
        CHECK(publisher.published_ports("task-b").empty());
        // The refused request was not half-applied in the publisher either: the same ports minus the
        // conflicting one now publish fine, and only they are there.
        const std::vector<PortMapping> fine(ports.begin(), ports.end() - 1);
        publisher.publish_ports("task-b", "10.88.0.3", fine);
        CHECK(publisher.published_ports("task-b") == fine);
        CHECK(kernel_ports().size() == 4);
    }

    SECTION("a foreign element (no owner comment) added with nft holds the port")
    {
        nft({"add", "element", "ip", "warren", "ports", "{ tcp . 9090 : 10.99.0.9 . 90 }"});
        const auto before = ruleset();
        const auto view = publisher.all_published_ports();
        const std::vector<PortMapping> ports = {tcp(7001, 1), tcp(9090, 9090)};
        const auto e = expect_error([&] { publisher.publish_ports("task-b", "10.88.0.3", ports); });
        INFO(describe(e));
        CHECK(e.code() == errc::port_conflict);
        CHECK_THAT(e.what(), Contains("9090"));
        CHECK(ruleset() == before);
        CHECK(publisher.all_published_ports() == view);
        CHECK(publisher.published_ports("task-b").empty());
        // Re-publishing task-a elsewhere leaves the foreign element alone.
        publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8081, 81)});
        const auto now = kernel_ports();
        CHECK(std::count_if(now.begin(), now.end(),
                            [](const KernelPort& p) { return p.host_port == 9090 && p.comment.empty(); }) == 1);
    }

    SECTION("the same port added behind the publisher's back between two calls")
    {
        // The publisher's view predates the foreign element; the kernel (or a re-read) must still refuse.
        const std::vector<PortMapping> ports = {tcp(7001, 1), tcp(9191, 9191)};
        nft({"add", "element", "ip", "warren", "ports", "{ tcp . 9191 : 10.99.0.9 . 91 }"});
        const auto before = ruleset();
        const auto e = expect_error([&] { publisher.publish_ports("task-b", "10.88.0.3", ports); });
        INFO(describe(e));
        CHECK(e.code() == errc::port_conflict);
        CHECK(ruleset() == before);
        CHECK(publisher.published_ports("task-b").empty());
    }
}

TEST_CASE_METHOD(FreshNetns, "a publish refused by the kernel itself is not half-applied", "[atomic]")
{
    // A table of an earlier build, with a backends set that does not count (which the first change
    // deletes) and another program's chain whose rule looks that set up: the kernel refuses to delete
    // the set (EBUSY) in the middle of a batch that also creates a map, the chains, their rules and the
    // ports. (A publisher refuses a map whose size would make the kernel refuse elements before it
    // sends anything.)
    nft_script(
        "table ip warren {\n"
        "  map ports { type inet_proto . inet_service : ipv4_addr . inet_service;\n"
        "    elements = { tcp . 9090 comment \"task=task-a\" : 10.88.0.2 . 90 } }\n"
        "  set backends { type ipv4_addr . inet_proto . inet_service; }\n"
        "  chain other { ip daddr . meta l4proto . th dport @backends accept; }\n"
        "}\n");
    const auto before = ruleset();
    HostPortPublisher publisher;
    const auto view = publisher.all_published_ports();
    REQUIRE(view.size() == 1);

    const std::vector<PortMapping> b_ports = {tcp(7001, 1), tcp(7002, 2)};
    const auto e = expect_error([&] { publisher.publish_ports("task-b", "10.88.0.3", b_ports); });
    INFO(describe(e));
    CHECK(e.code() == errc::kernel_error);
    CHECK(e.kernel_errno() == EBUSY);
    CHECK(ruleset() == before);
    CHECK(publisher.all_published_ports() == view);
    CHECK(publisher.published_ports("task-b").empty());

    // Without the other program's rule the same publish goes through, and the table is complete.
    nft({"flush", "chain", "ip", "warren", "other"});
    publisher.publish_ports("task-b", "10.88.0.3", b_ports);
    CHECK(kernel_ports().size() == 3);
    CHECK(warren_chains().size() == 8);  // ours, and the other program's
}

TEST_CASE_METHOD(FreshNetns, "every publish, re-publish and unpublish is one nf_tables transaction", "[atomic]")
{
    HostPortPublisher publisher;
    const std::vector<PortMapping> ports = {tcp(8080, 80, "web"), udp(5353, 53, "dns"), tcp(8443, 443)};

    auto log = monitor_transactions([&] { publisher.publish_ports("task-a", "10.88.0.2", ports); });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    CHECK(added_ports(log) == 3);
    CHECK(kernel_ports().size() == 3);

    // Replacing the mapping: two ports go, one stays, one comes; all in one transaction.
    const std::vector<PortMapping> replacement = {tcp(8080, 80, "web"), tcp(9000, 900)};
    log = monitor_transactions([&] { publisher.publish_ports("task-a", "10.88.0.2", replacement); });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    CHECK(added_ports(log) == 1);
    CHECK(count_lines_starting(log, "delete element ip warren ports") == 2);
    CHECK(kernel_ports() ==
          std::vector{kernel_port("task-a", "10.88.0.2", replacement[0]), kernel_port("task-a", "10.88.0.2", replacement[1])});

    // Publishing exactly what is published changes nothing.
    log = monitor_transactions([&] { publisher.publish_ports("task-a", "10.88.0.2", replacement); });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 0);

    log = monitor_transactions([&] { publisher.unpublish_ports("task-a"); });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    CHECK(count_lines_starting(log, "delete element ip warren ports") == 2);
    CHECK(kernel_ports().empty());
    check_backends(false, {});  // nothing per destination, where the kernel allows

    // A refused publish commits nothing at all.
    publisher.publish_ports("task-a", "10.88.0.2", ports);
    log = monitor_transactions([&] {
        const auto e = expect_error([&] {
            publisher.publish_ports("task-b", "10.88.0.3", std::vector{tcp(7000, 7), tcp(8443, 1)});
        });
        CHECK(e.code() == errc::port_conflict);
    });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 0);
}
