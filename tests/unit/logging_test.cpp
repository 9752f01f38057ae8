// SPDX-License-Identifier: Apache-2.0
// What a publisher tells PublisherOptions::logger, at which level, and what its metrics count, over
// the fake backend.
#include "publisher/schema.hpp"
#include "ruleset/fake_backend.hpp"
#include "ruleset/forwarding_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "error_of.hpp"
#include "ports.hpp"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <variant>

using namespace warren::nft;
using ruleset::FakeBackend;
using test::error_of;
using test::port;

namespace {

// Collects log lines from whichever thread logs them.
class Lines {
public:
    struct Line {
        LogLevel level;
        std::string message;
    };

    PublisherOptions::Logger logger()
    {
        return [this](LogLevel level, std::string_view message) {
            std::lock_guard lock(mutex_);
            lines_.push_back({level, std::string(message)});
            changed_.notify_all();
        };
    }

    // The lines that contain `text`.
    std::vector<Line> with(std::string_view text) const
    {
        std::lock_guard lock(mutex_);
        std::vector<Line> out;
        for (const auto& line : lines_)
            if (line.message.find(text) != std::string::npos)
                out.push_back(line);
        return out;
    }

    // Waits up to 5 s for a line that contains `text`.
    std::optional<Line> await(std::string_view text)
    {
        std::unique_lock lock(mutex_);
        std::optional<Line> found;
        changed_.wait_for(lock, std::chrono::seconds(5), [&] {
            for (const auto& line : lines_)
                if (line.message.find(text) != std::string::npos)
                    found = line;
            return found.has_value();
        });
        return found;
    }

    bool any_at_least(LogLevel level) const
    {
        std::lock_guard lock(mutex_);
        return std::any_of(lines_.begin(), lines_.end(), [&](const Line& line) { return line.level >= level; });
    }

    std::vector<Line> all() const
    {
        std::lock_guard lock(mutex_);
        return lines_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Line> lines_;
};

const ruleset::Table other_table{ruleset::Family::ip, "other"};
const ruleset::Table warren_table{ruleset::Family::ip, "warren"};

bool printable_ascii(const std::string& text)
{
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// Another program commits to its own table just before our next commit, once.
void race_once(FakeBackend& fake)
{
    auto racing = std::make_shared<bool>(true);
    fake.before_commit = [&fake, racing](const ruleset::Commit& tx) {
        if (tx.find(other_table) || !*racing)
            return;
        *racing = false;
        fake.commit(ruleset::Transaction(other_table).add(other_table), std::nullopt);
    };
}

}  // namespace

TEST_CASE("a commit sent again after another writer's commit is logged at debug and counted", "[log][metrics]")
{
    FakeBackend fake;
    Lines log;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.logger = log.logger()});
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80)});
    const auto before = publisher.metrics();
    CHECK(before.retries == 0);
    race_once(fake);
    publisher.publish_ports("b", "10.88.0.3", std::vector{port(9090, 90)});
    fake.before_commit = nullptr;
    const auto retries = log.with("another writer committed first");
    REQUIRE(retries.size() == 1);
    CHECK(retries[0].level == LogLevel::debug);
    const auto after = publisher.metrics();
    CHECK(after.retries == 1);
    CHECK(after.batches == before.batches + 2);  // refused, then sent again
    CHECK_FALSE(log.any_at_least(LogLevel::warning));
}

TEST_CASE("announcements lost make a warning and a full read, counted as dumps", "[log][metrics]")
{
    FakeBackend fake;
    Lines log;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.logger = log.logger()});
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80)});
    const auto dumps = publisher.metrics().dumps;
    CHECK(log.with("announcements were lost").empty());
    // A foreign writer the fake cannot announce: every feed is told that it lost announcements.
    fake.mutable_state().at({ruleset::Family::ip, "warren"}).sets.at(layout::ports_map).elements.clear();
    fake.bump_generation();
    CHECK(publisher.all_published_ports().empty());
    const auto lost = log.with("announcements were lost");
    REQUIRE(lost.size() == 1);
    CHECK(lost[0].level == LogLevel::warning);
    CHECK(printable_ascii(lost[0].message));
    // A full read reads both tables; metrics() itself reads the ports (from the view, now current)
    // and, in a table that counts, the counters.
    CHECK(publisher.metrics().dumps >= dumps + 2);
}

TEST_CASE("a commit the kernel refuses is logged as a warning with its reason, and counted by errc", "[log][metrics]")
{
    FakeBackend fake;
    Lines log;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.logger = log.logger()});
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80)});
    fake.before_commit = [](const ruleset::Commit&) {
        throw Error(errc::kernel_error, "add element: Cannot allocate memory (errno 12)", ENOMEM, "add element");
    };
    CHECK(error_of([&] { publisher.publish_ports("b", "10.88.0.3", std::vector{port(9090, 90)}); }).kernel_errno() == ENOMEM);
    fake.before_commit = nullptr;
    const auto refused = log.with("refused by the kernel");
    REQUIRE(refused.size() == 1);
    CHECK(refused[0].level == LogLevel::warning);
    CHECK_THAT(refused[0].message, Catch::Contains("Cannot allocate memory"));
    const auto metrics = publisher.metrics();
    CHECK(metrics.errors.at("kernel_error") == 1);
    CHECK(metrics.publish_duration.count == 2);  // the refused one too
}

TEST_CASE("conflicts and bad input are counted by errc and timed, but not logged", "[log][metrics]")
{
    FakeBackend fake;
    Lines log;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.logger = log.logger()});
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80)});
    CHECK(error_of([&] { publisher.publish_ports("b", "10.88.0.3", std::vector{port(8080, 80)}); }).code() ==
          errc::port_conflict);
    CHECK(error_of([&] { publisher.publish_ports("bad id!", "10.88.0.3", std::vector{port(1, 1)}); }).code() ==
          errc::invalid_argument);
    CHECK(error_of([&] { publisher.publish_ports("c", "not an address", std::vector{port(1, 1)}); }).code() ==
          errc::invalid_argument);
    CHECK(error_of([&] { publisher.unpublish_ports(""); }).code() == errc::invalid_argument);
    publisher.unpublish_ports("a");
    const auto metrics = publisher.metrics();
    CHECK(metrics.publish_duration.count == 4);
    CHECK(metrics.unpublish_duration.count == 2);
    CHECK(metrics.errors == std::map<std::string, std::uint64_t>{{"invalid_argument", 3}, {"port_conflict", 1}});
    CHECK(log.all().empty());
}

// A failed conntrack cleanup: dual_stack_test.cpp ("a failed conntrack cleanup is reported").

TEST_CASE("backends elements that fail after a large change committed are logged as a warning", "[log][counters]")
{
    // Refuses a commit that adds backends elements together with anything else as too large (the
    // change then goes without them), and the backends elements alone with ENOMEM.
    class Narrow final : public ruleset::ForwardingBackend {
    public:
        using Backend::commit;
        using ForwardingBackend::ForwardingBackend;
        void commit(const ruleset::Commit& tx, std::optional<std::uint32_t> generation) override
        {
            std::size_t refills = 0, others = 0;
            for (const auto& part : tx.parts())
                for (const auto& operation : part.operations()) {
                    const auto* element = std::get_if<ruleset::Element>(&operation.object);
                    (element && element->set == layout::backends_set && operation.verb == ruleset::Verb::add ? refills
                                                                                                             : others)++;
                }
            if (refills > 0 && others > 0)
                throw ruleset::TransactionTooLarge(Error(errc::kernel_error, "too large", EMSGSIZE, "commit"));
            if (refills > 0)
                throw Error(errc::kernel_error, "add element: Cannot allocate memory (errno 12)", ENOMEM, "add element");
            next_.commit(tx, generation);
        }
    };
    FakeBackend fake;
    Lines log;
    auto publisher = publisher_on(std::make_unique<Narrow>(fake), PublisherOptions{.counters = true, .logger = log.logger()});
    CHECK_NOTHROW(publisher.publish_ports("web", "10.88.0.2", std::vector{port(8080, 80), port(8081, 81)}));
    const auto failed = log.with("backends elements");
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].level == LogLevel::warning);
    CHECK_THAT(failed[0].message, Catch::Contains("Cannot allocate memory"));
}

TEST_CASE("a self-healing publisher logs a repair at info, a failed one at error, and counts them", "[log][heal][metrics]")
{
    FakeBackend fake;
    Lines log;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.self_heal = true, .logger = log.logger()});
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80), port(8081, 81)});

    SECTION("a repair that commits")
    {
        publisher_on(test::share(fake)).unpublish_ports("a");
        const auto repaired = log.await("repaired in");
        REQUIRE(repaired);
        CHECK(repaired->level == LogLevel::info);
        CHECK_THAT(repaired->message, Catch::Contains("2 port(s)") && Catch::Contains("element deleted from set ports"));
        const auto metrics = publisher.metrics();
        CHECK(metrics.repairs == 1);
        CHECK(metrics.repair_duration.count == 1);
    }
    SECTION("a repair that fails, then commits")
    {
        fake.set_before_commit([](const ruleset::Commit&) {
            throw Error(errc::kernel_error, "add element: Cannot allocate memory (errno 12)", ENOMEM, "add element");
        });
        // Damage the publisher cannot be told about: it reads everything again and repairs.
        fake.mutable_state().at({ruleset::Family::ip, "warren"}).sets.at(layout::ports_map).elements.clear();
        fake.bump_generation();
        const auto failed = log.await("repair failed");
        REQUIRE(failed);
        CHECK(failed->level == LogLevel::error);
        CHECK_THAT(failed->message, Catch::Contains("Cannot allocate memory"));
        fake.set_before_commit(nullptr);
        const auto repaired = log.await("repaired in");  // tried again within a second
        REQUIRE(repaired);
        CHECK(repaired->level == LogLevel::info);
        const auto metrics = publisher.metrics();
        CHECK(metrics.repairs == 1);
        CHECK(metrics.repair_duration.count >= 2);
        CHECK(!log.with("announcements were lost").empty());
    }
}

TEST_CASE("a logger that throws changes nothing", "[log]")
{
    FakeBackend fake;
    int calls = 0;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.logger = [&](LogLevel, std::string_view) {
                                      ++calls;
                                      throw std::runtime_error("logger broke");
                                  }});
    publisher.publish_ports("a", "10.88.0.2", std::vector{port(8080, 80)});
    race_once(fake);
    CHECK_NOTHROW(publisher.publish_ports("b", "10.88.0.3", std::vector{port(9090, 90)}));
    fake.before_commit = [](const ruleset::Commit&) {
        throw Error(errc::kernel_error, "add element: Cannot allocate memory (errno 12)", ENOMEM, "add element");
    };
    // The caller gets the kernel's error, not the logger's.
    CHECK(error_of([&] { publisher.publish_ports("c", "10.88.0.4", std::vector{port(7070, 70)}); }).kernel_errno() == ENOMEM);
    fake.before_commit = nullptr;
    CHECK(calls == 2);
    CHECK(publisher.published_ports("b").size() == 1);
    CHECK(publisher.published_ports("c").empty());
}

TEST_CASE("metrics() counts every owner's ports by family and protocol, and the destinations where the table counts", "[metrics]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake), PublisherOptions{.counters = true});
    auto other = publisher_on(test::share(fake));
    publisher.publish_ports("web", ContainerAddresses{"10.88.0.2", "fd00::2"}, std::vector{port(8080, 80)});
    other.publish_ports("dns", "10.88.0.3", std::vector{port(53, 53, Protocol::udp), port(5353, 53, Protocol::udp)});
    const auto metrics = publisher.metrics();
    CHECK(metrics.ports_published == std::vector<PortCount>{{"ipv4", Protocol::tcp, 1},
                                                            {"ipv4", Protocol::udp, 2},
                                                            {"ipv4", Protocol::sctp, 0},
                                                            {"ipv6", Protocol::tcp, 1},
                                                            {"ipv6", Protocol::udp, 0},
                                                            {"ipv6", Protocol::sctp, 0}});
    CHECK(metrics.destinations == publisher.destination_counters());
    CHECK(metrics.destinations.size() == 3);     // 10.88.0.2 tcp 80, fd00::2 tcp 80, 10.88.0.3 udp 53
    CHECK(metrics.publish_duration.count == 1);  // this publisher's only
    CHECK(metrics.batches == 1);
}
