// SPDX-License-Identifier: Apache-2.0
// PublisherEngine over the in-memory fake: what coalescing promises each request.
#include "publisher/layout.hpp"
#include "publisher/publisher_on.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <thread>

using namespace warren::nft;
using ruleset::FakeBackend;

namespace {

// What one request ended with, once it did.
struct Outcome {
    bool completed = false;
    std::exception_ptr error;
    std::vector<PortMapping> ports;

    PublisherEngine::Completion completion()
    {
        return [this](std::exception_ptr e, std::vector<PortMapping> p) {
            completed = true;
            error = std::move(e);
            ports = std::move(p);
        };
    }
    bool ok() const { return completed && !error; }
    std::error_code code() const
    {
        try {
            if (error)
                std::rethrow_exception(error);
        } catch (const Error& e) {
            return e.code();
        }
        return {};
    }
};

// Runs the engine until nothing is queued or in flight, sleeping through its pauses.
void run_until_idle(PublisherEngine& engine)
{
    do {
        const auto wait = engine.run();
        if (wait.until)
            std::this_thread::sleep_until(*wait.until);
    } while (engine.busy());
}

std::vector<PortMapping> one_port(std::uint16_t host_port) { return {{host_port, 80, Protocol::tcp, PublishMode::host, ""}}; }

// Commits whose elements name the task (as their owner comment does).
bool names_task(const ruleset::Commit& commit, const std::string& task)
{
    for (const auto& operation : commit.operations())
        if (const auto* element = std::get_if<ruleset::Element>(&operation.object))
            if (element->comment.find("task=" + task) != std::string::npos)
                return true;
    return false;
}

}  // namespace

TEST_CASE("requests queued together go in one transaction, each with its own result", "[engine]")
{
    FakeBackend fake;
    auto engine = engine_on(test::share(fake));
    std::vector<Outcome> outcomes(50);
    for (std::size_t i = 0; i < outcomes.size(); ++i)
        engine.publish_ports("task-" + std::to_string(i), "10.88.0." + std::to_string(i + 2),
                             one_port(static_cast<std::uint16_t>(8000 + i)), outcomes[i].completion());
    CHECK(std::none_of(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.completed; }));
    run_until_idle(engine);
    CHECK(std::all_of(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.ok(); }));
    CHECK(fake.commit_attempts() == 1);
    auto reader = publisher_on(test::share(fake));
    CHECK(reader.all_published_ports().size() == 50);
    CHECK(reader.published_ports("task-7") == one_port(8007));
}

TEST_CASE("a conflict in a batch fails only its own request", "[engine]")
{
    FakeBackend fake;
    auto engine = engine_on(test::share(fake));
    Outcome first, second, third;
    engine.publish_ports("first", "10.88.0.2", one_port(8080), first.completion());
    engine.publish_ports("second", "10.88.0.3", one_port(8080), second.completion());
    engine.publish_ports("third", "10.88.0.4", one_port(8081), third.completion());
    run_until_idle(engine);
    CHECK(first.ok());
    CHECK(second.code() == errc::port_conflict);
    CHECK(third.ok());
    CHECK(fake.commit_attempts() == 1);
    auto reader = publisher_on(test::share(fake));
    CHECK(reader.published_ports("first") == one_port(8080));
    CHECK(reader.published_ports("second").empty());
}

TEST_CASE("a port given up earlier in a batch is free for a later request of it", "[engine]")
{
    FakeBackend fake;
    auto engine = engine_on(test::share(fake));
    Outcome published, gone, taken;
    engine.publish_ports("old", "10.88.0.2", one_port(8080), published.completion());
    run_until_idle(engine);
    REQUIRE(published.ok());
    engine.unpublish_ports("old", gone.completion());
    engine.publish_ports("new", "10.88.0.3", one_port(8080), taken.completion());
    run_until_idle(engine);
    CHECK(gone.ok());
    CHECK(taken.ok());
    auto reader = publisher_on(test::share(fake));
    REQUIRE(reader.all_published_ports().size() == 1);
    CHECK(reader.all_published_ports()[0].task_id == "new");
}

TEST_CASE("requests of one task keep their order within a batch", "[engine]")
{
    FakeBackend fake;
    auto engine = engine_on(test::share(fake));
    std::vector<Outcome> outcomes(6);
    engine.publish_ports("gone", "10.88.0.2", one_port(8080), outcomes[0].completion());
    engine.unpublish_ports("gone", outcomes[1].completion());
    engine.unpublish_ports("back", outcomes[2].completion());
    engine.publish_ports("back", "10.88.0.3", one_port(8081), outcomes[3].completion());
    engine.publish_ports("moved", "10.88.0.4", one_port(8082), outcomes[4].completion());
    engine.publish_ports("moved", "10.88.0.4", one_port(8083), outcomes[5].completion());
    Outcome read;
    engine.published_ports("moved", read.completion());
    run_until_idle(engine);
    CHECK(std::all_of(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.ok(); }));
    auto reader = publisher_on(test::share(fake));
    CHECK(reader.published_ports("gone").empty());
    CHECK(reader.published_ports("back") == one_port(8081));
    CHECK(reader.published_ports("moved") == one_port(8083));
    CHECK(read.ok());
    CHECK(read.ports == one_port(8083));  // queued after the publishes: sees them done
}

TEST_CASE("a batch the kernel refuses is tried again request by request, so only the guilty one fails", "[engine]")
{
    FakeBackend fake;
    fake.before_commit = [](const ruleset::Commit& commit) {
        if (names_task(commit, "guilty"))
            throw Error(errc::kernel_error, "refused by the test", EINVAL, "add element");
    };
    auto engine = engine_on(test::share(fake));
    Outcome before, guilty, after;
    engine.publish_ports("before", "10.88.0.2", one_port(8080), before.completion());
    engine.publish_ports("guilty", "10.88.0.3", one_port(8081), guilty.completion());
    engine.publish_ports("after", "10.88.0.4", one_port(8082), after.completion());
    run_until_idle(engine);
    CHECK(before.ok());
    CHECK(after.ok());
    REQUIRE(guilty.completed);
    CHECK(guilty.code() == errc::kernel_error);
    CHECK(fake.commit_attempts() == 4);  // the batch, then each alone
    auto reader = publisher_on(test::share(fake));
    CHECK(reader.published_ports("before") == one_port(8080));
    CHECK(reader.published_ports("guilty").empty());
    CHECK(reader.published_ports("after") == one_port(8082));
}

TEST_CASE("an invalid request completes from run() with its error and changes nothing", "[engine]")
{
    FakeBackend fake;
    auto engine = engine_on(test::share(fake));
    Outcome bad_id, bad_ip, good;
    engine.publish_ports("bad id!", "10.88.0.2", one_port(8080), bad_id.completion());
    engine.publish_ports("task", "10.88.0.300", one_port(8080), bad_ip.completion());
    CHECK_FALSE(bad_id.completed);
    run_until_idle(engine);
    CHECK(bad_id.code() == errc::invalid_argument);
    CHECK(bad_ip.code() == errc::invalid_argument);
    CHECK(fake.commit_attempts() == 0);
    engine.publish_ports("task", "10.88.0.2", one_port(8080), good.completion());
    run_until_idle(engine);
    CHECK(good.ok());
}

TEST_CASE("other writers that keep changing the table make the batch fail with ruleset_changed, after retries", "[engine]")
{
    FakeBackend fake;
    auto engine = engine_on(test::share(fake));
    Outcome first;
    engine.publish_ports("first", "10.88.0.2", one_port(8080), first.completion());
    run_until_idle(engine);
    REQUIRE(first.ok());
    // A writer that changes our table before each of our commits.
    std::uint16_t port = 9000;
    fake.before_commit = [&](const ruleset::Commit&) {
        auto& ports = fake.mutable_state().at({ruleset::Family::ip, "warren"}).sets.at(layout::ports_map).elements;
        auto element = ports.begin()->second;
        element.key[element.key.size() - 1] = static_cast<std::uint8_t>(++port);
        ports.emplace(element.key, element);
        fake.bump_generation();
    };
    Outcome contended;
    engine.publish_ports("second", "10.88.0.3", one_port(8081), contended.completion());
    run_until_idle(engine);
    CHECK(contended.code() == errc::ruleset_changed);
    CHECK(fake.commit_attempts() > 10);
}

TEST_CASE("an engine refuses the id of an ingress service, and publishes the tasks queued with it", "[engine][ingress]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    PortMapping ingress_port{8080, 80, Protocol::tcp, PublishMode::ingress, ""};
    publisher.publish_ingress("web", std::vector{ingress_port}, std::vector<IngressBackend>{{"10.88.0.5"}});
    auto engine = engine_on(test::share(fake));
    Outcome publish, unpublish, task;
    engine.publish_ports("web", "10.88.0.2", one_port(9090), publish.completion());
    engine.unpublish_ports("web", unpublish.completion());
    engine.publish_ports("task-a", "10.88.0.3", one_port(9091), task.completion());
    run_until_idle(engine);
    CHECK(publish.code() == errc::invalid_argument);
    CHECK(unpublish.code() == errc::invalid_argument);
    CHECK(task.ok());
    CHECK(publisher.ingress_services().size() == 1);
    CHECK(publisher.published_ports("task-a") == one_port(9091));
}

TEST_CASE("a batch whose repair makes the ingress map again writes the services' slots again", "[engine][ingress]")
{
    FakeBackend fake;
    PortMapping web{8080, 80, Protocol::tcp, PublishMode::ingress, ""};
    publisher_on(test::share(fake)).publish_ingress("web", std::vector{web}, std::vector<IngressBackend>{{"10.88.0.5"}});
    auto& table = fake.mutable_state().at({ruleset::Family::ip, layout::table_name});
    table.sets.at(layout::ingress_map).declaration.nft_typeof.reset();
    fake.bump_generation();

    auto engine = engine_on(test::share(fake));
    Outcome published;
    engine.publish_ports("task-a", "10.88.0.2", one_port(7070), published.completion());
    run_until_idle(engine);
    CHECK(published.ok());
    const auto& map = fake.state().at({ruleset::Family::ip, layout::table_name}).sets.at(layout::ingress_map);
    CHECK(map.declaration.nft_typeof.has_value());
    CHECK(map.elements.size() == 256);
}
