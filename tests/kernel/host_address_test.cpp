// SPDX-License-Identifier: Apache-2.0
// The host address check against the namespace's real interfaces: a port on an address that `lo`
// has is published, one on an address no interface has is refused with invalid_argument and
// changes nothing, unless PublisherOptions::check_host_addresses is off; IPv4 and IPv6.
#include "support.hpp"

using namespace kt;
using Catch::Matchers::Contains;

namespace {

struct Family {
    const char* name;
    const char* container;
    const char* present;  // added to lo
    const char* absent;
    const char* described;  // how messages name the absent port
    const char* table;      // nft's family of the table the ports are in
};

std::vector<KernelPort> ports_of(const Family& f)
{
    const auto tables = warren_tables();
    const auto table = tables.find(f.table);
    return table == tables.end() ? std::vector<KernelPort>{} : table->second.ports;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "a port on an address no interface of the namespace has is refused, changing nothing",
                 "[host-address]")
{
    const Family f = GENERATE(Family{"IPv4", "10.88.0.2", "10.66.0.1", "203.0.113.9", "8080/tcp on 203.0.113.9", "ip"},
                              Family{"IPv6", "fd88::2", "fd66::1", "2001:db8::9", "8080/tcp on [2001:db8::9]", "ip6"});
    INFO(f.name);
    sandbox::add_loopback_addresses({f.present});
    HostPortPublisher publisher;
    publisher.publish_ports("kept", f.container, std::vector{tcp(7000, 70)});
    const auto before = ruleset();

    const auto e = expect_error([&] { publisher.publish_ports("web", f.container, std::vector{on(f.absent, tcp(8080, 80))}); });
    INFO(describe(e));
    CHECK(e.code() == errc::invalid_argument);
    CHECK_THAT(e.what(), Contains(std::string("host port ") + f.described) &&
                             Contains(std::string(f.absent) + " is not an address of this host") &&
                             Contains("nothing was changed for task \"web\""));
    CHECK(ruleset() == before);
    CHECK(publisher.published_ports("web").empty());

    // Through reconcile as well.
    std::vector<warren::nft::TaskPorts> desired(1);
    desired[0].task_id = "web";
    desired[0].container_ip = f.container;
    desired[0].ports = {on(f.absent, tcp(8080, 80))};
    CHECK(expect_error([&] { publisher.reconcile(desired); }).code() == errc::invalid_argument);
    CHECK(ruleset() == before);

    // The address lo has is published, and so is the absent one once it is added.
    const std::vector<PortMapping> present = {on(f.present, tcp(8080, 80))};
    CHECK(publisher.publish_ports("web", f.container, present) == present);
    sandbox::add_loopback_addresses({f.absent});
    const std::vector<PortMapping> added = {on(f.absent, tcp(8081, 81))};
    CHECK(publisher.publish_ports("web2", f.container, added) == added);
    CHECK(ports_of(f).size() == 3);
}

TEST_CASE_METHOD(FreshNetns, "with check_host_addresses off an address about to be added is published", "[host-address]")
{
    const Family f = GENERATE(Family{"IPv4", "10.88.0.2", "10.66.0.1", "203.0.113.9", "", "ip"},
                              Family{"IPv6", "fd88::2", "fd66::1", "2001:db8::9", "", "ip6"});
    INFO(f.name);
    PublisherOptions options;
    options.check_host_addresses = false;
    HostPortPublisher publisher(options);
    const std::vector<PortMapping> ports = {on(f.absent, tcp(8080, 80))};
    CHECK(publisher.publish_ports("web", f.container, ports) == ports);
    const auto in_kernel = ports_of(f);
    REQUIRE(in_kernel.size() == 1);
    CHECK(in_kernel.front().host_ip == f.absent);
}
