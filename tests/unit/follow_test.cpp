// SPDX-License-Identifier: Apache-2.0
// The publisher following announced changes over the fake backend: other tables' commits cost no
// read and are retried at once, reconcile(), and a self-healing publisher's repairs.
#include "ruleset/fake_backend.hpp"
#include "ruleset/forwarding_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "error_of.hpp"
#include "addresses.hpp"
#include "ports.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

using namespace warren::nft;
using ruleset::FakeBackend;
using test::error_of;
using test::port;

namespace {

// A FakeBackend shared with a publisher, counting the reads that dump elements.
class Counting final : public ruleset::ForwardingBackend {
public:
    explicit Counting(FakeBackend& fake, int& full_reads) : ForwardingBackend(fake), full_reads_(full_reads) {}
    ruleset::TableSnapshot snapshot_following(const ruleset::Table& table, std::span<const std::string> chains,
                                              std::span<const std::string> element_sets, const Unchanged& unchanged) override
    {
        // A full read reads both tables: counted once, by its IPv4 one.
        full_reads_ += !element_sets.empty() && table.family == ruleset::Family::ip;
        return ForwardingBackend::snapshot_following(table, chains, element_sets, unchanged);
    }

private:
    int& full_reads_;
};

const ruleset::Table other_table{ruleset::Family::ip, "other"};

std::size_t ports_in_kernel(const FakeBackend& fake)
{
    return fake.state().at({ruleset::Family::ip, "warren"}).sets.at("ports").elements.size();
}

}  // namespace

TEST_CASE("a commit refused for another table's change is sent again at once, reading nothing", "[follow]")
{
    FakeBackend fake;
    int full_reads = 0;
    auto publisher = publisher_on(std::make_unique<Counting>(fake, full_reads));
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80)});
    REQUIRE(full_reads == 1);

    // Another program commits to its own table just before each of our next commits.
    bool racing = true;
    fake.before_commit = [&](const ruleset::Commit& tx) {
        if (tx.find(other_table) || !racing)
            return;
        racing = false;
        fake.commit(ruleset::Transaction(other_table).add(other_table), std::nullopt);
    };
    const auto attempts = fake.commit_attempts();
    publisher.publish_ports("b", "10.88.0.3", std::vector{port(9090, 90)});
    // Ours (refused: generation moved), the other program's, ours again.
    CHECK(fake.commit_attempts() == attempts + 3);
    CHECK(full_reads == 1);
    CHECK(ports_in_kernel(fake) == 2);
    fake.before_commit = nullptr;
}

TEST_CASE("another publisher's changes to our table are followed element by element", "[follow]")
{
    FakeBackend fake;
    int full_reads = 0;
    auto publisher = publisher_on(std::make_unique<Counting>(fake, full_reads));
    auto other = publisher_on(test::share(fake));
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80)});
    other.publish_ports("b", "10.88.0.3", std::vector{port(9090, 90), port(9091, 91)});
    CHECK(publisher.published_ports("b").size() == 2);
    CHECK(error_of([&] { publisher.publish_ports("c", "10.88.0.4", std::vector{port(9091, 1)}); }).code() == errc::port_conflict);
    other.unpublish_ports("b");
    publisher.publish_ports("c", "10.88.0.4", std::vector{port(9091, 1)});
    CHECK(publisher.all_published_ports().size() == 2);
    CHECK(full_reads == 1);
}

TEST_CASE("reconcile publishes, replaces and unpublishes in one transaction, and sends nothing when all match", "[reconcile]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("stale", "10.88.0.9", std::vector{port(7070, 70)});
    publisher.publish_ports("moved", "10.88.0.8", std::vector{port(6060, 60)});
    const std::vector<TaskPorts> desired = {{"moved", "10.88.0.7", {port(6060, 60)}}, {"new", "10.88.0.6", {port(7070, 71)}}};
    auto commits = fake.committed().size();
    publisher.reconcile(desired);
    CHECK(fake.committed().size() == commits + 1);
    const auto all = publisher.all_published_ports();
    REQUIRE(all.size() == 2);
    CHECK(all[0].task_id == "moved");
    CHECK(all[0].container_ip == "10.88.0.7");
    CHECK(all[1].task_id == "new");

    commits = fake.committed().size();
    publisher_on(test::share(fake)).reconcile(desired);
    CHECK(fake.committed().size() == commits);
    // Empty desired state: everything goes; the table stays.
    publisher.reconcile({});
    CHECK(publisher.all_published_ports().empty());
    CHECK(ports_in_kernel(fake) == 0);
}

TEST_CASE("reconcile refuses a desired state that claims a port twice, and changes nothing", "[reconcile]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80)});
    const auto commits = fake.committed().size();
    CHECK(error_of([&] {
              publisher.reconcile(std::vector<TaskPorts>{{"a", "10.88.0.2", {port(8080, 80)}},
                                                         {"b", "10.88.0.3", {test::on("10.0.0.1", port(8080, 81))}}});
          }).code() == errc::invalid_argument);
    CHECK(error_of([&] {
              publisher.reconcile(std::vector<TaskPorts>{{"b", "10.88.0.3", {port(8080, 81)}}, {"b", "10.88.0.3", {}}});
          }).code() == errc::invalid_argument);
    CHECK(fake.committed().size() == commits);
    // Ports on different addresses, or of different protocols, do not overlap.
    publisher.reconcile(
        std::vector<TaskPorts>{{"a", "10.88.0.2", {test::on("10.0.0.1", port(8080, 80))}},
                               {"b", "10.88.0.3", {test::on("10.0.0.2", port(8080, 81)), port(8080, 82, Protocol::udp)}}});
    CHECK(publisher.all_published_ports().size() == 3);
}

TEST_CASE("a self-healing publisher restores a task another publisher unpublished, and reports it", "[heal]")
{
    FakeBackend fake;
    std::mutex mutex;
    std::condition_variable reported;
    std::vector<RepairReport> reports;
    PublisherOptions options{.self_heal = true, .on_repair = [&](const RepairReport& report) {
                                 std::lock_guard lock(mutex);
                                 reports.push_back(report);
                                 reported.notify_all();
                             }};
    auto publisher = publisher_on(test::share(fake), options);
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80), port(8081, 81)});
    publisher_on(test::share(fake)).unpublish_ports("a");
    std::unique_lock lock(mutex);
    REQUIRE(reported.wait_for(lock, std::chrono::seconds(5), [&] { return !reports.empty(); }));
    CHECK(reports[0].error.empty());
    CHECK(reports[0].ports_restored == 2);
    // (The other publisher's first change also rewrote the fixed rules.)
    CHECK_THAT(reports[0].damage, Catch::Matchers::Contains("element deleted from set ports (x2)"));
    CHECK(ports_in_kernel(fake) == 2);
}
