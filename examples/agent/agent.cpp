// SPDX-License-Identifier: Apache-2.0
#include "agent.hpp"

#include "agent_log.hpp"
#include "desired_tasks.hpp"

#include <warren/nft/error.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>

#include <signal.h>

#include <stdexcept>
#include <string_view>

namespace warren::agent {

namespace {

namespace asio = boost::asio;

nft::PublisherOptions publisher_options(const AgentOptions& options)
{
    nft::PublisherOptions publisher;
    publisher.counters = options.counters;
    publisher.self_heal = true;
    // Repairs are info (their failures errors): every message but the retries' debug ones.
    publisher.logger = [](nft::LogLevel level, std::string_view message) {
        switch (level) {
            case nft::LogLevel::debug: return;
            case nft::LogLevel::info: log_line(message); return;
            case nft::LogLevel::warning: log_line("warning: " + std::string(message)); return;
            case nft::LogLevel::error: log_line("error: " + std::string(message)); return;
        }
    };
    return publisher;
}

std::string url(const asio::ip::tcp::endpoint& endpoint, std::string_view path)
{
    const auto address = endpoint.address();
    const auto host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return "http://" + host + ":" + std::to_string(endpoint.port()) + std::string(path);
}

std::string describe(const std::vector<nft::TaskPorts>& desired)
{
    std::size_t ports = 0;
    for (const auto& task : desired)
        ports += task.ports.size();
    return std::to_string(desired.size()) + " task(s) with " + std::to_string(ports) + " port(s)";
}

}  // namespace

Agent::Agent(asio::io_context& io, AgentOptions options)
    : io_(io),
      options_(std::move(options)),
      reload_signals_(io, SIGHUP),
      stop_signals_(io, SIGTERM, SIGINT),
      server_(io.get_executor(), options_.listen,
              [this] {
                  if (!publisher_)
                      throw std::runtime_error("stopping");
                  return nft::prometheus_text(publisher_->metrics());
              }),
      publisher_(std::in_place, io.get_executor(), publisher_options(options_))
{
}

void Agent::start(std::vector<nft::TaskPorts> desired)
{
    log_line("serving " + url(server_.local_endpoint(), "/metrics") + " and /healthz");
    server_.start();
    asio::co_spawn(io_, stop_on_signal(), asio::detached);
    asio::co_spawn(io_, reconcile_on_sighup(std::move(desired)), asio::detached);
}

asio::awaitable<void> Agent::reconcile_on_sighup(std::vector<nft::TaskPorts> desired)
{
    co_await reconcile(std::move(desired));
    while (!stopping_) {
        boost::system::error_code error;
        co_await reload_signals_.async_wait(asio::redirect_error(asio::use_awaitable, error));
        if (stopping_)
            break;
        try {
            desired = load_desired_tasks(options_.tasks_file);
        } catch (const DesiredTasksError& bad_file) {
            log_line("SIGHUP: " + std::string(bad_file.what()) + "; nothing changed, the last good tasks stay published");
            continue;
        }
        log_line("SIGHUP: reconciling " + describe(desired));
        co_await reconcile(std::move(desired));
    }
}

asio::awaitable<void> Agent::reconcile(std::vector<nft::TaskPorts> desired)
{
    const auto what = describe(desired);
    try {
        co_await publisher_->async_reconcile(std::move(desired), asio::use_awaitable);
        log_line("reconciled: " + what + " published");
    } catch (const nft::Error& error) {
        // reconcile() is all or nothing: the table is as it was.
        log_line("not reconciled, nothing changed: " + std::string(error.what()));
    }
}

asio::awaitable<void> Agent::stop_on_signal()
{
    boost::system::error_code error;
    const int signal = co_await stop_signals_.async_wait(asio::redirect_error(asio::use_awaitable, error));
    log_line(std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") + "; the published ports stay as they are");
    // Everything that waits ends, so that io.run() returns: every coroutine finishes on this
    // thread, none is left in the io_context to be destroyed with it.
    stopping_ = true;
    server_.close();
    reload_signals_.cancel();
    // A reconcile still queued is dropped; one the kernel was sent is committed or not as a whole.
    publisher_.reset();
}

}  // namespace warren::agent
