// SPDX-License-Identifier: Apache-2.0
#include "netns.hpp"

#include "process.hpp"
#include "system_calls.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace sandbox {

namespace {

struct NsId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool known = false;
};

NsId original_netns;
std::string description;

NsId netns_of(const char* path)
{
    struct stat st {};
    if (stat(path, &st) != 0)
        return {};
    return {st.st_dev, st.st_ino, true};
}

NsId thread_netns() { return netns_of("/proc/thread-self/ns/net"); }

bool write_file(const char* path, const std::string& text, std::string& error)
{
    const int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        error = std::string("open ") + path + ": " + std::strerror(errno);
        return false;
    }
    const auto written = write(fd, text.data(), text.size());
    const int saved = errno;
    close(fd);
    if (written != static_cast<ssize_t>(text.size())) {
        error = std::string("write ") + path + ": " + std::strerror(saved);
        return false;
    }
    return true;
}

}  // namespace

std::optional<std::string> enter_sandbox()
{
    original_netns = thread_netns();
    if (!original_netns.known)
        return std::string("cannot stat /proc/thread-self/ns/net: ") + std::strerror(errno);

    const uid_t uid = geteuid();
    const gid_t gid = getegid();
    std::string root_error;
    if (uid == 0) {
        if (unshare(CLONE_NEWNET) == 0) {
            description = "running as root: own network namespace (CLONE_NEWNET)";
            return std::nullopt;
        }
        // Root without CAP_SYS_ADMIN (e.g. inside a container): a user namespace may still work.
        root_error = std::string("unshare(CLONE_NEWNET) as root: ") + std::strerror(errno) + "; ";
    }
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
        return root_error + "unshare(CLONE_NEWUSER|CLONE_NEWNET): " + std::strerror(errno) +
               " (unprivileged user namespaces disabled?)";
    std::string error;
    if (!write_file("/proc/self/setgroups", "deny", error) ||
        !write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n", error) ||
        !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n", error))
        return "user namespace created but its id maps could not be written: " + error;
    description = "user namespace: uid " + std::to_string(uid) + " mapped to root, own network namespace";
    return std::nullopt;
}

const std::string& sandbox_description() { return description; }

void ensure_not_in_original_netns()
{
    const auto now = thread_netns();
    if (!original_netns.known || !now.known || (now.dev == original_netns.dev && now.ino == original_netns.ino)) {
        std::fprintf(stderr, "refusing to act in the network namespace this program was started in\n");
        std::abort();
    }
}

Netns::~Netns()
{
    if (fd_ >= 0)
        close(fd_);
}

Netns& Netns::operator=(Netns&& other) noexcept
{
    if (this != &other) {
        if (fd_ >= 0)
            close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

Netns Netns::current()
{
    const int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw_errno("open /proc/thread-self/ns/net");
    return Netns(fd);
}

Netns Netns::create()
{
    ensure_not_in_original_netns();
    Netns fresh;
    {
        const Netns back = current();
        if (unshare(CLONE_NEWNET) != 0)
            throw_errno("unshare(CLONE_NEWNET)");
        try {
            link_up("lo");
            fresh = current();
        } catch (...) {
            back.enter();
            throw;
        }
        back.enter();
    }
    return fresh;
}

void Netns::enter() const
{
    if (setns(fd_, CLONE_NEWNET) != 0)
        throw_errno("setns(CLONE_NEWNET)");
    ensure_not_in_original_netns();
}

FreshNetns::FreshNetns()
{
    ensure_not_in_original_netns();
    if (unshare(CLONE_NEWNET) != 0)
        throw_errno("unshare(CLONE_NEWNET) for a fresh namespace");
    link_up("lo");
}

FreshNetns::~FreshNetns()
{
    // Leave the scope's namespace for another empty one, so the scope's one vanishes with its last user.
    if (unshare(CLONE_NEWNET) != 0)
        std::perror("unshare(CLONE_NEWNET) when leaving a fresh namespace");
}

void add_loopback_addresses(const std::vector<std::string>& addresses)
{
    ensure_not_in_original_netns();
    // One `ip` for all of them: a test may add hundreds.
    Command command;
    command.argv = {"ip", "-batch", "-"};
    for (const auto& address : addresses) {
        const bool ipv6 = address.find(':') != std::string::npos;
        command.input += "addr add " + address + (ipv6 ? "/128 dev lo nodad\n" : "/32 dev lo\n");
    }
    check_output(command);
}

void link_up(const std::string& interface)
{
    ensure_not_in_original_netns();
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw_errno("socket for SIOCSIFFLAGS");
    ifreq request{};
    std::snprintf(request.ifr_name, sizeof request.ifr_name, "%s", interface.c_str());
    const bool ok =
        ioctl(fd, SIOCGIFFLAGS, &request) == 0 && ((request.ifr_flags |= IFF_UP), ioctl(fd, SIOCSIFFLAGS, &request) == 0);
    const int saved = errno;
    close(fd);
    if (!ok) {
        errno = saved;
        throw_errno("bring up " + interface);
    }
}

void write_net_sysctl(const std::string& name, const std::string& value)
{
    ensure_not_in_original_netns();
    const std::string path = "/proc/sys/" + name;
    std::string error;
    if (!write_file(path.c_str(), value, error))
        throw std::runtime_error(error);
}

std::string read_net_sysctl(const std::string& name)
{
    std::ifstream in("/proc/sys/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace sandbox
