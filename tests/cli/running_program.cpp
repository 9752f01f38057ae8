// SPDX-License-Identifier: Apache-2.0
#include "running_program.hpp"

#include "netns.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace kt {

using namespace std::chrono_literals;

RunningProgram::RunningProgram(std::vector<std::string> argv) : name_(argv.at(0).substr(argv.at(0).rfind('/') + 1))
{
    sandbox::ensure_not_in_original_netns();
    std::vector<char*> args;
    for (auto& arg : argv)
        args.push_back(arg.data());
    args.push_back(nullptr);
    int out[2], err[2];
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(pipe2(err, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        // Only async-signal-safe calls here: the test may run other threads (echo servers).
        const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
            _exit(126);
        execv(args[0], args.data());
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    fds_ = {out[0], err[0]};
}

RunningProgram::~RunningProgram()
{
    if (pid_ > 0 && !reaped_) {
        kill(pid_, SIGKILL);
        reap(std::chrono::steady_clock::now() + 5s);
    }
    for (const int fd : fds_)
        if (fd >= 0)
            close(fd);
}

std::string RunningProgram::next_line(const std::function<bool(const std::string&)>& matches, std::chrono::milliseconds timeout,
                                      Stream stream)
{
    const auto which = stream == Stream::out ? 0 : 1;
    auto& text = text_[which];
    auto& seen = seen_[which];
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        for (auto end = text.find('\n', seen); end != std::string::npos; end = text.find('\n', seen)) {
            auto line = text.substr(seen, end - seen);
            seen = end + 1;
            if (matches(line))
                return line;
        }
        if (!read(deadline)) {
            INFO("stdout: " << out() << "\nstderr: " << err());
            FAIL(name_ << " printed no such line in time");
        }
    }
}

void RunningProgram::send(int signal) { REQUIRE(kill(pid_, signal) == 0); }

int RunningProgram::stop(int signal)
{
    send(signal);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (read(deadline)) {
    }
    return reap(deadline);
}

bool RunningProgram::read(std::chrono::steady_clock::time_point deadline)
{
    std::vector<pollfd> waiting;
    for (const int fd : fds_)
        if (fd >= 0)
            waiting.push_back({fd, POLLIN, 0});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (waiting.empty() || left.count() <= 0)
        return false;
    const int ready = poll(waiting.data(), waiting.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR)
        return true;
    if (ready <= 0)
        return false;
    for (const auto& pfd : waiting) {
        if (pfd.revents == 0)
            continue;
        const auto which = pfd.fd == fds_[0] ? 0 : 1;
        char buffer[4096];
        const auto got = ::read(pfd.fd, buffer, sizeof buffer);
        if (got <= 0) {
            close(fds_[which]);
            fds_[which] = -1;
            continue;
        }
        text_[which].append(buffer, static_cast<std::size_t>(got));
    }
    return true;
}

int RunningProgram::reap(std::chrono::steady_clock::time_point deadline)
{
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline)
            kill(pid_, SIGKILL);
        std::this_thread::sleep_for(5ms);
    }
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::function<bool(const std::string&)> starting_with(std::string prefix)
{
    return [prefix = std::move(prefix)](const std::string& line) { return line.starts_with(prefix); };
}

}  // namespace kt
