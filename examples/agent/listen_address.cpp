// SPDX-License-Identifier: Apache-2.0
#include "listen_address.hpp"

#include "printable.hpp"

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace warren::agent {

boost::asio::ip::tcp::endpoint parse_listen_address(std::string_view text)
{
    const auto invalid = [&] {
        return std::invalid_argument("--listen " + nft::quote(text) +
                                     ": expected ADDRESS:PORT, as 127.0.0.1:9646 or [::1]:9646, with a port from 0 to 65535");
    };
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        throw invalid();
    auto host = text.substr(0, colon);
    const auto port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    else if (host.find(':') != std::string_view::npos)
        throw invalid();  // an IPv6 address goes in brackets
    std::uint16_t port = 0;
    const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size())
        throw invalid();
    boost::system::error_code bad_address;
    const auto address = boost::asio::ip::make_address(std::string(host), bad_address);
    if (bad_address)
        throw invalid();
    return {address, port};
}

}  // namespace warren::agent
