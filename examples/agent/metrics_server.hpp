// SPDX-License-Identifier: Apache-2.0
// The agent's HTTP endpoint (Boost.Beast), for Prometheus and for liveness probes:
//   GET /metrics  the publisher's metrics in the Prometheus text format (version 0.0.4)
//   GET /healthz  "ok" while the agent runs
// Anything else is 404 (405 for another method on those paths).
#pragma once

#include "asio_coroutines.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <functional>
#include <set>
#include <string>
#include <string_view>

namespace warren::agent {

struct HttpAnswer {
    unsigned status = 200;
    std::string content_type;
    std::string body;
};

// The answer to one request; `metrics` makes the body of /metrics.
HttpAnswer answer_request(std::string_view method, std::string_view target, const std::function<std::string()>& metrics);

class MetricsServer {
public:
    // Listens on `endpoint` at once (throws boost::system::system_error when it cannot); serves once
    // start() is called.
    MetricsServer(boost::asio::any_io_executor executor, const boost::asio::ip::tcp::endpoint& endpoint,
                  std::function<std::string()> metrics);

    boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
    // Accepts connections until close(); each is served by a coroutine of its own.
    void start();
    // Stops listening and ends the connections open now: their coroutines finish, so that the
    // io_context runs out of work.
    void close();

private:
    boost::asio::awaitable<void> accept_connections();
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

    boost::asio::ip::tcp::acceptor acceptor_;
    std::function<std::string()> metrics_;
    std::set<boost::beast::tcp_stream*> connections_;  // each lives in its coroutine's frame
};

}  // namespace warren::agent
