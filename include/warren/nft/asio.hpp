// SPDX-License-Identifier: Apache-2.0
// Boost.Asio front end of HostPortPublisher (header-only; needs Boost.Asio headers, >= 1.74).
//
// Each call runs the publisher on `executor` (a thread pool, or a strand of one) and completes on
// the handler's associated executor with a std::exception_ptr first: null on success, else the
// warren::nft::Error the synchronous call threw. use_future and use_awaitable turn it back into that
// exception, so `co_await async_publish_ports(p, pool.get_executor(), ..., use_awaitable)` throws
// the same Error with the same code() as publish_ports().
#pragma once

#include <warren/nft/host_port_publisher.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace warren::nft {
namespace detail {

// Runs `work` on `executor`, then hands (exception, result...) to `handler` on its own executor.
template <typename Executor, typename Handler, typename Work>
void run_and_complete(const Executor& executor, Handler&& handler, Work&& work)
{
    auto completion_executor = boost::asio::get_associated_executor(handler, executor);
    boost::asio::post(executor, [handler = std::forward<Handler>(handler), work = std::forward<Work>(work),
                                 guard = boost::asio::make_work_guard(completion_executor)]() mutable {
        using Result = decltype(work());
        std::exception_ptr error;
        if constexpr (std::is_void_v<Result>) {
            try {
                work();
            } catch (...) {
                error = std::current_exception();
            }
            boost::asio::dispatch(guard.get_executor(), [handler = std::move(handler), error]() mutable { handler(error); });
        } else {
            Result result{};
            try {
                result = work();
            } catch (...) {
                error = std::current_exception();
            }
            boost::asio::dispatch(guard.get_executor(),
                                  [handler = std::move(handler), error, result = std::move(result)]() mutable {
                                      handler(error, std::move(result));
                                  });
        }
    });
}

}  // namespace detail

// Completion signature: void(std::exception_ptr). `container` is what publish_ports() takes: one
// address (a std::string) or ContainerAddresses.
template <typename Executor, typename Container, typename CompletionToken>
auto async_publish_ports(HostPortPublisher& publisher, const Executor& executor, std::string task_id, Container&& container,
                         std::vector<PortMapping> ports, CompletionToken&& token)
{
    // Kept until the call runs: a copy, never a pointer into the caller's string.
    using Stored =
        std::conditional_t<std::is_same_v<std::decay_t<Container>, ContainerAddresses>, ContainerAddresses, std::string>;
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [&publisher, executor](auto handler, std::string task, Stored addresses, std::vector<PortMapping> mappings) {
            detail::run_and_complete(executor, std::move(handler),
                                     [&publisher, task = std::move(task), addresses = std::move(addresses),
                                      mappings = std::move(mappings)] { publisher.publish_ports(task, addresses, mappings); });
        },
        token, std::move(task_id), Stored(std::forward<Container>(container)), std::move(ports));
}

// Completion signature: void(std::exception_ptr).
template <typename Executor, typename CompletionToken>
auto async_unpublish_ports(HostPortPublisher& publisher, const Executor& executor, std::string task_id, CompletionToken&& token)
{
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
        [&publisher, executor](auto handler, std::string task) {
            detail::run_and_complete(executor, std::move(handler),
                                     [&publisher, task = std::move(task)] { publisher.unpublish_ports(task); });
        },
        token, std::move(task_id));
}

// Completion signature: void(std::exception_ptr, std::vector<PortMapping>).
template <typename Executor, typename CompletionToken>
auto async_published_ports(HostPortPublisher& publisher, const Executor& executor, std::string task_id, CompletionToken&& token)
{
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::vector<PortMapping>)>(
        [&publisher, executor](auto handler, std::string task) {
            detail::run_and_complete(executor, std::move(handler),
                                     [&publisher, task = std::move(task)] { return publisher.published_ports(task); });
        },
        token, std::move(task_id));
}

}  // namespace warren::nft
