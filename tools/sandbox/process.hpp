// SPDX-License-Identifier: Apache-2.0
// Running `nft`, `ip` and other programs (found via PATH) and forking child processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace sandbox {

class Netns;

struct Command {
    std::vector<std::string> argv;
    std::string input;             // written to the command's stdin
    const Netns* netns = nullptr;  // run inside this namespace instead of the caller's
    std::vector<int> pass_fds;     // become the child's fds 3, 4, ... (e.g. for /proc/self/fd/3)
};

struct CommandResult {
    int exit_code = -1;  // -1: killed by a signal
    std::string out;
    std::string err;
    std::string describe(const std::vector<std::string>& argv) const;
};

// Full path of a program, looked up in PATH and then in the sbin directories (where nft and ip live,
// and which an unprivileged user's PATH often lacks). Throws when it is nowhere.
std::string find_program(const std::string& name);

// Runs a command to completion in the calling thread's network namespace (or cmd.netns).
CommandResult run(const Command& cmd);
// Runs it and returns stdout; throws std::runtime_error with stderr unless it exits with 0.
std::string check_output(const Command& cmd);
std::string check_output(std::vector<std::string> argv);

// A forked copy of this process running `body(report_fd)` in the calling thread's network namespace;
// body's return value is the exit status. Whatever it writes to report_fd can be read by the parent.
// The child never returns into the caller's code (e.g. Catch): it leaves with _exit. The parent must be single-threaded when
// forking. The destructor kills (SIGKILL, by pid) and reaps a child that is still running.
class ForkedChild {
public:
    explicit ForkedChild(std::function<int(int report_fd)> body);
    ~ForkedChild();
    ForkedChild(const ForkedChild&) = delete;
    ForkedChild& operator=(const ForkedChild&) = delete;

    pid_t pid() const { return pid_; }
    // Waits for the exit (at most `timeout`, then kills it) and returns its exit status
    // (-1 when killed by a signal); the report is then in report().
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60));
    const std::string& report() const { return report_; }

private:
    void drain(int timeout_ms);
    pid_t pid_ = -1;
    int read_fd_ = -1;
    std::string report_;
    bool reaped_ = false;
    int status_ = -1;
};

// A command running in the background whose stdout is read as it comes (e.g. `nft monitor`).
class BackgroundCommand {
public:
    explicit BackgroundCommand(std::vector<std::string> argv);
    ~BackgroundCommand();  // SIGTERM (then SIGKILL) to its pid, and reaps it
    BackgroundCommand(const BackgroundCommand&) = delete;
    BackgroundCommand& operator=(const BackgroundCommand&) = delete;

    // Reads until `done(output so far)` holds or the timeout passes; returns whether it held.
    bool read_until(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout);
    const std::string& output() const { return output_; }

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::string output_;
};

// Writes all of `text` to fd (used by forked children to report).
void write_all(int fd, const std::string& text);

}  // namespace sandbox
