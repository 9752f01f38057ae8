// SPDX-License-Identifier: Apache-2.0
// Network namespaces for the kernel tests and the benchmark. Nothing here ever touches the network
// namespace the binary was started in: main() leaves it first, and every helper that changes kernel
// state first checks that the calling thread is somewhere else.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sandbox {

// Called once from main() while the process is still single-threaded. Leaves the network namespace
// the binary was started in: as real root with unshare(CLONE_NEWNET); otherwise (or when that is
// refused) with unshare(CLONE_NEWUSER | CLONE_NEWNET) and uid/gid maps that make the caller root in
// the new user namespace. Returns the reason when no namespace could be created.
std::optional<std::string> enter_sandbox();

// How enter_sandbox() got in: "root: CLONE_NEWNET" or "user namespace: uid 1000 mapped to root".
const std::string& sandbox_description();

// Aborts the process when the calling thread is in the network namespace the binary started in.
void ensure_not_in_original_netns();

// An open reference to a network namespace (it lives while any reference does).
class Netns {
public:
    Netns() = default;
    ~Netns();
    Netns(Netns&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Netns& operator=(Netns&& other) noexcept;
    Netns(const Netns&) = delete;
    Netns& operator=(const Netns&) = delete;

    // The calling thread's network namespace.
    static Netns current();
    // A brand-new network namespace with `lo` up; the calling thread stays where it is.
    static Netns create();

    int fd() const { return fd_; }
    // Moves the calling thread into this namespace.
    void enter() const;

    // Runs f with the calling thread inside this namespace, then moves it back. Sockets created in f
    // belong to this namespace for their whole life, wherever they are used later.
    template <class F>
    decltype(auto) run(F&& f) const
    {
        struct Back {
            Netns previous = Netns::current();
            ~Back() { previous.enter(); }
        } back;
        enter();
        return std::forward<F>(f)();
    }

private:
    explicit Netns(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// A scope in a new, empty network namespace with `lo` up, e.g. a test fixture: every
// TEST_CASE_METHOD(FreshNetns, ...) (and every run of one of its sections) starts in its own, and the
// namespace vanishes when the scope ends.
class FreshNetns {
public:
    FreshNetns();
    ~FreshNetns();
    FreshNetns(const FreshNetns&) = delete;
    FreshNetns& operator=(const FreshNetns&) = delete;
};

// Sets IFF_UP on an interface of the calling thread's network namespace.
void link_up(const std::string& interface);

// Adds each of `addresses` (IPv4 or IPv6) to `lo` of the calling thread's namespace, as a /32 or
// /128 (IPv6 without duplicate address detection): addresses of the host to publish ports on, or
// of a backend that answers on many.
void add_loopback_addresses(const std::vector<std::string>& addresses);

// Writes a per-namespace sysctl (e.g. "net/ipv4/ip_forward") of the calling thread's namespace.
void write_net_sysctl(const std::string& name, const std::string& value);
std::string read_net_sysctl(const std::string& name);

}  // namespace sandbox
