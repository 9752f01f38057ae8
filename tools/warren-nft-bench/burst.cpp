// SPDX-License-Identifier: Apache-2.0
#include "burst.hpp"

#include "child.hpp"
#include "service.hpp"

#include <warren/nft/asio.hpp>
#include <warren/nft/host_port_publisher.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <stdexcept>

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
using Mappings = std::vector<std::vector<warren::nft::PortMapping>>;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// What a reader of the kernel's table sees (a publisher of its own, made after the burst): every
// request of a burst must have done its part.
void expect_published(std::size_t ports, const char* after)
{
    const auto found = warren::nft::HostPortPublisher().all_published_ports().size();
    if (found != ports)
        throw std::runtime_error(std::string("after the ") + after + " burst the table holds " + std::to_string(found) +
                                 " ports, not " + std::to_string(ports));
}

std::string message_of(const std::exception_ptr& error)
{
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception that is not a std::exception";
    }
}

nlohmann::json measure_sync(const std::vector<Task>& tasks, const Mappings& mappings)
{
    warren::nft::HostPortPublisher publisher;
    auto start = Clock::now();
    for (std::size_t i = 0; i < tasks.size(); ++i)
        publisher.publish_ports(tasks[i].id, tasks[i].container_ip, mappings[i]);
    const auto publish_seconds = seconds_since(start);
    expect_published(tasks.size(), "publish");

    start = Clock::now();
    for (const auto& task : tasks)
        publisher.unpublish_ports(task.id);
    const auto unpublish_seconds = seconds_since(start);
    expect_published(0, "unpublish");
    return {{"publish_seconds", publish_seconds}, {"unpublish_seconds", unpublish_seconds}};
}

// Every request of one burst queued at once from the io_context's thread, then the io_context run
// until the last completion handler ran.
class AsyncBurst {
public:
    AsyncBurst() : publisher_(io_.get_executor())
    {
        io_.poll();  // its first step (following the change announcements) is not part of a burst
    }

    using Request = std::function<void(std::size_t index, std::function<void(std::exception_ptr)> done)>;
    struct Figures {
        double seconds = 0;
        std::uint64_t batches = 0;
    };
    Figures run(std::size_t requests, const Request& request, const char* what)
    {
        std::size_t completed = 0;
        std::optional<std::string> first_failure;
        const auto batches_before = publisher_.metrics().batches;
        const auto start = Clock::now();
        for (std::size_t i = 0; i < requests; ++i)
            request(i, [&](std::exception_ptr error) {
                ++completed;
                if (error && !first_failure)
                    first_failure = message_of(error);
            });
        while (completed < requests)
            if (io_.run_one() == 0)
                throw std::runtime_error(std::string("the io_context ran out of work with ") +
                                         std::to_string(requests - completed) + " " + what + " requests not completed");
        const auto seconds = seconds_since(start);
        if (first_failure)
            throw std::runtime_error(std::string("an asynchronous ") + what + " failed: " + *first_failure);
        return {seconds, publisher_.metrics().batches - batches_before};
    }

    warren::nft::AsyncHostPortPublisher& publisher() { return publisher_; }

private:
    boost::asio::io_context io_;
    warren::nft::AsyncHostPortPublisher publisher_;
};

nlohmann::json measure_async(const std::vector<Task>& tasks, const Mappings& mappings)
{
    AsyncBurst burst;
    auto& publisher = burst.publisher();
    const auto published = burst.run(
        tasks.size(),
        [&](std::size_t i, auto done) {
            publisher.async_publish_ports(tasks[i].id, tasks[i].container_ip, mappings[i],
                                          [done](std::exception_ptr error, auto&&) { done(error); });
        },
        "publish");
    expect_published(tasks.size(), "publish");
    const auto unpublished = burst.run(
        tasks.size(), [&](std::size_t i, auto done) { publisher.async_unpublish_ports(tasks[i].id, done); }, "unpublish");
    expect_published(0, "unpublish");
    return {{"publish_seconds", published.seconds},
            {"unpublish_seconds", unpublished.seconds},
            {"publish_batches", published.batches},
            {"unpublish_batches", unpublished.batches}};
}

void record(BurstSide& side, const nlohmann::json& j)
{
    side.publish_seconds.push_back(j.at("publish_seconds"));
    side.unpublish_seconds.push_back(j.at("unpublish_seconds"));
    // A publisher whose metrics do not count transactions reports none for thousands of requests.
    for (const auto& [key, batches] :
         {std::pair{"publish_batches", &side.publish_batches}, std::pair{"unpublish_batches", &side.unpublish_batches}})
        if (j.contains(key) && j.at(key).get<std::uint64_t>() > 0)
            batches->push_back(j.at(key));
}

}  // namespace

BurstResult run_burst(const BurstOptions& options)
{
    BurstResult result;
    result.options = options;
    const auto tasks = filler_tasks(options.tasks, 1);
    const auto mappings = port_mappings(tasks);
    constexpr auto timeout = std::chrono::seconds(600);
    for (std::size_t round = 0; round < options.rounds; ++round) {
        // Alternately first, so that a machine slower at one moment does not favour one side.
        const bool sync_first = round % 2 == 0;
        for (const bool sync : {sync_first, !sync_first}) {
            try {
                const auto j = run_in_fresh_child(
                    [&] { return sync ? measure_sync(tasks, mappings) : measure_async(tasks, mappings); }, timeout);
                record(sync ? result.sync : result.async, j);
            } catch (const std::exception& e) {
                result.error =
                    "round " + std::to_string(round + 1) + ", " + (sync ? "synchronous" : "asynchronous") + " side: " + e.what();
                return result;
            }
        }
    }
    return result;
}

}  // namespace bench
