// SPDX-License-Identifier: Apache-2.0
// Adopting a table someone else changed, over the fake backend: what a publish repairs in its own
// transaction (a dormant table, a chain's policy), and what it refuses before sending anything.
#include "publisher/layout.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "error_of.hpp"
#include "addresses.hpp"
#include "ports.hpp"

#include <linux/netfilter/nf_tables.h>

#include <cerrno>
#include <functional>

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
    for (const auto& call : std::vector<std::function<void()>>{
             [&] { publisher.publish_ports("task-b", "10.88.0.6", other); },
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
