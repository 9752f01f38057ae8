// SPDX-License-Identifier: Apache-2.0
// Methods `floor` and `floor-policy`: the least any program can do for the same publish. One batch
// that adds (or deletes) exactly the elements warren-nft writes for the service, in table ip warren
// and/or table ip6 warren as the service has addresses, to the tables warren-nft created: the
// ports-map elements with their task comments and, for floor-policy, the elements of the access
// policy warren-nft-policy puts on every port. The tables do not count, so no backends-set
// elements. The elements come from the library's element codec and the batch from its encoder, so
// the bytes are the ones warren-nft sends; it goes out with libmnl and waits only for the kernel's
// ack of its last message. No validation, no view of the tables, no conflict check, no generation
// guard and no listener of the kernel's change announcements: what warren-nft adds on top is its
// policy.
#include "bench_policy.hpp"
#include "method.hpp"
#include "raw_batch.hpp"

#include "netlink/encode.hpp"
#include "publisher/access_policy.hpp"
#include "publisher/element_codec.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {
namespace {

using namespace warren::nft;
using ruleset::Transaction;

layout::Address parse(const std::string& text)
{
    const auto address = layout::parse_address(text);
    if (!address)
        throw std::invalid_argument("not an IP address: " + text);
    return *address;
}

// What a publish of `service` adds, one transaction per table, IPv4 table first as warren-nft
// orders them; and what its unpublish deletes.
struct ServiceChanges {
    std::vector<Transaction> publish, unpublish;
};

ServiceChanges changes_of(const Task& service, const std::optional<AccessPolicy>& policy)
{
    ServiceChanges out;
    const auto comment = layout::owner_comment(service.id, {});
    for (const auto* container_ip : {&service.container_ip, &service.container_ipv6}) {
        if (container_ip->empty())
            continue;
        const auto address = parse(*container_ip);
        auto& publish = out.publish.emplace_back(layout::table(address.family));
        auto& unpublish = out.unpublish.emplace_back(layout::table(address.family));
        for (const auto& port : service.ports) {
            const layout::HostPort key{port.protocol, port.host_port, layout::any_address(address.family)};
            std::vector<ruleset::Element> elements{
                layout::port_element(key, {address, port.protocol, port.container_port}, comment)};
            if (policy)
                for (auto& element : layout::policy_elements(key, layout::family_policy(*policy, address.family, key)))
                    elements.push_back(std::move(element));
            for (auto& element : elements) {
                publish.create(element);
                unpublish.remove(std::move(element));
            }
        }
    }
    return out;
}

class Floor final : public Method {
public:
    explicit Floor(bool policed) : policed_(policed) {}

    void prepare(std::span<const Task> filler, AddressFamily family) override
    {
        if (policed_)
            policy_ = bench_policy(bench_allowed_sources(family));
        publish_with_library(filler, family, policy_);
    }
    void publish(const Task& service) override { send(changes(service).publish); }
    void unpublish(const Task& service) override { send(changes(service).unpublish); }

private:
    // Built once per service, as a program that knows what it publishes would: the timed calls only
    // encode and send.
    const ServiceChanges& changes(const Task& service)
    {
        if (service.id != cached_id_) {
            cached_ = changes_of(service, policy_);
            cached_id_ = service.id;
        }
        return cached_;
    }

    // Every table's changes in one batch: one transaction.
    void send(const std::vector<Transaction>& transactions)
    {
        netlink::Batch batch(socket_.next_seq(), std::nullopt, false);
        for (const auto& transaction : transactions)
            netlink::encode(batch, transaction);
        batch.end(false);
        batch.request_ack_of_last_message();
        socket_.commit(batch);
    }

    bool policed_;
    std::optional<AccessPolicy> policy_;
    RawBatchSocket socket_{"floor"};
    std::string cached_id_;
    ServiceChanges cached_;
};

}  // namespace

MethodInfo floor_method()
{
    return {"floor", "one bare batch of the same elements, encoded as warren-nft encodes them: the kernel's cost, no policy",
            [] { return std::optional<std::string>(); }, [] { return std::make_unique<Floor>(false); }};
}

MethodInfo floor_policy_method()
{
    return {floor_policy_method_name,
            "floor with the elements of warren-nft-policy's access policy on every port in the same batch: what "
            "the kernel alone takes for a publish with a policy",
            [] { return std::optional<std::string>(); }, [] { return std::make_unique<Floor>(true); }};
}

}  // namespace bench
