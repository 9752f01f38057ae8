// SPDX-License-Identifier: Apache-2.0
// Boost.Asio front ends of the publisher (header-only; needs Boost.Asio headers, >= 1.74).
//
// AsyncHostPortPublisher lives on an executor: its netlink sockets are non-blocking and waited on by
// the executor's io_context, requests queued while a transaction is in flight go together in the
// next one, and no thread is held per request. Each operation completes on the handler's associated
// executor with a std::exception_ptr first: null on success, else the warren::nft::Error the
// synchronous call would have thrown. use_future and use_awaitable turn it back into that exception,
// so `co_await publisher.async_publish_ports(..., use_awaitable)` throws the same Error with the same
// code() as HostPortPublisher::publish_ports().
//
// The free functions further down run a synchronous HostPortPublisher on a thread pool instead.
#pragma once

#include <warren/nft/error.hpp>
#include <warren/nft/host_port_publisher.hpp>
#include <warren/nft/metrics.hpp>
#include <warren/nft/publisher_engine.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace warren::nft {

// A publisher for event loops (PublisherEngine on a Boost.Asio executor). Its executor must run its
// handlers one at a time: an io_context run by one thread, or a strand. Operations may be started
// from any thread. While it exists it waits for the kernel's change announcements, so the
// io_context's run() does not return for lack of work: destroy it, or stop the io_context, to end.
// Destroy it before its io_context. Requests not completed when it is destroyed are dropped (their
// handlers destroyed uncalled, as an io_context does with its own); a transaction the kernel was
// sent is committed or not as a whole.
class AsyncHostPortPublisher {
public:
    using executor_type = boost::asio::any_io_executor;

    // Opens the sockets and probes the kernel (throws Error), as HostPortPublisher does. A
    // self-healing publisher repairs on this executor too.
    explicit AsyncHostPortPublisher(executor_type executor, PublisherOptions options = {})
        : driver_(std::make_shared<Driver>(std::move(executor), std::move(options)))
    {
        driver_->schedule();  // starts following the change announcements
    }
    ~AsyncHostPortPublisher() { driver_->close(); }
    AsyncHostPortPublisher(const AsyncHostPortPublisher&) = delete;
    AsyncHostPortPublisher& operator=(const AsyncHostPortPublisher&) = delete;

    executor_type get_executor() const noexcept { return driver_->executor; }

    // Completion signature: void(std::exception_ptr, std::vector<PortMapping>): the task's ports as
    // published (HostPortPublisher::publish_ports() returns the same), empty on error.
    // `container_ip`: IPv4 or IPv6.
    template <typename CompletionToken>
    auto async_publish_ports(std::string task_id, std::string container_ip, std::vector<PortMapping> ports,
                             CompletionToken&& token)
    {
        return start<true>(std::forward<CompletionToken>(token),
                           [task = std::move(task_id), ip = std::move(container_ip), ports = std::move(ports)](
                               PublisherEngine& engine, auto done) mutable {
                               engine.publish_ports(std::move(task), std::move(ip), std::move(ports), std::move(done));
                           });
    }
    // The same for a dual-stack task.
    template <typename CompletionToken>
    auto async_publish_ports(std::string task_id, ContainerAddresses container, std::vector<PortMapping> ports,
                             CompletionToken&& token)
    {
        return start<true>(std::forward<CompletionToken>(token),
                           [task = std::move(task_id), addresses = std::move(container), ports = std::move(ports)](
                               PublisherEngine& engine, auto done) mutable {
                               engine.publish_ports(std::move(task), std::move(addresses), std::move(ports), std::move(done));
                           });
    }
    // Completion signature: void(std::exception_ptr).
    template <typename CompletionToken>
    auto async_unpublish_ports(std::string task_id, CompletionToken&& token)
    {
        return start<false>(std::forward<CompletionToken>(token),
                            [task = std::move(task_id)](PublisherEngine& engine, auto done) mutable {
                                engine.unpublish_ports(std::move(task), std::move(done));
                            });
    }
    // Completion signature: void(std::exception_ptr, std::vector<PortMapping>).
    template <typename CompletionToken>
    auto async_published_ports(std::string task_id, CompletionToken&& token)
    {
        return start<true>(std::forward<CompletionToken>(token),
                           [task = std::move(task_id)](PublisherEngine& engine, auto done) mutable {
                               engine.published_ports(std::move(task), std::move(done));
                           });
    }
    // Completion signature: void(std::exception_ptr).
    template <typename CompletionToken>
    auto async_reconcile(std::vector<TaskPorts> desired, CompletionToken&& token)
    {
        return start<false>(std::forward<CompletionToken>(token),
                            [desired = std::move(desired)](PublisherEngine& engine, auto done) mutable {
                                engine.reconcile(std::move(desired), std::move(done));
                            });
    }

    MetricsSnapshot metrics() const { return driver_->engine.metrics(); }
    const KernelFeatures& kernel_features() const noexcept { return driver_->engine.kernel_features(); }

private:
    // What the executor's handlers share with the publisher: they may outlive it by a moment
    // (until their cancellation is delivered).
    struct Driver : std::enable_shared_from_this<Driver> {
        Driver(executor_type executor_, PublisherOptions options)
            : executor(std::move(executor_)),
              engine(std::move(options)),
              answer(executor, engine.transaction_fd()),
              feed(executor, engine.feed_fd()),
              timer(executor)
        {
        }
        // The descriptors are the engine's: it closes them.
        ~Driver()
        {
            answer.release();
            feed.release();
        }

        void close()
        {
            closed = true;
            boost::system::error_code ignored;
            answer.cancel(ignored);
            feed.cancel(ignored);
            timer.cancel();
        }

        // Runs the engine soon, once however often it is asked before it runs (from any thread:
        // a request may come from one that waits on a future).
        void schedule()
        {
            if (closed || run_posted.exchange(true))
                return;
            boost::asio::post(executor, [self = this->shared_from_this()] {
                self->run_posted = false;
                self->step();
            });
        }

        void step()
        {
            if (closed)
                return;
            PublisherEngine::Wait wait;
            try {
                wait = engine.run();
            } catch (...) {
                // A handler threw (run() lets it through, like io_context::run()): the engine is
                // consistent, but what it waits for is unknown here; the next step finds out.
                run_posted = false;
                schedule();
                throw;
            }
            if (wait.answer && !answer_waiting) {
                answer_waiting = true;
                answer.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                  [self = this->shared_from_this()](const boost::system::error_code& error) {
                                      self->answer_waiting = false;
                                      if (!error)
                                          self->step();
                                  });
            }
            if (!feed_waiting) {
                feed_waiting = true;
                feed.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                [self = this->shared_from_this()](const boost::system::error_code& error) {
                                    self->feed_waiting = false;
                                    if (!error)
                                        self->step();
                                });
            }
            if (wait.until && (!timer_due || *wait.until < *timer_due)) {
                timer_due = wait.until;
                timer.expires_at(*wait.until);
                timer.async_wait([self = this->shared_from_this()](const boost::system::error_code& error) {
                    if (error)
                        return;  // cancelled, or moved earlier: that wait runs the engine
                    self->timer_due.reset();
                    self->step();
                });
            }
        }

        executor_type executor;
        PublisherEngine engine;
        boost::asio::posix::stream_descriptor answer;
        boost::asio::posix::stream_descriptor feed;
        boost::asio::steady_timer timer;
        std::optional<std::chrono::steady_clock::time_point> timer_due;
        std::atomic<bool> run_posted = false;
        std::atomic<bool> closed = false;
        bool answer_waiting = false;
        bool feed_waiting = false;
    };

    // Queues one request with `submit(engine, completion)` and has the engine run. The handler is
    // called on its associated executor (this publisher's by default), never from inside this call:
    // the engine completes requests from a handler of this publisher's executor, so a handler of
    // that executor is called there and then (dispatch), one of another executor posted to it.
    template <bool WithPorts, typename CompletionToken, typename Submit>
    auto start(CompletionToken&& token, Submit submit)
    {
        using Signature =
            std::conditional_t<WithPorts, void(std::exception_ptr, std::vector<PortMapping>), void(std::exception_ptr)>;
        return boost::asio::async_initiate<CompletionToken, Signature>(
            [driver = driver_](auto handler, Submit submit) mutable {
                using Handler = decltype(handler);
                auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler, driver->executor));
                // std::function needs a copyable target: the handler itself may only move.
                auto shared = std::make_shared<Handler>(std::move(handler));
                submit(driver->engine, [shared, work](std::exception_ptr error, std::vector<PortMapping> ports) mutable {
                    auto executor = work.get_executor();
                    work.reset();
                    boost::asio::dispatch(executor, [shared, error, ports = std::move(ports)]() mutable {
                        if constexpr (WithPorts)
                            std::move (*shared)(error, std::move(ports));
                        else
                            std::move (*shared)(error);
                    });
                });
                driver->schedule();
            },
            token, std::move(submit));
    }

    std::shared_ptr<Driver> driver_;
};

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
