// SPDX-License-Identifier: Apache-2.0
// Real sockets for the kernel tests of the listening-socket check: listening TCP (and SCTP) and
// bound UDP sockets on addresses of the test's namespace, closed when they go out of scope.
#pragma once

#include "process.hpp"
#include "socket_address.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace kt {

inline constexpr const char* namespace_ipv4 = "10.77.0.1";
inline constexpr const char* namespace_ipv6 = "fd77::1";

// Addresses of this namespace beyond loopback, on `lo`.
inline void add_namespace_addresses()
{
    sandbox::check_output({"ip", "addr", "add", std::string(namespace_ipv4) + "/32", "dev", "lo"});
    sandbox::check_output({"ip", "addr", "add", std::string(namespace_ipv6) + "/128", "dev", "lo", "nodad"});
}

class Fd {
public:
    explicit Fd(int fd) : fd_(fd)
    {
        if (fd_ < 0)
            throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    }
    ~Fd() { close(); }
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&&) = delete;
    int get() const { return fd_; }
    void close()
    {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }
    std::uint32_t inode() const
    {
        struct stat st {};
        if (fstat(fd_, &st) < 0)
            throw std::runtime_error(std::string("fstat: ") + std::strerror(errno));
        return static_cast<std::uint32_t>(st.st_ino);
    }

private:
    int fd_;
};

inline void set_option(int fd, int level, int option, int value)
{
    if (setsockopt(fd, level, option, &value, sizeof value) < 0)
        throw std::runtime_error(std::string("setsockopt: ") + std::strerror(errno));
}

struct Options {
    bool v6only = false;
    bool reuse = false;
};

// A socket of `type` and `protocol` bound to ip:port (the family follows the address).
inline Fd bound(int type, int protocol, const std::string& ip, std::uint16_t port, Options options = {})
{
    const auto address = sandbox::socket_address(ip, port);
    Fd fd(socket(address.family(), type | SOCK_CLOEXEC, protocol));
    if (address.family() == AF_INET6)
        set_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, options.v6only ? 1 : 0);
    if (options.reuse)
        set_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1);
    if (bind(fd.get(), address.get(), address.length) < 0)
        throw std::runtime_error("bind " + ip + ":" + std::to_string(port) + ": " + std::strerror(errno));
    return fd;
}

inline Fd listening(int protocol, const std::string& ip, std::uint16_t port, Options options = {})
{
    auto fd = bound(SOCK_STREAM, protocol, ip, port, options);
    if (listen(fd.get(), 16) < 0)
        throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
    return fd;
}

inline Fd tcp_listening(const std::string& ip, std::uint16_t port, Options options = {})
{
    return listening(IPPROTO_TCP, ip, port, options);
}

inline Fd udp_bound(const std::string& ip, std::uint16_t port, Options options = {})
{
    return bound(SOCK_DGRAM, IPPROTO_UDP, ip, port, options);
}

inline Fd tcp_connected(const std::string& ip, std::uint16_t port)
{
    const auto address = sandbox::socket_address(ip, port);
    Fd fd(socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
    if (connect(fd.get(), address.get(), address.length) < 0)
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    return fd;
}

// This process's name, as /proc/self/comm says.
inline std::string own_comm()
{
    std::ifstream comm("/proc/self/comm");
    std::string name;
    std::getline(comm, name);
    return name;
}

}  // namespace kt
