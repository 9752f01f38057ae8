// SPDX-License-Identifier: Apache-2.0
// The event-loop side of a publisher, without an event loop: requests are queued, and run() makes
// every step that does not wait, coalescing the publishes and unpublishes queued meanwhile into one
// transaction. AsyncHostPortPublisher (asio.hpp) drives one on a Boost.Asio executor; another event
// loop can drive it the same way (watch transaction_fd() and feed_fd(), call run()).
#pragma once

#include <warren/nft/export.hpp>
#include <warren/nft/host_port_publisher.hpp>
#include <warren/nft/metrics.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace warren::nft {

class WARREN_NFT_EXPORT PublisherEngine {
public:
    // How one request ends: a null exception_ptr on success, else the Error the synchronous call
    // would have thrown. A published_ports() request also gets the ports (others: empty).
    using Completion = std::function<void(std::exception_ptr error, std::vector<PortMapping> ports)>;

    // Opens the netlink sockets and probes the kernel, like HostPortPublisher. A self-healing
    // engine repairs from run() (no thread of its own). Throws Error.
    explicit PublisherEngine(PublisherOptions options = {});
    // Requests not completed yet are dropped: their completions are destroyed without being called.
    // A batch the kernel was sent is committed or not as a whole; nothing is sent after this.
    ~PublisherEngine();
    PublisherEngine(const PublisherEngine&) = delete;
    PublisherEngine& operator=(const PublisherEngine&) = delete;

    // Queue a request: they are carried out in the order queued, each all or nothing, with the
    // result the synchronous call of the same name would give. Publishes and unpublishes queued
    // together go in one transaction; a conflict fails only its own request, and when the kernel
    // refuses a transaction of several requests each is tried again alone, so only the guilty one
    // fails. reconcile() and published_ports() see everything queued before them done. Callable
    // from any thread; `done` is called from run(), never from here.
    void publish_ports(std::string task_id, ContainerAddresses container, std::vector<PortMapping> ports, Completion done);
    void publish_ports(std::string task_id, std::string container_ip, std::vector<PortMapping> ports, Completion done);
    void unpublish_ports(std::string task_id, Completion done);
    void published_ports(std::string task_id, Completion done);
    void reconcile(std::vector<TaskPorts> desired, Completion done);

    // What run() waits for before it can go on.
    struct Wait {
        // The kernel's answer to the transaction in flight: run() again once transaction_fd() polls
        // readable.
        bool answer = false;
        // run() again at this time (a retry's pause after contention, a failed repair's pause).
        std::optional<std::chrono::steady_clock::time_point> until;
    };
    // Makes every step possible without waiting: reads the answer to the transaction in flight and
    // the kernel's change announcements, repairs (self-healing), sends the next transaction and
    // answers reads. Calls completions with no lock held. Call it from one thread at a time: after
    // queueing requests, when transaction_fd() or feed_fd() polls readable, and at Wait::until.
    Wait run();
    // Whether requests are queued or in flight.
    bool busy() const;

    // The socket transactions are sent on (non-blocking); readable when the kernel answered.
    int transaction_fd() const noexcept;
    // The socket of the kernel's change announcements; readable when there are some to read.
    int feed_fd() const noexcept;

    MetricsSnapshot metrics() const;
    const KernelFeatures& kernel_features() const noexcept;
    // The cleanups of connection tracking entries run on a thread of their own (conntrack_cleanup).
    void wait_for_conntrack_cleanup();

    // The implementation, opaque outside the library (whose unit tests build engines over the fake).
    class State;

private:
    friend class EngineAccess;
    WARREN_NFT_LOCAL explicit PublisherEngine(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace warren::nft
