// SPDX-License-Identifier: Apache-2.0
// Adopting a table someone else changed, over the fake backend: what a publish repairs in its own
// transaction (a dormant table, a chain's policy), what it refuses before sending anything, and
// elements with comments a publisher never writes (foreign, shown escaped).
#include "printable.hpp"
#include "publisher/layout.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "error_of.hpp"
#include "addresses.hpp"
#include "ports.hpp"
#include "../kernel/hostile_comments.hpp"

#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace warren::nft;
using ruleset::FakeBackend;
using test::error_of;

namespace {

const std::vector<PortMapping> web{test::port(8080, 80)};
const std::vector<PortMapping> other{test::port(9090, 90)};

// A fake kernel holding the table a first publish creates, with one port of task-a.
struct PublishedTable {
    PublishedTable() { publisher_on(test::share(fake)).publish_ports("task-a", "10.88.0.5", web); }
    // The table as another program leaves it: changed behind the publisher's back.
    FakeBackend::TableState& table() { return fake.mutable_state().at({ruleset::Family::ip, "warren"}); }
    FakeBackend fake;
};

}  // namespace

TEST_CASE("a publish wakes a dormant table in its own transaction", "[publisher][adopt]")
{
    PublishedTable kernel;
    kernel.table().flags = NFT_TABLE_F_DORMANT;
    kernel.fake.bump_generation();
    const auto committed = kernel.fake.committed().size();

    auto publisher = publisher_on(test::share(kernel.fake));
    CHECK(publisher.published_ports("task-a") == web);  // reading changes nothing
    CHECK(kernel.table().flags == NFT_TABLE_F_DORMANT);
    // Even publishing exactly what is published: a publish that succeeds must carry traffic.
    publisher.publish_ports("task-a", "10.88.0.5", web);
    CHECK(kernel.table().flags == 0);
    REQUIRE(kernel.fake.committed().size() == committed + 1);
    CHECK(publisher.published_ports("task-a") == web);
}

TEST_CASE("a publish sets a chain's policy drop back to accept", "[publisher][adopt]")
{
    PublishedTable kernel;
    kernel.table().chains.at("prerouting").declaration.hook->policy_accept = false;
    kernel.fake.bump_generation();
    publisher_on(test::share(kernel.fake)).publish_ports("task-b", "10.88.0.6", other);
    CHECK(kernel.table().chains.at("prerouting").declaration.hook->policy_accept);
    CHECK(kernel.table().sets.at("ports").elements.size() == 2);
}

TEST_CASE("a table owned by another process is refused before anything is sent", "[publisher][adopt]")
{
    PublishedTable kernel;
    kernel.table().flags = NFT_TABLE_F_OWNER;
    kernel.table().owner = FakeBackend::port_id + 1;
    kernel.fake.bump_generation();
    const auto state = kernel.fake.state();
    const auto attempts = kernel.fake.commit_attempts();

    auto publisher = publisher_on(test::share(kernel.fake));
    const auto e = error_of([&] { publisher.publish_ports("task-b", "10.88.0.6", other); });
    CHECK(e.code() == errc::kernel_error);
    CHECK_THAT(e.what(), Catch::StartsWith("table ip warren is owned by another process (netlink port id 1001): only "
                                           "that process may change it"));
    CHECK(kernel.fake.commit_attempts() == attempts);
    CHECK(kernel.fake.state() == state);

    // What the kernel itself would have answered, and why it is not left to answer: EPERM reads as
    // missing privileges.
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    tx.add(layout::table(ruleset::Family::ip));
    const auto refused = error_of([&] { kernel.fake.commit(tx, std::nullopt); });
    CHECK(refused.kernel_errno() == EPERM);
    CHECK(refused.code() == errc::permission_denied);
}

TEST_CASE("a map that would lose published ports is refused, and nothing is changed", "[publisher][adopt]")
{
    PublishedTable kernel;
    kernel.table().sets.at("ports").declaration.flags = NFT_SET_TIMEOUT;
    kernel.table().sets.at("ports").declaration.timeout = 2000;
    kernel.fake.bump_generation();
    const auto state = kernel.fake.state();
    const auto attempts = kernel.fake.commit_attempts();

    auto publisher = publisher_on(test::share(kernel.fake));
    for (const auto& call : std::vector<std::function<void()>>{[&] { publisher.publish_ports("task-b", "10.88.0.6", other); },
                                                               [&] { publisher.unpublish_ports("task-a"); }}) {
        const auto e = error_of(call);
        CHECK(e.code() == errc::kernel_error);
        CHECK(std::string(e.what()) ==
              "map ip warren ports has flags timeout: its elements would expire; remove the table with `nft delete "
              "table ip warren` and publish again: kernel error");
    }
    CHECK(kernel.fake.commit_attempts() == attempts);
    CHECK(kernel.fake.state() == state);
}

namespace {

const auto& hostile_comments = untrusted::elements();
using Hostile = untrusted::Element;

ruleset::Element hostile_element(const Hostile& hostile)
{
    return layout::port_element({Protocol::tcp, hostile.host_port}, {test::address(untrusted::destination_ip), Protocol::tcp, 80},
                                hostile.comment);
}

bool printable_ascii(std::string_view text)
{
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// What every reader of the publisher sees of the table: the hostile elements as foreign ports with
// their comments escaped, and task-a's port as it was.
void check_adopted_as_foreign(const HostPortPublisher& publisher)
{
    const auto all = publisher.all_published_ports();
    std::size_t foreign = 0;
    for (const auto& port : all) {
        INFO(port.task_id << " " << port.mapping.host_port << " " << printable(port.mapping.name));
        CHECK(printable_ascii(port.task_id));
        CHECK(printable_ascii(port.mapping.name));
        if (port.task_id == "task-a") {
            CHECK(port.mapping == web.front());
            continue;
        }
        CHECK(port.task_id.empty());
        const auto hostile = std::find_if(hostile_comments.begin(), hostile_comments.end(),
                                          [&](const Hostile& h) { return h.host_port == port.mapping.host_port; });
        REQUIRE(hostile != hostile_comments.end());
        CHECK(port.mapping.name == printable(hostile->comment));
        ++foreign;
    }
    CHECK(foreign == hostile_comments.size());
    CHECK(all.size() == hostile_comments.size() + 1);
    CHECK(publisher.published_ports("task-a") == web);
}

}  // namespace

TEST_CASE("elements whose comment a publisher does not write are foreign, not tasks", "[publisher][adopt][untrusted]")
{
    using layout::parse_owner_comment;
    const auto owner = parse_owner_comment("task=web-1 name=http");
    REQUIRE(owner);
    CHECK(owner->task_id == "web-1");
    CHECK(owner->name == "http");
    CHECK(parse_owner_comment("task=svc.web_1:replica@node/2+x")->name.empty());
    CHECK(parse_owner_comment("task=" + std::string(64, 'a')));
    CHECK(parse_owner_comment(layout::owner_comment("t", std::string(32, 'n'))));
    for (const auto& hostile : hostile_comments) {
        INFO(printable(hostile.comment));
        CHECK_FALSE(parse_owner_comment(hostile.comment));
    }
    CHECK_FALSE(parse_owner_comment("task=ok name=" + std::string(33, 'n')));
    CHECK_FALSE(parse_owner_comment("web-1"));
    CHECK_FALSE(parse_owner_comment(""));
}

TEST_CASE("a table with hostile comments is adopted with them as foreign elements, escaped", "[publisher][adopt][untrusted]")
{
    PublishedTable kernel;
    // Written behind the publisher's back before it starts: adopted from the table's snapshot.
    const bool before_start = GENERATE(true, false);
    INFO((before_start ? "in the table when the publisher starts" : "announced while it runs"));
    if (before_start) {
        for (const auto& hostile : hostile_comments) {
            auto element = hostile_element(hostile);
            kernel.table().sets.at("ports").elements.emplace(element.key, element);
        }
        kernel.fake.bump_generation();
    }
    auto publisher = publisher_on(test::share(kernel.fake));
    if (!before_start) {
        CHECK(publisher.published_ports("task-a") == web);  // following the table from here on
        ruleset::Transaction tx(layout::table(ruleset::Family::ip));
        for (const auto& hostile : hostile_comments)
            tx.add(hostile_element(hostile));
        kernel.fake.commit(tx, std::nullopt);
    }
    check_adopted_as_foreign(publisher);

    // The publisher's own tasks work as ever beside them.
    publisher.publish_ports("task-b", "10.88.0.6", other);
    publisher.unpublish_ports("task-a");
    CHECK(publisher.published_ports("task-b") == other);
    CHECK(publisher.published_ports("task-a").empty());
    CHECK(kernel.table().sets.at("ports").elements.size() == hostile_comments.size() + 1);

    // A port one of them holds is a conflict that names it by its comment, escaped, on one line.
    for (const auto& hostile : hostile_comments) {
        const auto e = error_of(
            [&] { publisher.publish_ports("task-c", "10.88.0.7", std::vector<PortMapping>{test::port(hostile.host_port, 80)}); });
        const std::string message = e.what();
        INFO(message);
        CHECK(e.code() == errc::port_conflict);
        CHECK(printable_ascii(message));
        CHECK_THAT(message, Catch::Contains("is already published by another program (an element without a warren-nft "
                                            "owner, comment " +
                                            quote(hostile.comment) + ") to " + untrusted::destination_ip + ":80"));
    }
    CHECK(publisher.published_ports("task-c").empty());
}

TEST_CASE("a conflict with a foreign element names the bytes of its comment as they are, escaped", "[publisher][untrusted]")
{
    PublishedTable kernel;
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    tx.add(hostile_element({9100, "task=x\n\x1b[2J\"quoted\"\\" + std::string(200, 'z')}));
    tx.add(hostile_element({9101, ""}));
    kernel.fake.commit(tx, std::nullopt);
    auto publisher = publisher_on(test::share(kernel.fake));
    const auto long_one = error_of([&] { publisher.publish_ports("t", "10.88.0.7", std::vector{test::port(9100, 80)}); });
    CHECK_THAT(long_one.what(), Catch::Contains(R"(comment "task=x\x0a\x1b[2J\x22quoted\x22\x5czzzz)") &&
                                    Catch::Contains("(cut short, 220 bytes)"));
    CHECK(std::string(long_one.what()).size() < 400);
    const auto without = error_of([&] { publisher.publish_ports("t", "10.88.0.7", std::vector{test::port(9101, 80)}); });
    CHECK_THAT(without.what(), Catch::Contains("by another program (an element without a warren-nft owner) to 10.99.0.9:80"));
}
