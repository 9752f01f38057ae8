// SPDX-License-Identifier: Apache-2.0
// The library's warnings (PublisherOptions::logger, warning level and above) as the command line
// shows them on stderr, one line each: "warren-nft: <message>", or with --json the object
// {"warning": {"message": MESSAGE}} (docs/cli.md). Debug and info lines are dropped: a repair is what
// `watch` prints anyway.
#pragma once

#include <warren/nft/host_port_publisher.hpp>

#include <memory>
#include <string_view>
#include <mutex>
#include <string>
#include <vector>

namespace warren::cli {

class Warnings {
public:
    explicit Warnings(bool json);

    // A logger that keeps the warnings for print(): a command that fails prints its error alone,
    // which says what a warning of a refused commit would repeat. Called from any thread.
    nft::PublisherOptions::Logger held() const;
    // Writes the warnings held so far to stderr.
    void print() const;

    // A logger that writes each warning to stderr at once (for a command that runs until stopped).
    static nft::PublisherOptions::Logger immediate(bool json);

private:
    struct Held {
        std::mutex mutex;
        std::vector<std::string> lines;
    };
    std::shared_ptr<Held> held_;
    bool json_;
};

}  // namespace warren::cli
