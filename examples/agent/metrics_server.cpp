// SPDX-License-Identifier: Apache-2.0
#include "metrics_server.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <exception>

namespace warren::agent {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

// A request of a scraper or probe is a few hundred bytes; anything much larger is not one.
constexpr std::uint64_t request_limit = 16 * 1024;
// A client that sends or reads nothing for this long is disconnected, so that none can hold a
// connection open for ever.
constexpr std::chrono::seconds idle_limit{10};
constexpr std::chrono::milliseconds accept_retry_pause{100};

}  // namespace

HttpAnswer answer_request(std::string_view method, std::string_view target, const std::function<std::string()>& metrics)
{
    const auto path = target.substr(0, target.find('?'));
    if (path != "/metrics" && path != "/healthz")
        return {404, "text/plain; charset=utf-8", "not found; try /metrics or /healthz\n"};
    if (method != "GET")
        return {405, "text/plain; charset=utf-8", "only GET\n"};
    if (path == "/healthz")
        return {200, "text/plain; charset=utf-8", "ok\n"};
    try {
        return {200, "text/plain; version=0.0.4; charset=utf-8", metrics()};
    } catch (const std::exception& error) {
        return {500, "text/plain; charset=utf-8", std::string("no metrics: ") + error.what() + "\n"};
    }
}

MetricsServer::MetricsServer(asio::any_io_executor executor, const tcp::endpoint& endpoint, std::function<std::string()> metrics)
    : acceptor_(executor, endpoint), metrics_(std::move(metrics))
{
}

void MetricsServer::start() { asio::co_spawn(acceptor_.get_executor(), accept_connections(), asio::detached); }

void MetricsServer::close()
{
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto* connection : connections_)
        connection->socket().close(ignored);
}

asio::awaitable<void> MetricsServer::accept_connections()
{
    for (;;) {
        boost::system::error_code error;
        auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, error));
        if (!acceptor_.is_open())
            co_return;  // closed
        if (!error) {
            asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
        } else {
            // Out of descriptors, say: accepting again at once would fail at once, for ever.
            asio::steady_timer pause(acceptor_.get_executor(), accept_retry_pause);
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, error));
        }
    }
}

asio::awaitable<void> MetricsServer::serve(tcp::socket socket)
{
    boost::beast::tcp_stream stream(std::move(socket));
    connections_.insert(&stream);
    struct Forget {
        std::set<boost::beast::tcp_stream*>& connections;
        boost::beast::tcp_stream* stream;
        ~Forget() { connections.erase(stream); }
    } forget{connections_, &stream};
    boost::beast::flat_buffer buffer;
    boost::system::error_code error;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(request_limit);
        parser.header_limit(request_limit);
        stream.expires_after(idle_limit);
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, error));
        if (error)
            co_return;  // closed by the client, timed out or not HTTP: nothing to answer
        const auto& request = parser.get();
        const auto method = request.method_string();
        const auto target = request.target();
        const auto answer = answer_request({method.data(), method.size()}, {target.data(), target.size()}, metrics_);
        http::response<http::string_body> response{static_cast<http::status>(answer.status), request.version()};
        response.set(http::field::server, "warren-nft-agent");
        response.set(http::field::content_type, answer.content_type);
        response.keep_alive(request.keep_alive());
        response.body() = answer.body;
        response.prepare_payload();
        stream.expires_after(idle_limit);
        co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, error));
        if (error || !response.keep_alive())
            break;
    }
    if (stream.socket().is_open())
        stream.socket().shutdown(tcp::socket::shutdown_send, error);
}

}  // namespace warren::agent
