// SPDX-License-Identifier: Apache-2.0
// The address the metrics endpoint listens on, as given on the command line: IPV4:PORT or [IPV6]:PORT.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <string_view>

namespace warren::agent {

inline constexpr const char* default_listen_address = "127.0.0.1:9646";

// Throws std::invalid_argument with a message that says what is expected.
boost::asio::ip::tcp::endpoint parse_listen_address(std::string_view text);

}  // namespace warren::agent
