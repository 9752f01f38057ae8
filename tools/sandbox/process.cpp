// SPDX-License-Identifier: Apache-2.0
#include "process.hpp"

#include "netns.hpp"
#include "system_calls.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace sandbox {

namespace {

struct Pipe {
    int read = -1, write = -1;
    Pipe()
    {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0)
            throw_errno("pipe2");
        read = fds[0];
        write = fds[1];
    }
    ~Pipe()
    {
        close_read();
        close_write();
    }
    void close_read()
    {
        if (read >= 0)
            close(read);
        read = -1;
    }
    void close_write()
    {
        if (write >= 0)
            close(write);
        write = -1;
    }
};

int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

std::string join(const std::vector<std::string>& argv)
{
    std::string out;
    for (const auto& arg : argv)
        out += (out.empty() ? "" : " ") + arg;
    return out;
}

}  // namespace

std::string CommandResult::describe(const std::vector<std::string>& argv) const
{
    return "`" + join(argv) + "` exited with " + std::to_string(exit_code) + "; stderr: " + err +
           (out.empty() ? "" : "; stdout: " + out);
}

std::string find_program(const std::string& name)
{
    if (name.find('/') != std::string::npos)
        return name;
    const char* env = std::getenv("PATH");
    std::string dirs = env ? env : "";
    dirs += ":/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const auto end = std::min(dirs.find(':', start), dirs.size());
        const std::string dir = dirs.substr(start, end - start);
        start = end + 1;
        if (dir.empty())
            continue;
        const std::string candidate = dir + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    throw std::runtime_error("program `" + name + "` not found in PATH or the sbin directories");
}

CommandResult run(const Command& cmd)
{
    if (cmd.argv.empty())
        throw std::invalid_argument("run: empty command");
    if (cmd.netns == nullptr)
        ensure_not_in_original_netns();
    const std::string path = find_program(cmd.argv[0]);
    std::vector<char*> argv;
    for (const auto& arg : cmd.argv)
        argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);

    Pipe in, out, err;
    const pid_t pid = fork();
    if (pid < 0)
        throw_errno("fork");
    if (pid == 0) {
        // Only async-signal-safe calls from here on: the parent may have other threads.
        if (cmd.netns && setns(cmd.netns->fd(), CLONE_NEWNET) != 0)
            _exit(126);
        int moved[16];
        const std::size_t count = std::min<std::size_t>(cmd.pass_fds.size(), 16);
        for (std::size_t i = 0; i < count; ++i)
            if ((moved[i] = fcntl(cmd.pass_fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
                _exit(126);
        if (dup2(in.read, 0) < 0 || dup2(out.write, 1) < 0 || dup2(err.write, 2) < 0)
            _exit(126);
        for (std::size_t i = 0; i < count; ++i)
            if (dup2(moved[i], 3 + static_cast<int>(i)) < 0)
                _exit(126);
        execv(path.c_str(), argv.data());
        _exit(127);
    }
    in.close_read();
    out.close_write();
    err.close_write();

    CommandResult result;
    std::size_t written = 0;
    if (cmd.input.empty())
        in.close_write();
    while (out.read >= 0 || err.read >= 0) {
        pollfd fds[3];
        int n = 0;
        if (in.write >= 0)
            fds[n++] = {in.write, POLLOUT, 0};
        if (out.read >= 0)
            fds[n++] = {out.read, POLLIN, 0};
        if (err.read >= 0)
            fds[n++] = {err.read, POLLIN, 0};
        if (poll(fds, static_cast<nfds_t>(n), 60000) <= 0) {
            if (errno == EINTR)
                continue;
            kill(pid, SIGKILL);
            break;
        }
        for (int i = 0; i < n; ++i) {
            if (fds[i].revents == 0)
                continue;
            if (fds[i].fd == in.write) {
                const auto w = write(in.write, cmd.input.data() + written, cmd.input.size() - written);
                if (w > 0)
                    written += static_cast<std::size_t>(w);
                if (w < 0 || written == cmd.input.size())
                    in.close_write();
                continue;
            }
            char buffer[65536];
            const auto r = read(fds[i].fd, buffer, sizeof buffer);
            auto& pipe = fds[i].fd == out.read ? out : err;
            if (r <= 0) {
                pipe.close_read();
                continue;
            }
            (fds[i].fd == out.read ? result.out : result.err).append(buffer, static_cast<std::size_t>(r));
        }
    }
    in.close_write();
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = exit_code_of(status);
    return result;
}

std::string check_output(const Command& cmd)
{
    const auto result = run(cmd);
    if (result.exit_code != 0)
        throw std::runtime_error(result.describe(cmd.argv));
    return result.out;
}

std::string check_output(std::vector<std::string> argv)
{
    Command cmd;
    cmd.argv = std::move(argv);
    return check_output(cmd);
}

void write_all(int fd, const std::string& text)
{
    std::size_t done = 0;
    while (done < text.size()) {
        const auto w = write(fd, text.data() + done, text.size() - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        done += static_cast<std::size_t>(w);
    }
}

ForkedChild::ForkedChild(std::function<int(int)> body)
{
    ensure_not_in_original_netns();
    Pipe report;
    pid_ = fork();
    if (pid_ < 0)
        throw_errno("fork");
    if (pid_ == 0) {
        report.close_read();
        int code = 100;
        try {
            code = body(report.write);
        } catch (const std::exception& e) {
            write_all(report.write, std::string("\nchild exception: ") + e.what() + "\n");
        } catch (...) {
            write_all(report.write, "\nchild exception of unknown type\n");
        }
        _exit(code);
    }
    report.close_write();
    read_fd_ = report.read;
    report.read = -1;
}

ForkedChild::~ForkedChild()
{
    if (!reaped_ && pid_ > 0) {
        kill(pid_, SIGKILL);
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (read_fd_ >= 0)
        close(read_fd_);
}

void ForkedChild::drain(int timeout_ms)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (read_fd_ >= 0) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0)
            return;
        pollfd pfd{read_fd_, POLLIN, 0};
        const int ready = poll(&pfd, 1, static_cast<int>(left));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            return;
        char buffer[4096];
        const auto r = read(read_fd_, buffer, sizeof buffer);
        if (r <= 0) {
            close(read_fd_);
            read_fd_ = -1;
            return;
        }
        report_.append(buffer, static_cast<std::size_t>(r));
    }
}

int ForkedChild::wait(std::chrono::milliseconds timeout)
{
    if (reaped_)
        return status_;
    drain(static_cast<int>(timeout.count()));
    if (read_fd_ >= 0)  // still running after the timeout
        kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    status_ = exit_code_of(status);
    drain(0);
    return status_;
}

BackgroundCommand::BackgroundCommand(std::vector<std::string> argv)
{
    ensure_not_in_original_netns();
    const std::string path = find_program(argv.at(0));
    std::vector<char*> args;
    for (auto& arg : argv)
        args.push_back(arg.data());
    args.push_back(nullptr);
    Pipe out;
    pid_ = fork();
    if (pid_ < 0)
        throw_errno("fork");
    if (pid_ == 0) {
        const int devnull = open("/dev/null", O_RDWR);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out.write, 1) < 0)
            _exit(126);
        execv(path.c_str(), args.data());
        _exit(127);
    }
    out.close_write();
    out_fd_ = out.read;
    out.read = -1;
}

BackgroundCommand::~BackgroundCommand()
{
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        int status = 0;
        bool reaped = false;
        for (int i = 0; i < 100 && !reaped; ++i) {
            reaped = waitpid(pid_, &status, WNOHANG) == pid_;
            if (!reaped)
                usleep(10000);
        }
        if (!reaped) {
            kill(pid_, SIGKILL);
            while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
        }
    }
    if (out_fd_ >= 0)
        close(out_fd_);
}

bool BackgroundCommand::read_until(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(output_)) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0 || out_fd_ < 0)
            return false;
        pollfd pfd{out_fd_, POLLIN, 0};
        const int ready = poll(&pfd, 1, static_cast<int>(left));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            return done(output_);
        char buffer[4096];
        const auto r = read(out_fd_, buffer, sizeof buffer);
        if (r <= 0) {
            close(out_fd_);
            out_fd_ = -1;
            return done(output_);
        }
        output_.append(buffer, static_cast<std::size_t>(r));
    }
    return true;
}

}  // namespace sandbox
