// SPDX-License-Identifier: Apache-2.0
// The publisher's one way to say something: PublisherOptions::logger, when the agent set one. The
// library never prints; a logger's failure changes nothing.
#pragma once

#include <warren/nft/host_port_publisher.hpp>

#include <functional>
#include <string_view>
#include <utility>

namespace warren::nft {

class Log {
public:
    using Logger = PublisherOptions::Logger;

    Log() = default;
    explicit Log(Logger logger) : logger_(std::move(logger)) {}

    // Whether anyone listens: a message that costs something to build is built only then.
    bool enabled() const noexcept { return static_cast<bool>(logger_); }

    // `message` is one line of printable ASCII (names from the kernel escaped with printable()).
    void operator()(LogLevel level, std::string_view message) const noexcept
    {
        if (!logger_)
            return;
        try {
            logger_(level, message);
        } catch (...) {
            // What a logger throws is its own business: the publisher goes on as if it had returned.
        }
    }

private:
    Logger logger_;
};

}  // namespace warren::nft
