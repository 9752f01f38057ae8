// SPDX-License-Identifier: Apache-2.0
// Methods `warren-nft`, `warren-nft-policy`, `warren-nft-socket-check` and `warren-nft-counters`:
// the library in process, one HostPortPublisher for the whole measurement, as a node agent uses it.
// The plain method runs without the listening-socket check, so that its figures stay comparable
// with runs from before the check existed; the variants add one thing each: an access policy on
// every port (the table's included), the listening-socket check, or counters on every destination.
#include "bench_policy.hpp"
#include "method.hpp"

#include <warren/nft/host_port_publisher.hpp>

namespace bench {
namespace {

class WarrenNft final : public Method {
public:
    WarrenNft(warren::nft::PublisherOptions options, bool policed) : publisher_(std::move(options)), policed_(policed) {}

    void prepare(std::span<const Task> filler, AddressFamily family) override
    {
        if (policed_)
            policy_ = bench_policy(bench_allowed_sources(family));
        for (const auto& task : filler)
            publish_task(publisher_, task, mappings(task));
    }
    void publish(const Task& service) override { publish_task(publisher_, service, mappings(service)); }
    void unpublish(const Task& service) override { publisher_.unpublish_ports(service.id); }

private:
    // Built inside the timed call, as a caller builds its request.
    std::vector<warren::nft::PortMapping> mappings(const Task& task) const
    {
        return policy_ ? with_policy(port_mappings(task), *policy_) : port_mappings(task);
    }

    warren::nft::HostPortPublisher publisher_;
    bool policed_;
    std::optional<warren::nft::AccessPolicy> policy_;
};

// The options of the plain method; the variants start from them.
warren::nft::PublisherOptions plain_options() { return {.check_listening_sockets = false}; }

}  // namespace

std::unique_ptr<Method> warren_nft_publisher(warren::nft::PublisherOptions options)
{
    return std::make_unique<WarrenNft>(std::move(options), false);
}

MethodInfo warren_nft_method()
{
    return {plain_method_name,
            "HostPortPublisher in process: map elements in one netlink batch; listening-socket check off "
            "(check_listening_sockets = false), comparable with runs from before the check existed",
            [] { return std::optional<std::string>(); }, [] { return warren_nft_publisher(plain_options()); }};
}

MethodInfo warren_nft_policy_method()
{
    return {policy_method_name,
            "warren-nft with an access policy on every port, the table's too: 2 allowed CIDRs per family, "
            "max_connections and rate (set elements in the same batch)",
            [] { return std::optional<std::string>(); }, [] { return std::make_unique<WarrenNft>(plain_options(), true); }};
}

MethodInfo warren_nft_socket_check_method()
{
    return {socket_check_method_name,
            "warren-nft with check_listening_sockets on (the library's default): the namespace's listening "
            "sockets read over sock_diag before each publish",
            [] { return std::optional<std::string>(); },
            [] {
                auto options = plain_options();
                options.check_listening_sockets = true;
                return warren_nft_publisher(std::move(options));
            }};
}

MethodInfo warren_nft_counters_method()
{
    return {"warren-nft-counters",
            "the same with PublisherOptions::counters: every destination counts packets and bytes (socket check off)",
            [] { return std::optional<std::string>(); },
            [] {
                auto options = plain_options();
                options.counters = true;
                return warren_nft_publisher(std::move(options));
            }};
}

}  // namespace bench
