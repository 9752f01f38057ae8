// SPDX-License-Identifier: Apache-2.0
// The publisher's policy over the in-memory fake backend.
#include "publisher/layout.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "error_of.hpp"
#include "addresses.hpp"
#include "ports.hpp"

#include <algorithm>
#include <cerrno>
#include <thread>

using namespace warren::nft;
using ruleset::FakeBackend;
using test::error_of;

namespace {

const FakeBackend::TableState& warren_table(const FakeBackend& fake) { return fake.state().at({ruleset::Family::ip, "warren"}); }

const std::map<ruleset::Bytes, ruleset::Element>& elements(const FakeBackend& fake, const std::string& set)
{
    return warren_table(fake).sets.at(set).elements;
}

std::vector<std::string> comments(const FakeBackend& fake)
{
    std::vector<std::string> out;
    for (const auto& [key, element] : elements(fake, layout::ports_map))
        out.push_back(element.comment);
    return out;
}

const std::vector<PortMapping> web{{8080, 80, Protocol::tcp, PublishMode::host, "http"},
                                   {8443, 443, Protocol::tcp, PublishMode::host, "https"},
                                   {5353, 53, Protocol::udp, PublishMode::host, ""}};

// How many lookups of `set` the rule makes.
long lookups_of(const ruleset::Rule& rule, const std::string& set)
{
    return std::count_if(rule.expressions.begin(), rule.expressions.end(), [&](const ruleset::Expression& expression) {
        const auto* lookup = std::get_if<ruleset::expr::Lookup>(&expression);
        return lookup && lookup->set == set;
    });
}

// How many operations of the transaction are on map or set elements (the rest build the table).
std::size_t element_operations(const ruleset::Commit& transaction)
{
    const auto& operations = transaction.operations();
    return static_cast<std::size_t>(std::count_if(operations.begin(), operations.end(), [](const ruleset::Operation& operation) {
        return std::holds_alternative<ruleset::Element>(operation.object);
    }));
}

}  // namespace

TEST_CASE("a publisher that only reads or unpublishes creates nothing", "[publisher][lazy]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    CHECK(publisher.all_published_ports().empty());
    CHECK(publisher.published_ports("task-a").empty());
    publisher.unpublish_ports("task-a");
    publisher.remove_table();
    CHECK(fake.state().empty());
    CHECK(fake.commit_attempts() == 0);
}

TEST_CASE("the first publish creates the table with its fixed chains, maps and rules in its own transaction", "[publisher][lazy]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    REQUIRE(fake.committed().size() == 1);
    CHECK(elements(fake, "ports").size() == 3);
    const auto& table = warren_table(fake);
    CHECK(table.sets.contains("ports"));
    CHECK(table.sets.at("ports").declaration.is_map());
    // PublisherOptions::counters is off by default: no set of destinations to count in.
    CHECK_FALSE(table.sets.contains("backends"));
    for (const char* chain : {"prerouting", "output", "postrouting", "forward"}) {
        INFO(chain);
        REQUIRE(table.chains.contains(chain));
        CHECK(table.chains.at(chain).declaration.hook.has_value());
        CHECK_FALSE(table.chains.at(chain).rules.empty());
    }
    CHECK(table.chains.at("forward").rules.size() == 6);  // per protocol, on ports bound to one address or not
    // The table comes first in that transaction, the ports after it.
    const auto& operations = fake.committed().front().operations();
    CHECK(std::holds_alternative<ruleset::Table>(operations.front().object));
    CHECK(std::holds_alternative<ruleset::Element>(operations.back().object));
}

TEST_CASE("all ports of a publish go into one transaction", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const auto before = fake.committed().size();
    publisher.publish_ports("task-a", "10.88.0.5", web);
    REQUIRE(fake.committed().size() == before + 1);
    // three ports (after the table, which this first publish creates), and nothing per destination
    CHECK(element_operations(fake.committed().back()) == 3);
    CHECK(elements(fake, "ports").size() == 3);
    CHECK(comments(fake) == std::vector<std::string>{"task=task-a name=http", "task=task-a name=https", "task=task-a"});

    const auto published = publisher.published_ports("task-a");
    REQUIRE(published.size() == 3);
    CHECK(published[0] == web[0]);
    CHECK(published[1] == web[1]);
    CHECK(published[2] == web[2]);
}

TEST_CASE("a rejected transaction changes nothing, in the backend or in the publisher's view", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    const auto state = fake.state();
    const auto generation = fake.generation();

    // The kernel refuses the batch on its last message: nothing of it may stick.
    fake.before_commit = [](const ruleset::Commit&) {
        throw Error(errc::kernel_error, "injected: ENOMEM on last element", ENOMEM, "add element");
    };
    const std::vector<PortMapping> more{test::port(9000, 90), test::port(9001, 91)};
    const auto e = error_of([&] { publisher.publish_ports("task-b", "10.88.0.6", more); });
    CHECK(e.kernel_errno() == ENOMEM);
    CHECK(fake.state() == state);
    CHECK(fake.generation() == generation);
    fake.before_commit = nullptr;
    CHECK(publisher.published_ports("task-b").empty());
    CHECK(publisher.published_ports("task-a").size() == 3);
}

TEST_CASE("the fake applies transactions all or nothing", "[fake]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    const auto state = fake.state();
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    tx.create(layout::port_element({Protocol::tcp, 1}, {test::v4(10, 0, 0, 1), Protocol::tcp, 1}, "task=x"));
    tx.remove(layout::port_element({Protocol::tcp, 2}, {test::v4(10, 0, 0, 1), Protocol::tcp, 2}, "task=x"));
    const auto e = error_of([&] { fake.commit(tx, std::nullopt); });
    CHECK(e.kernel_errno() == ENOENT);
    CHECK_THAT(e.what(), Catch::Contains("delete element (task=x) from ip warren ports"));
    CHECK(fake.state() == state);
    const auto generation = fake.generation();
    CHECK(error_of([&] {
              fake.commit(ruleset::Transaction(layout::table(ruleset::Family::ip)).add(layout::table(ruleset::Family::ip)),
                          generation - 1);
          }).code() == errc::ruleset_changed);
}

TEST_CASE("host-port conflicts between tasks are refused and change nothing", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    const auto state = fake.state();

    const std::vector<PortMapping> clash{test::port(7000, 70), test::port(8443, 443)};
    const auto e = error_of([&] { publisher.publish_ports("task-b", "10.88.0.6", clash); });
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Catch::Contains("8443/tcp") && Catch::Contains("task \"task-a\"") && Catch::Contains("10.88.0.5:443"));
    CHECK(fake.state() == state);
    CHECK(publisher.published_ports("task-b").empty());

    // The same number with another protocol is another host port.
    const std::vector<PortMapping> udp{{8443, 443, Protocol::udp, PublishMode::host, ""}};
    CHECK_NOTHROW(publisher.publish_ports("task-b", "10.88.0.6", udp));
}

TEST_CASE("a task publishing again replaces its ports in one transaction", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    const auto commits = fake.committed().size();

    const std::vector<PortMapping> moved{{8080, 80, Protocol::tcp, PublishMode::host, "http"}, test::port(9090, 90)};
    publisher.publish_ports("task-a", "10.88.0.7", moved);
    CHECK(fake.committed().size() == commits + 1);
    CHECK(publisher.published_ports("task-a") == std::vector<PortMapping>{moved[0], moved[1]});
    CHECK(elements(fake, "ports").size() == 2);

    // Publishing exactly the same again is a no-op: no transaction at all.
    publisher.publish_ports("task-a", "10.88.0.7", moved);
    CHECK(fake.committed().size() == commits + 1);
}

TEST_CASE("unpublish is idempotent and needs no container IP", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    publisher.unpublish_ports("task-a");
    CHECK(elements(fake, "ports").empty());
    const auto commits = fake.committed().size();
    CHECK_NOTHROW(publisher.unpublish_ports("task-a"));
    CHECK_NOTHROW(publisher.unpublish_ports("never-published"));
    CHECK(fake.committed().size() == commits);
}

TEST_CASE("in a table that counts, a publish adds each new destination to the backends set", "[publisher][counters]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.counters = true});
    publisher.publish_ports("task-a", "10.88.0.5", web);
    CHECK(warren_table(fake).sets.at("backends").declaration.counter);
    // three ports and three distinct destinations
    CHECK(element_operations(fake.committed().back()) == 6);
    CHECK(elements(fake, "ports").size() == 3);
    CHECK(elements(fake, "backends").size() == 3);
    publisher.unpublish_ports("task-a");
    CHECK(elements(fake, "backends").empty());
}

TEST_CASE("backends shared by several host ports stay until their last user leaves", "[publisher][counters]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.counters = true});
    const std::vector<PortMapping> two_doors{test::port(80, 8080), test::port(8080, 8080)};
    publisher.publish_ports("task-a", "10.88.0.5", two_doors);
    CHECK(elements(fake, "ports").size() == 2);
    CHECK(elements(fake, "backends").size() == 1);

    const std::vector<PortMapping> one_door{test::port(8080, 8080)};
    publisher.publish_ports("task-a", "10.88.0.5", one_door);
    CHECK(elements(fake, "ports").size() == 1);
    CHECK(elements(fake, "backends").size() == 1);
    publisher.unpublish_ports("task-a");
    CHECK(elements(fake, "backends").empty());
}

TEST_CASE("a second publisher adopts the state, sees conflicts and can unpublish", "[publisher]")
{
    FakeBackend fake;
    auto first = publisher_on(test::share(fake));
    first.publish_ports("task-a", "10.88.0.5", web);

    auto second = publisher_on(test::share(fake));
    CHECK(second.published_ports("task-a") == first.published_ports("task-a"));
    CHECK(second.all_published_ports().size() == 3);
    const std::vector<PortMapping> clash{test::port(8080, 1)};
    CHECK(error_of([&] { second.publish_ports("task-b", "10.88.0.6", clash); }).code() == errc::port_conflict);

    second.unpublish_ports("task-a");
    // The first publisher's view is stale now; it must notice instead of trusting it.
    CHECK(first.published_ports("task-a").empty());
    CHECK_NOTHROW(first.publish_ports("task-b", "10.88.0.6", clash));
    CHECK(second.published_ports("task-b") == clash);
}

TEST_CASE("a stale view never unpublishes or refuses on behalf of another writer", "[publisher]")
{
    FakeBackend fake;
    auto first = publisher_on(test::share(fake));
    auto second = publisher_on(test::share(fake));
    // `first` has never heard of task-a: its unpublish must still remove it.
    second.publish_ports("task-a", "10.88.0.5", web);
    first.unpublish_ports("task-a");
    CHECK(elements(fake, "ports").empty());

    // And a port freed by another writer is free, although `first` last saw it taken.
    first.publish_ports("task-a", "10.88.0.5", web);
    second.unpublish_ports("task-a");
    const std::vector<PortMapping> reuse{test::port(8080, 1)};
    CHECK_NOTHROW(first.publish_ports("task-b", "10.88.0.6", reuse));
}

TEST_CASE("a concurrent commit makes the publisher retry from a fresh view", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    auto other = publisher_on(test::share(fake));
    int injected = 0;
    fake.before_commit = [&](const ruleset::Commit&) {
        // The first commit attempt is ours; another process sneaks in a publish of the same host port.
        if (injected++ == 0) {
            const std::vector<PortMapping> theirs{test::port(8080, 1)};
            other.publish_ports("task-z", "10.88.0.9", theirs);
        }
    };
    const auto e = error_of([&] { publisher.publish_ports("task-a", "10.88.0.5", web); });
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Catch::Contains("task \"task-z\""));
    CHECK(publisher.published_ports("task-z").size() == 1);
    CHECK(elements(fake, "ports").size() == 1);
    CHECK(injected == 2);  // ours (refused as stale) and theirs; none once the conflict was seen

    // Unrelated concurrent commits only cost a retry.
    injected = 0;
    fake.before_commit = [&](const ruleset::Commit&) {
        if (injected++ < 3)
            fake.bump_generation();
    };
    const std::vector<PortMapping> free_port{test::port(9999, 99)};
    publisher.publish_ports("task-a", "10.88.0.5", free_port);
    CHECK(publisher.published_ports("task-a") == free_port);
}

TEST_CASE("endless concurrent writers end in ruleset_changed, with nothing changed", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    fake.before_commit = [&](const ruleset::Commit&) { fake.bump_generation(); };
    const auto state = fake.state();
    CHECK(error_of([&] { publisher.publish_ports("task-a", "10.88.0.5", web); }).code() == errc::ruleset_changed);
    CHECK(fake.state() == state);
}

TEST_CASE("a table deleted behind our back is recreated on the next publish", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    // nft flush ruleset
    fake.mutable_state().clear();
    fake.bump_generation();
    const std::vector<PortMapping> other{test::port(9000, 90)};
    publisher.publish_ports("task-b", "10.88.0.6", other);
    CHECK(warren_table(fake).chains.size() == 7);
    CHECK(publisher.published_ports("task-b") == other);
    CHECK(publisher.published_ports("task-a").empty());  // lost with the table; restoring it is the self-healing publisher's job
}

TEST_CASE("elements without an owner comment occupy their port as a foreign owner", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-z", "10.88.0.9", std::vector<PortMapping>{test::port(1, 1)});
    auto& ports = fake.mutable_state().at({ruleset::Family::ip, "warren"}).sets.at("ports").elements;
    auto element = layout::port_element({Protocol::tcp, 8080}, {test::v4(10, 1, 1, 1), Protocol::tcp, 80}, "");
    ports.emplace(element.key, element);
    fake.bump_generation();
    const auto e = error_of([&] { publisher.publish_ports("task-a", "10.88.0.5", web); });
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Catch::Contains("another program"));
}

TEST_CASE("a layout of another shape is reported, not overwritten", "[publisher]")
{
    FakeBackend fake;
    ruleset::Transaction tx(layout::table(ruleset::Family::ip));
    tx.add(layout::table(ruleset::Family::ip));
    tx.add(ruleset::Set{"ports", {ruleset::Field{7, 4}}, {}, false, 1});
    fake.commit(tx, std::nullopt);
    const auto state = fake.state();
    auto publisher = publisher_on(test::share(fake));
    const auto read = error_of([&] { (void)publisher.all_published_ports(); });
    CHECK(read.code() == errc::kernel_error);
    CHECK_THAT(read.what(), Catch::Contains("another layout") && Catch::Contains("nft delete table ip warren"));
    const auto e = error_of([&] { publisher.publish_ports("task-a", "10.88.0.5", web); });
    CHECK(e.code() == errc::kernel_error);
    CHECK_THAT(e.what(), Catch::Contains("another layout"));
    CHECK(fake.state() == state);
}

TEST_CASE("one publisher is safe to use from many threads", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                const std::string task = "task-" + std::to_string(t) + "-" + std::to_string(i);
                const std::vector<PortMapping> ports{test::port(static_cast<std::uint16_t>(10000 + t * 100 + i), 80)};
                publisher.publish_ports(task, "10.88.0." + std::to_string(t + 1), ports);
                if (i % 2)
                    publisher.unpublish_ports(task);
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    CHECK(elements(fake, "ports").size() == 4 * 25);
    CHECK(publisher.all_published_ports().size() == 4 * 25);
}

TEST_CASE("rules flushed from chains that still exist are restored by the next publish, not by reading", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    // nft flush table ip warren: chains and sets stay, rules go
    for (auto& [name, chain] : fake.mutable_state().at({ruleset::Family::ip, "warren"}).chains)
        chain.rules.clear();
    fake.bump_generation();
    const auto commits = fake.committed().size();
    CHECK(publisher.published_ports("task-a").size() == 3);
    CHECK(fake.committed().size() == commits);
    CHECK(warren_table(fake).chains.at("prerouting").rules.empty());

    // Publishing what is already published still repairs the table: a publish that succeeds must
    // carry traffic. The repair is one transaction, and nothing else is in it.
    publisher.publish_ports("task-a", "10.88.0.5", web);
    CHECK(fake.committed().size() == commits + 1);
    CHECK(warren_table(fake).chains.at("prerouting").rules.size() == 6);
    CHECK(warren_table(fake).chains.at("forward").rules.size() == 6);
    CHECK(element_operations(fake.committed().back()) == 0);
    publisher.publish_ports("task-a", "10.88.0.5", web);
    CHECK(fake.committed().size() == commits + 1);
}

TEST_CASE("a publisher's first change rewrites the fixed rules once, and unpublishing repairs too", "[publisher]")
{
    FakeBackend fake;
    auto first = publisher_on(test::share(fake));
    first.publish_ports("task-a", "10.88.0.5", web);
    first.publish_ports("task-b", "10.88.0.6", std::vector<PortMapping>{test::port(1, 1)});
    const auto rewrites = [&] {
        std::size_t flushes = 0;
        for (const auto& operation : fake.committed().back().operations())
            flushes += operation.verb == ruleset::Verb::flush;
        return flushes;
    };
    CHECK(rewrites() == 0);

    // A restarted agent: its first change rewrites every fixed rule (one may have been edited).
    auto second = publisher_on(test::share(fake));
    second.unpublish_ports("task-b");
    CHECK(rewrites() == 7);
    second.publish_ports("task-b", "10.88.0.6", std::vector<PortMapping>{test::port(1, 1)});
    CHECK(rewrites() == 0);

    // A chain deleted behind our back comes back with the next unpublish of a task that has ports.
    fake.mutable_state().at({ruleset::Family::ip, "warren"}).chains.erase("output");
    fake.bump_generation();
    second.unpublish_ports("task-b");
    CHECK(warren_table(fake).chains.contains("output"));
    CHECK(rewrites() == 1);
}

TEST_CASE("backends edited by hand are reconciled with the published ports", "[publisher][counters]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.counters = true});
    publisher.publish_ports("task-a", "10.88.0.5", web);
    auto& table = fake.mutable_state().at({ruleset::Family::ip, "warren"});
    // One published port's element deleted by hand leaves its backend orphaned; another port's
    // backend deleted by hand leaves that port without forwarding.
    auto& ports = table.sets.at("ports").elements;
    ports.erase(layout::port_element({Protocol::tcp, 8443}, {test::v4(10, 88, 0, 5), Protocol::tcp, 443}, "").key);
    table.sets.at("backends").elements.erase(layout::destination_element({test::v4(10, 88, 0, 5), Protocol::tcp, 80}).key);
    fake.bump_generation();

    CHECK(publisher.published_ports("task-a").size() == 2);
    // Reading changes nothing; the next transaction carries the repair.
    CHECK(elements(fake, "backends").size() == 2);
    publisher.publish_ports("task-b", "10.88.0.6", std::vector<PortMapping>{test::port(1, 1)});
    const auto& backends = elements(fake, "backends");
    CHECK(backends.size() == 3);
    CHECK(backends.contains(layout::destination_element({test::v4(10, 88, 0, 5), Protocol::tcp, 80}).key));
    CHECK_FALSE(backends.contains(layout::destination_element({test::v4(10, 88, 0, 5), Protocol::tcp, 443}).key));
}

TEST_CASE("publishing the same ports again after the table was wiped publishes them again", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    fake.mutable_state().clear();  // nft flush ruleset
    fake.bump_generation();
    publisher.publish_ports("task-a", "10.88.0.5", web);
    CHECK(elements(fake, "ports").size() == 3);
    CHECK(publisher.published_ports("task-a").size() == 3);
}

TEST_CASE("remove_table deletes everything of ours in one transaction, and publishing recreates it", "[publisher]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("task-a", "10.88.0.5", web);
    ruleset::Transaction other(ruleset::Table{ruleset::Family::ip, "other"});
    other.add(ruleset::Table{ruleset::Family::ip, "other"});
    fake.commit(other, std::nullopt);
    const auto commits = fake.committed().size();

    publisher.remove_table();
    CHECK(fake.committed().size() == commits + 1);
    CHECK_FALSE(fake.state().contains({ruleset::Family::ip, "warren"}));
    CHECK(fake.state().contains({ruleset::Family::ip, "other"}));
    CHECK(publisher.all_published_ports().empty());
    CHECK_NOTHROW(publisher.unpublish_ports("task-a"));
    CHECK_NOTHROW(publisher.remove_table());        // nothing left to remove: no error
    CHECK(fake.committed().size() == commits + 1);  // and reading did not bring the table back

    publisher.publish_ports("task-b", "10.88.0.6", std::vector<PortMapping>{test::port(1, 1)});
    CHECK(warren_table(fake).chains.size() == 7);
    CHECK(publisher.published_ports("task-b").size() == 1);
}

TEST_CASE("destination counters are read from the kernel on every call", "[publisher][counters]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.counters = true});
    CHECK(publisher.destination_counters().empty());  // no table
    CHECK(fake.state().empty());

    const std::vector<PortMapping> two_doors{test::port(80, 8080), test::port(8080, 8080), test::port(53, 53, Protocol::udp)};
    publisher.publish_ports("task-a", "10.88.0.5", two_doors);
    publisher.publish_ports("task-b", "10.88.0.10", std::vector<PortMapping>{test::port(81, 81)});
    // One per destination, ordered by address (10.88.0.5 before 10.88.0.10), protocol and port.
    CHECK(publisher.destination_counters() == std::vector<DestinationCounters>{{"10.88.0.5", Protocol::tcp, 8080, 0, 0},
                                                                               {"10.88.0.5", Protocol::udp, 53, 0, 0},
                                                                               {"10.88.0.10", Protocol::tcp, 81, 0, 0}});

    // Packets arrive: the kernel's counters move, the generation does not, and reading sends nothing.
    auto& backends = fake.mutable_state().at({ruleset::Family::ip, "warren"}).sets.at("backends").elements;
    auto& counted = backends.at(layout::destination_element({test::v4(10, 88, 0, 5), Protocol::tcp, 8080}).key);
    counted.packets = 7;
    counted.bytes = 420;
    const auto generation = fake.generation();
    const auto attempts = fake.commit_attempts();
    CHECK(publisher.destination_counters().front() == DestinationCounters{"10.88.0.5", Protocol::tcp, 8080, 7, 420});
    CHECK(fake.generation() == generation);
    CHECK(fake.commit_attempts() == attempts);
}

TEST_CASE("ports bound to one host address conflict as docker's do", "[publisher][host-ip]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const std::vector<PortMapping> on_one{test::on("10.200.1.1", test::port(8080, 80, Protocol::tcp, "web"))};
    publisher.publish_ports("task-a", "10.88.0.5", on_one);
    CHECK(elements(fake, "bound_ports").size() == 1);
    CHECK(elements(fake, "bound_ports").begin()->second.comment == "task=task-a name=web");
    CHECK(elements(fake, "ports").empty());
    CHECK(publisher.published_ports("task-a") == on_one);

    // The same port on another address is another port.
    const std::vector<PortMapping> on_other{test::on("10.200.2.1", test::port(8080, 81))};
    publisher.publish_ports("task-b", "10.88.0.6", on_other);
    CHECK(elements(fake, "bound_ports").size() == 2);

    const auto state = fake.state();
    const std::vector<PortMapping> same_address{test::on("10.200.1.1", test::port(8080, 82))};
    auto e = error_of([&] { publisher.publish_ports("task-c", "10.88.0.7", same_address); });
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(),
               Catch::Contains("host port 8080/tcp on 10.200.1.1 is already published by task \"task-a\" to 10.88.0.5:80"));
    const std::vector<PortMapping> all_addresses{test::port(8080, 82)};
    e = error_of([&] { publisher.publish_ports("task-c", "10.88.0.7", all_addresses); });
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Catch::Contains("host port 8080/tcp overlaps host port 8080/tcp on 10.200.1.1") &&
                             Catch::Contains("task \"task-a\""));
    CHECK(fake.state() == state);
    // Another protocol is no conflict.
    CHECK_NOTHROW(publisher.publish_ports("task-c", "10.88.0.7", std::vector<PortMapping>{test::port(8080, 82, Protocol::udp)}));

    // Once the bound ports are gone, all addresses are free; then no address is.
    publisher.unpublish_ports("task-a");
    publisher.unpublish_ports("task-b");
    publisher.publish_ports("task-c", "10.88.0.7", all_addresses);
    e = error_of([&] { publisher.publish_ports("task-d", "10.88.0.8", same_address); });
    CHECK(e.code() == errc::port_conflict);
    CHECK_THAT(e.what(), Catch::Contains("host port 8080/tcp on 10.200.1.1 overlaps host port 8080/tcp (a port on all "
                                         "addresses includes every address), which is already published by task \"task-c\""));
    // A task may move its own port from all addresses to one.
    publisher.publish_ports("task-c", "10.88.0.7", same_address);
    CHECK(elements(fake, "ports").size() == 0);
    CHECK(publisher.published_ports("task-c") == same_address);
}

TEST_CASE("bound ports are adopted, re-published without a change and moved in one transaction", "[publisher][host-ip]")
{
    FakeBackend fake;
    auto first = publisher_on(test::share(fake));
    const std::vector<PortMapping> mixed{test::on("10.200.2.1", test::port(443, 8443)), test::port(80, 80, Protocol::tcp, "http"),
                                         test::on("10.200.1.1", test::port(443, 443, Protocol::tcp, "tls"))};
    first.publish_ports("task-a", "10.88.0.5", mixed);
    const auto commits = fake.committed().size();
    first.publish_ports("task-a", "10.88.0.5", mixed);  // exactly what is published: nothing to send
    CHECK(fake.committed().size() == commits);

    auto second = publisher_on(test::share(fake));
    // In host-port order: protocol, port, then address (all addresses first).
    const std::vector<PortMapping> ordered{mixed[1], mixed[2], mixed[0]};
    CHECK(second.published_ports("task-a") == ordered);
    const auto all = second.all_published_ports();
    REQUIRE(all.size() == 3);
    CHECK(all[1] == PublishedPort{"task-a", "10.88.0.5", mixed[2]});

    // From all addresses to one: the old element goes and the new one comes in one transaction.
    const std::vector<PortMapping> moved{test::on("10.200.1.1", test::port(80, 80, Protocol::tcp, "http")), mixed[0], mixed[2]};
    second.publish_ports("task-a", "10.88.0.5", moved);
    CHECK(fake.committed().size() == commits + 1);
    CHECK(elements(fake, "ports").empty());
    CHECK(elements(fake, "bound_ports").size() == 3);
    CHECK(first.published_ports("task-a").front() == moved[0]);

    second.unpublish_ports("task-a");
    CHECK(elements(fake, "bound_ports").empty());
}

TEST_CASE("a publisher that wants counters adds them to a table without, keeping every port, in its first change",
          "[publisher][counters]")
{
    FakeBackend fake;
    auto plain = publisher_on(test::share(fake));
    plain.publish_ports("task-a", "10.88.0.5", web);
    CHECK(plain.destination_counters().empty());  // published, but nothing counts

    auto counting = publisher_on(test::share(fake), PublisherOptions{.counters = true});
    CHECK(counting.all_published_ports() == plain.all_published_ports());  // reading changes nothing
    CHECK(counting.destination_counters().empty());
    CHECK_FALSE(warren_table(fake).sets.contains("backends"));

    const auto commits = fake.committed().size();
    counting.publish_ports("task-b", "10.88.0.6", std::vector<PortMapping>{test::port(81, 81)});
    REQUIRE(fake.committed().size() == commits + 1);  // one transaction: the new set and the port
    CHECK(warren_table(fake).sets.at("backends").declaration.counter);
    CHECK(elements(fake, "backends").size() == 4);
    CHECK(counting.destination_counters().size() == 4);
    CHECK(plain.published_ports("task-a").size() == web.size());
    for (const char* chain : {"prerouting", "output", "postrouting", "forward"})
        CHECK_FALSE(warren_table(fake).chains.at(chain).rules.empty());

    // A publisher without the wish leaves the counters on, and keeps the set's elements current.
    plain.unpublish_ports("task-b");
    CHECK(warren_table(fake).sets.at("backends").declaration.counter);
    CHECK(plain.destination_counters().size() == 3);
    plain.publish_ports("task-c", "10.88.0.7", std::vector<PortMapping>{test::port(82, 82)});
    CHECK(plain.destination_counters().size() == 4);
}

TEST_CASE("on a kernel that cannot look a key up in a map alone, every table counts", "[publisher][counters]")
{
    FakeBackend fake(KernelFeatures{.destroy_messages = true, .batch_acks = true, .map_lookups = false});
    auto publisher = publisher_on(test::share(fake));  // no counters asked for
    publisher.publish_ports("task-a", "10.88.0.5", web);
    CHECK(warren_table(fake).sets.at("backends").declaration.counter);
    CHECK(element_operations(fake.committed().back()) == 6);
    CHECK(publisher.destination_counters().size() == 3);
    for (const auto& rule : warren_table(fake).chains.at("forward").rules)
        CHECK(lookups_of(rule, "backends") == 1);
}

TEST_CASE("a table of an older version, with a backends set that does not count, loses that set in the first change",
          "[publisher][counters]")
{
    FakeBackend fake;
    auto older = publisher_on(test::share(fake), PublisherOptions{.counters = true});
    older.publish_ports("task-a", "10.88.0.5", web);
    // What earlier builds wrote by default: the same set and rules, but the set without counters.
    auto& backends = fake.mutable_state().at({ruleset::Family::ip, "warren"}).sets.at("backends");
    backends.declaration.counter = false;
    for (auto& [key, element] : backends.elements)
        element.packets = element.bytes = 0;
    fake.bump_generation();

    auto plain = publisher_on(test::share(fake));
    CHECK(plain.published_ports("task-a") == web);
    const auto commits = fake.committed().size();
    plain.publish_ports("task-b", "10.88.0.6", std::vector<PortMapping>{test::port(81, 81)});
    CHECK(fake.committed().size() == commits + 1);
    CHECK_FALSE(warren_table(fake).sets.contains("backends"));
    CHECK(elements(fake, "ports").size() == 4);
    for (const char* chain : {"postrouting", "forward"}) {
        INFO(chain);
        for (const auto& rule : warren_table(fake).chains.at(chain).rules)
            CHECK(lookups_of(rule, "backends") == 0);
    }
}
