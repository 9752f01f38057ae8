// SPDX-License-Identifier: Apache-2.0
// The example node agent: on one io_context, a self-healing AsyncHostPortPublisher that publishes
// the ports of the tasks file (reconciled at start and on SIGHUP), and the metrics endpoint, until
// SIGTERM or SIGINT. Everything it does is logged on standard error.
#pragma once

#include "asio_coroutines.hpp"
#include "metrics_server.hpp"

#include <warren/nft/asio.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include <optional>
#include <string>
#include <vector>

namespace warren::agent {

struct AgentOptions {
    std::string tasks_file;
    boost::asio::ip::tcp::endpoint listen;
    bool counters = false;  // PublisherOptions::counters: per destination packet and byte metrics
};

class Agent {
public:
    // Listens and opens the publisher (throws boost::system::system_error or nft::Error); nothing is
    // published before start().
    Agent(boost::asio::io_context& io, AgentOptions options);
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    // Publishes `desired` (the tasks file as read at start), then serves and follows the signals;
    // io.run() returns once SIGTERM or SIGINT stopped it, with no work left.
    void start(std::vector<nft::TaskPorts> desired);

private:
    boost::asio::awaitable<void> reconcile_on_sighup(std::vector<nft::TaskPorts> desired);
    boost::asio::awaitable<void> reconcile(std::vector<nft::TaskPorts> desired);
    boost::asio::awaitable<void> stop_on_signal();

    boost::asio::io_context& io_;
    AgentOptions options_;
    // Made first: from then on these signals are the agent's to handle, never the default action.
    boost::asio::signal_set reload_signals_;
    boost::asio::signal_set stop_signals_;
    // Listening before the publisher opens: an address in use stops the agent before it reads the table.
    MetricsServer server_;
    // Destroyed on stop: its sockets are closed and its requests dropped, so that io.run() returns.
    std::optional<nft::AsyncHostPortPublisher> publisher_;
    bool stopping_ = false;
};

}  // namespace warren::agent
