// SPDX-License-Identifier: Apache-2.0
// The flow cleaner's timed requests (drain deadlines): carried out when due, replaced, cancelled,
// asked again when their confirmation says so, and finished when the cleaner stops.
#include "publisher/flow_cleaner.hpp"
#include "ruleset/fake_backend.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

using namespace warren::nft;
using namespace std::chrono_literals;
using ruleset::FakeBackend;
using ruleset::Family;
using ruleset::FlowMatch;

namespace {

FlowMatch to_port(std::uint16_t port) { return FlowMatch{Family::ip, IPPROTO_TCP, port}; }

const auto no_warnings = [](const std::string& message) { FAIL_CHECK("unexpected warning: " << message); };

}  // namespace

TEST_CASE("a timed request is carried out once due, and wait() waits for the ones due by then", "[flows]")
{
    FakeBackend fake;
    FlowCleaner cleaner(fake, no_warnings);
    cleaner.forget_at(to_port(1), FlowCleaner::Clock::now() - 1s);
    cleaner.forget_at(to_port(2), FlowCleaner::Clock::now() + 1h);
    cleaner.wait();
    REQUIRE(fake.forgotten_flows().size() == 1);
    CHECK(fake.forgotten_flows()[0] == to_port(1));

    const auto soon = FlowCleaner::Clock::now() + 200ms;
    cleaner.forget_at(to_port(3), soon);
    std::this_thread::sleep_until(soon);
    cleaner.wait();
    REQUIRE(fake.forgotten_flows().size() == 2);
    CHECK(fake.forgotten_flows()[1] == to_port(3));
}

TEST_CASE("a timed request asked for again takes the new time, and a cancelled one is never carried out", "[flows]")
{
    FakeBackend fake;
    {
        FlowCleaner cleaner(fake, no_warnings);
        // The thread waits for the first (in an hour); the later request for an earlier time wakes it.
        cleaner.forget_at(to_port(1), FlowCleaner::Clock::now() + 1h);
        const auto soon = FlowCleaner::Clock::now() + 200ms;
        cleaner.forget_at(to_port(2), soon);
        // Moved later: not due at `soon`.
        cleaner.forget_at(to_port(3), soon);
        cleaner.forget_at(to_port(3), FlowCleaner::Clock::now() + 1h);
        cleaner.forget_at(to_port(4), soon);
        cleaner.cancel(to_port(4));
        std::this_thread::sleep_until(soon + 100ms);
        cleaner.wait();
        REQUIRE(fake.forgotten_flows().size() == 1);
        CHECK(fake.forgotten_flows()[0] == to_port(2));
    }  // stopped: the requests not due are dropped
    CHECK(fake.forgotten_flows().size() == 1);
}

TEST_CASE("a cleaner that stops carries out the timed requests due by then", "[flows]")
{
    FakeBackend fake;
    {
        FlowCleaner cleaner(fake, no_warnings);
        cleaner.forget_at(to_port(1), FlowCleaner::Clock::now() - 1s);
    }
    REQUIRE(fake.forgotten_flows().size() == 1);
    CHECK(fake.forgotten_flows()[0] == to_port(1));
}

TEST_CASE("due requests are confirmed first: carried out, asked again later, or dropped", "[flows]")
{
    FakeBackend fake;
    std::mutex mutex;
    std::vector<std::vector<FlowMatch>> asked;
    // All three come due at once, in one confirmation; the one asked again comes due well after.
    const auto soon = FlowCleaner::Clock::now() + 200ms;
    const auto later = soon + 2s;
    FlowCleaner cleaner(fake, no_warnings, [&](std::vector<FlowMatch> due) {
        std::lock_guard lock(mutex);
        asked.push_back(due);
        FlowCleaner::Due out;
        for (const auto& flow : due) {
            if (flow == to_port(1))
                out.now.push_back(flow);
            else if (flow == to_port(2) && asked.size() == 1)
                out.later.emplace_back(flow, later);
            else if (flow == to_port(2))
                out.now.push_back(flow);
            // to_port(3): dropped
        }
        return out;
    });
    for (const std::uint16_t port : {1, 2, 3})
        cleaner.forget_at(to_port(port), soon);
    std::this_thread::sleep_until(soon);
    cleaner.wait();
    REQUIRE(fake.forgotten_flows().size() == 1);
    CHECK(fake.forgotten_flows()[0] == to_port(1));

    std::this_thread::sleep_until(later);
    cleaner.wait();
    REQUIRE(fake.forgotten_flows().size() == 2);
    CHECK(fake.forgotten_flows()[1] == to_port(2));
    std::lock_guard lock(mutex);
    REQUIRE(asked.size() == 2);
    CHECK(asked[0].size() == 3);
    CHECK(asked[1] == std::vector{to_port(2)});
}

TEST_CASE("a confirmation that fails is reported and asked again later, nothing deleted", "[flows]")
{
    FakeBackend fake;
    std::mutex mutex;
    std::vector<std::string> warnings;
    std::atomic<int> calls = 0;
    {
        FlowCleaner cleaner(
            fake,
            [&](const std::string& message) {
                std::lock_guard lock(mutex);
                warnings.push_back(message);
            },
            [&](std::vector<FlowMatch>) -> FlowCleaner::Due {
                ++calls;
                throw std::runtime_error("tables unreadable");
            });
        cleaner.forget_at(to_port(1), FlowCleaner::Clock::now() - 1s);
        cleaner.wait();
    }  // asked again in seconds: stopping drops it
    CHECK(fake.forgotten_flows().empty());
    CHECK(calls == 1);
    std::lock_guard lock(mutex);
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0], Catch::Contains("tables unreadable") && Catch::Contains("asking again"));
}
