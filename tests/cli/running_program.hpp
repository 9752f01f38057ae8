// SPDX-License-Identifier: Apache-2.0
// A program under test running in the background in the calling thread's network namespace (which
// the test's FreshNetns made), its stdout and stderr read as they come: `warren-nft watch`,
// warren-nft-agent.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace kt {

class RunningProgram {
public:
    enum class Stream { out, err };

    // Starts argv[0] (a path) with stdin from /dev/null.
    explicit RunningProgram(std::vector<std::string> argv);
    // Kills (SIGKILL) and reaps it if the test ended before it did.
    ~RunningProgram();
    RunningProgram(const RunningProgram&) = delete;
    RunningProgram& operator=(const RunningProgram&) = delete;

    // The next line of `stream` that `matches`; lines before it are passed over (they stay in out()
    // and err()). Fails the test when none came within `timeout`.
    std::string next_line(const std::function<bool(const std::string&)>& matches,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5), Stream stream = Stream::out);

    void send(int signal);
    // Sends `signal` and waits for the exit (at most 5 s, then SIGKILL); returns the exit status, -1
    // when a signal ended it.
    int stop(int signal);

    const std::string& out() const { return text_[0]; }
    const std::string& err() const { return text_[1]; }

private:
    // Reads what arrives on stdout and stderr before the deadline; false once it passed, or once
    // both pipes are closed and nothing more can come.
    bool read(std::chrono::steady_clock::time_point deadline);
    int reap(std::chrono::steady_clock::time_point deadline);

    std::string name_;
    pid_t pid_ = -1;
    bool reaped_ = false;
    std::array<int, 2> fds_{-1, -1};     // stdout, stderr
    std::array<std::string, 2> text_;    // what each has printed
    std::array<std::size_t, 2> seen_{};  // where next_line() goes on in each
};

// Matches lines that start with `prefix`.
std::function<bool(const std::string&)> starting_with(std::string prefix);

}  // namespace kt
