// SPDX-License-Identifier: Apache-2.0
// The Boost.Asio front end: work runs on the given executor, results and errors come back intact.
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>
#include <warren/nft/asio.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include "ports.hpp"

#include <thread>

using namespace warren::nft;

TEST_CASE("async calls run on the executor and complete on the handler's", "[asio]")
{
    ruleset::FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    boost::asio::thread_pool pool(1);
    boost::asio::io_context io;

    std::thread::id worker, completion;
    std::exception_ptr published_error = std::make_exception_ptr(std::runtime_error("not called"));
    fake.before_commit = [&](const ruleset::Commit&) { worker = std::this_thread::get_id(); };
    async_publish_ports(publisher, pool.get_executor(), "task-a", "10.88.0.5", {test::port(8080, 80)},
                        [&](std::exception_ptr error) {
                            completion = std::this_thread::get_id();
                            published_error = error;
                        });
    io.run();  // nothing was bound to io: the handler runs on the pool
    pool.join();
    CHECK_FALSE(published_error);
    CHECK(worker != std::this_thread::get_id());
    CHECK(completion == worker);
    fake.before_commit = nullptr;

    // A handler bound to the io_context completes there.
    boost::asio::thread_pool pool2(1);
    std::vector<PortMapping> listed;
    async_published_ports(publisher, pool2.get_executor(), "task-a",
                          boost::asio::bind_executor(io, [&](std::exception_ptr error, std::vector<PortMapping> ports) {
                              CHECK_FALSE(error);
                              completion = std::this_thread::get_id();
                              listed = std::move(ports);
                          }));
    io.restart();
    io.run();
    pool2.join();
    CHECK(completion == std::this_thread::get_id());
    CHECK(listed == std::vector<PortMapping>{test::port(8080, 80)});
}

TEST_CASE("async errors are the synchronous Error, rethrown by use_future", "[asio]")
{
    ruleset::FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    boost::asio::thread_pool pool(2);
    async_publish_ports(publisher, pool.get_executor(), "task-a", "10.88.0.5", {test::port(8080, 80)}, boost::asio::use_future)
        .get();
    auto conflict = async_publish_ports(publisher, pool.get_executor(), "task-b", "10.88.0.6", {test::port(8080, 81)},
                                        boost::asio::use_future);
    try {
        conflict.get();
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == errc::port_conflict);
    }
    auto bad = async_publish_ports(publisher, pool.get_executor(), "", "10.88.0.6", {test::port(1, 1)}, boost::asio::use_future);
    CHECK_THROWS_AS(bad.get(), Error);
    async_unpublish_ports(publisher, pool.get_executor(), "task-a", boost::asio::use_future).get();
    CHECK(async_published_ports(publisher, pool.get_executor(), "task-a", boost::asio::use_future).get().empty());
    // A dual-stack task, from a string that is gone before the call runs.
    ContainerAddresses addresses{"10.88.0.7", "fd00::7"};
    auto dual =
        async_publish_ports(publisher, pool.get_executor(), "task-c", addresses, {test::port(9090, 90)}, boost::asio::use_future);
    dual.get();
    CHECK(publisher.all_published_ports().size() == 2);
    {
        std::string ip = "fd00::8";
        auto v6 =
            async_publish_ports(publisher, pool.get_executor(), "task-d", ip, {test::port(9191, 91)}, boost::asio::use_future);
        ip.assign(32, 'x');
        v6.get();
    }
    CHECK(publisher.published_ports("task-d") == std::vector{test::port(9191, 91)});
    pool.join();
}
