// SPDX-License-Identifier: Apache-2.0
#include "echo_path.hpp"

#include <stdexcept>

namespace bench {
namespace {

const std::string probed_address = std::string(sandbox::Topology::host_client_side_ip) + ":" + std::to_string(measured_host_port);

}  // namespace

Task measured_task()
{
    Task task{"bench-measured", sandbox::Topology::container_ip, {}};
    task.ports.push_back({measured_host_port, task.container_ip, measured_container_port});
    return task;
}

sandbox::Exchange probe_measured_port(const sandbox::Topology& topology, std::chrono::milliseconds timeout)
{
    return sandbox::exchange(topology.client, sandbox::Transport::tcp, sandbox::Topology::host_client_side_ip, measured_host_port,
                             "probe", timeout);
}

void expect_refused(const sandbox::Topology& topology)
{
    const auto probe = probe_measured_port(topology, first_probe_timeout);
    if (probe.replied || probe.error.find("refused") == std::string::npos)
        throw std::runtime_error("before the measured port was published, " + probed_address +
                                 " should refuse connections, but " +
                                 (probe.replied ? "it answered \"" + probe.reply + "\"" : "got: " + probe.error));
}

void expect_dnat(const sandbox::Topology& topology, const sandbox::EchoServer& echo)
{
    const auto probe = probe_measured_port(topology, first_probe_timeout);
    if (!probe.replied || probe.reply != "container:probe")
        throw std::runtime_error("the published port " + probed_address + " does not reach the container: " +
                                 (probe.replied ? "reply \"" + probe.reply + "\"" : probe.error));
    const auto peers = echo.peers();
    if (peers.empty() || peers.back() != sandbox::Topology::host_container_side_ip)
        throw std::runtime_error("the probe through " + probed_address + " reached the container from " +
                                 (peers.empty() ? std::string("nowhere") : peers.back()) + ", not from the masquerading host " +
                                 sandbox::Topology::host_container_side_ip);
}

}  // namespace bench
