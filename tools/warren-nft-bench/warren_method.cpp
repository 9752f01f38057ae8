// SPDX-License-Identifier: Apache-2.0
// Methods `warren-nft` and `warren-nft-counters`: the library in process, one HostPortPublisher for
// the whole measurement, as a node agent uses it; the second with PublisherOptions::counters, to
// show what counting every destination costs.
#include "method.hpp"

#include <warren/nft/host_port_publisher.hpp>

namespace bench {
namespace {

class WarrenNft final : public Method {
public:
    explicit WarrenNft(warren::nft::PublisherOptions options) : publisher_(std::move(options)) {}

    void prepare(std::span<const Task> filler, AddressFamily) override
    {
        for (const auto& task : filler)
            publish_task(publisher_, task, port_mappings(task));
    }
    void publish(const Task& service) override { publish_task(publisher_, service, port_mappings(service)); }
    void unpublish(const Task& service) override { publisher_.unpublish_ports(service.id); }

private:
    warren::nft::HostPortPublisher publisher_;
};

}  // namespace

std::unique_ptr<Method> warren_nft_publisher(warren::nft::PublisherOptions options)
{
    return std::make_unique<WarrenNft>(std::move(options));
}

MethodInfo warren_nft_method()
{
    return {"warren-nft", "HostPortPublisher in process: map elements in one netlink batch",
            [] { return std::optional<std::string>(); }, [] { return warren_nft_publisher({}); }};
}

MethodInfo warren_nft_counters_method()
{
    return {"warren-nft-counters", "the same with PublisherOptions::counters: every destination counts packets and bytes",
            [] { return std::optional<std::string>(); }, [] { return warren_nft_publisher({.counters = true}); }};
}

}  // namespace bench
