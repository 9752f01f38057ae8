// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the kernel test cases: port mappings, expected errors, printing for Catch.
#pragma once

#include "netns.hpp"
#include "nft_state.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace warren::nft {
inline std::ostream& operator<<(std::ostream& out, const PortMapping& m)
{
    return out << (m.host_ip.empty() ? "" : m.host_ip + ":") << m.host_port << "/" << to_string(m.protocol) << "->"
               << m.container_port << " (" << to_string(m.publish_mode) << (m.name.empty() ? "" : ", " + m.name) << ")";
}
inline std::ostream& operator<<(std::ostream& out, const PublishedPort& p)
{
    return out << p.task_id << ": " << p.mapping << " @" << p.container_ip;
}
inline std::ostream& operator<<(std::ostream& out, const DestinationCounters& c)
{
    return out << c.container_ip << " . " << to_string(c.protocol) << " . " << c.container_port << " counter packets "
               << c.packets << " bytes " << c.bytes;
}
}  // namespace warren::nft

namespace kt {

using warren::nft::DestinationCounters;
using warren::nft::errc;
using warren::nft::Error;
using warren::nft::HostPortPublisher;
using warren::nft::PortMapping;
using warren::nft::Protocol;
using warren::nft::PublishedPort;
using warren::nft::PublisherOptions;
using warren::nft::PublishMode;

inline PortMapping tcp(std::uint16_t host, std::uint16_t container, std::string name = {})
{
    return PortMapping{host, container, Protocol::tcp, PublishMode::host, std::move(name)};
}
inline PortMapping udp(std::uint16_t host, std::uint16_t container, std::string name = {})
{
    return PortMapping{host, container, Protocol::udp, PublishMode::host, std::move(name)};
}

inline PortMapping sctp(std::uint16_t host, std::uint16_t container, std::string name = {})
{
    return PortMapping{host, container, Protocol::sctp, PublishMode::host, std::move(name)};
}

// The mapping, published on one host address only.
inline PortMapping on(std::string host_ip, PortMapping mapping)
{
    mapping.host_ip = std::move(host_ip);
    return mapping;
}

// The mapping as an ingress service's port (publish_ingress()).
inline PortMapping ingress(PortMapping mapping)
{
    mapping.publish_mode = PublishMode::ingress;
    return mapping;
}

// Whether every table counts, asked for or not: on kernels that cannot look a key up in a map
// alone (KernelFeatures::map_lookups), the masquerade and forward rules need the backends set.
inline bool tables_always_count() { return !HostPortPublisher().kernel_features().map_lookups; }

// The backends set as the table should hold it: exactly `expected` in a table that counts (asked for
// with `counters`, or on a kernel where every table counts), and no set at all in one that does not.
inline void check_backends(bool counters, const std::vector<KernelBackend>& expected)
{
    if (counters || tables_always_count())
        CHECK(kernel_backends() == expected);
    else
        CHECK_FALSE(kernel_has_backends());
}

// The element `nft` shows for a port a task published, to compare with kernel_ports().
inline KernelPort kernel_port(const std::string& task, const std::string& ip, const PortMapping& m)
{
    return KernelPort{std::string(warren::nft::to_string(m.protocol)),
                      m.host_port,
                      ip,
                      m.container_port,
                      "task=" + task + (m.name.empty() ? "" : " name=" + m.name),
                      m.host_ip};
}

// The library's counters as nft shows them, to compare with kernel_backend_counters().
inline std::vector<KernelBackendCounters> as_kernel_counters(const std::vector<DestinationCounters>& counters)
{
    std::vector<KernelBackendCounters> out;
    for (const auto& c : counters)
        out.push_back(KernelBackendCounters{
            KernelBackend{c.container_ip, std::string(warren::nft::to_string(c.protocol)), c.container_port},
            static_cast<long>(c.packets), static_cast<long>(c.bytes)});
    std::sort(out.begin(), out.end());
    return out;
}

// Runs f, which must throw warren::nft::Error; returns it. Fails the test otherwise.
template <class F>
Error expect_error(F&& f)
{
    try {
        f();
    } catch (const Error& e) {
        return e;
    } catch (const std::exception& e) {
        FAIL("expected warren::nft::Error, got another exception: " << e.what());
    }
    FAIL("expected warren::nft::Error, but nothing was thrown");
    throw std::logic_error("unreachable");
}

inline std::string describe(const Error& e)
{
    return std::string(e.what()) + " [code " + std::to_string(e.code().value()) + ", kernel errno " +
           std::to_string(e.kernel_errno()) + ", operation \"" + e.operation() + "\"]";
}

}  // namespace kt
