// SPDX-License-Identifier: Apache-2.0
#include "ingress_fillers.hpp"

#include <stdexcept>

namespace bench {

std::size_t max_ingress_services() { return filler_capacity() / 3; }

warren::nft::PortMapping ingress_port(std::uint16_t host_port, std::uint16_t container_port)
{
    return {host_port, container_port, warren::nft::Protocol::tcp, warren::nft::PublishMode::ingress, {}};
}

void publish_ingress_fillers(warren::nft::HostPortPublisher& publisher, const std::vector<Task>& tasks,
                             std::size_t backends_per_service)
{
    if (tasks.size() > max_ingress_services())
        throw std::invalid_argument("at most " + std::to_string(max_ingress_services()) + " filler ingress services");
    std::vector<warren::nft::IngressBackend> backends(backends_per_service);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const auto& task = tasks[i];
        if (task.ports.size() != 1)
            throw std::invalid_argument("a filler ingress service has one port, task " + task.id + " has " +
                                        std::to_string(task.ports.size()));
        const auto& port = task.ports.front();
        const auto mapping = ingress_port(port.host_port, port.container_port);
        for (std::size_t k = 0; k < backends_per_service; ++k)
            backends[k].address = filler_ip(i * backends_per_service + k);
        publisher.publish_ingress(task.id, {&mapping, 1}, backends);
    }
}

}  // namespace bench
