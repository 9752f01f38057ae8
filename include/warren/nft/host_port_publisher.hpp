// SPDX-License-Identifier: Apache-2.0
// Publishes container ports on the host through the nftables table `ip warren`.
#pragma once

#include <warren/nft/kernel_features.hpp>
#include <warren/nft/port_mapping.hpp>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace warren::nft {

namespace ruleset {
class Backend;
}

// One published port together with the task that owns it and where it leads.
struct PublishedPort {
    std::string task_id;
    std::string container_ip;
    PortMapping mapping;

    friend bool operator==(const PublishedPort&, const PublishedPort&) = default;
};

class HostPortPublisher {
public:
    // Limits enforced on every request, before anything is sent to the kernel.
    static constexpr std::size_t max_task_id_length = 64;
    static constexpr std::size_t max_name_length = 32;
    static constexpr std::size_t max_ports_per_request = 512;

    // Opens a netlink socket, probes the kernel and creates or adopts table `ip warren`.
    HostPortPublisher();
    // Same policy over another backend (the in-memory fake in unit tests).
    explicit HostPortPublisher(std::unique_ptr<ruleset::Backend> backend);
    ~HostPortPublisher();
    HostPortPublisher(const HostPortPublisher&) = delete;
    HostPortPublisher& operator=(const HostPortPublisher&) = delete;

    // Publishes all `ports` of a task in one atomic transaction. If the task already has published
    // ports, they are replaced by `ports` in the same transaction. Throws Error; on error nothing changed.
    void publish_ports(std::string_view task_id, std::string_view container_ip,
                       std::span<const PortMapping> ports);
    // Removes every port of the task in one transaction. Unknown tasks are not an error.
    void unpublish_ports(std::string_view task_id);
    // The ports the kernel currently publishes for the task (empty if none), in host-port order.
    std::vector<PortMapping> published_ports(std::string_view task_id) const;
    // Every published port of every task, ordered by protocol and host port.
    std::vector<PublishedPort> all_published_ports() const;

    // Deletes table `ip warren` with everything in it, in one transaction: every published port of
    // every task is gone. Nothing else is touched. Not an error if the table is already gone. The
    // next call of this or any publisher (and a new publisher) creates the table again, empty.
    void remove_table();

    const KernelFeatures& kernel_features() const noexcept;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace warren::nft
