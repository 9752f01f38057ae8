// SPDX-License-Identifier: Apache-2.0
// The ingress API over the real kernel (docs/ingress.md): what a publish and a drain write in both
// families' tables, as nft lists it and as a fresh publisher reads it back (adoption); host-mode and
// ingress ports conflicting both ways between two publishers; an unpublish that leaves no element;
// a self-healing publisher that puts back slots and claims deleted with nft.
#include "nft_state.hpp"
#include "repair_reports.hpp"
#include "support.hpp"

#include <chrono>

using namespace kt;
using Catch::Matchers::Contains;
using warren::nft::AddressFamily;
using warren::nft::BackendState;
using warren::nft::IngressBackend;
using warren::nft::IngressPort;
using warren::nft::IngressService;

namespace {

const std::vector<PortMapping> ports{ingress(tcp(18080, 80)), ingress(udp(18053, 53))};
const std::chrono::sys_seconds deadline{std::chrono::seconds(1796400000)};

}  // namespace

TEST_CASE_METHOD(FreshNetns, "an ingress service in the kernel is adopted by a fresh publisher, in both families",
                 "[ingress][api][adopt]")
{
    const std::vector<IngressBackend> backends{
        {"10.88.0.5", std::nullopt, 1}, {"10.88.0.6", 8080, 2}, {"fd00::5", std::nullopt, 1}};
    {
        HostPortPublisher first;
        first.publish_ingress("web", ports, backends);
        first.drain_backend("web", "10.88.0.5", std::nullopt, deadline);
    }
    const auto ip = nft({"list", "table", "ip", "warren"});
    CHECK_THAT(ip, Contains("tcp . 18080 comment \"task=web ingress\" : 0.0.0.0 . 0"));
    CHECK_THAT(ip, Contains("tcp . 18080 . 10.88.0.5 . 80 comment \"task=web weight=1 draining until=1796400000\""));
    CHECK_THAT(ip, Contains("udp . 18053 . 10.88.0.6 . 8080 comment \"task=web weight=2\""));
    CHECK_THAT(nft({"list", "table", "ip6", "warren"}), Contains("tcp . 18080 comment \"task=web ingress\" : :: . 0"));
    // Every slot of both ports goes to the one active backend of each family.
    CHECK(listed_elements("ip", "ingress", ": 10.88.0.6 . 8080") == 2 * 256);
    CHECK(listed_elements("ip", "ingress", "10.88.0.5") == 0);
    // nft reads the slot number as numgen's host-order integer: the last slot lists as 255.
    CHECK(listed_elements("ip", "ingress", "udp . 18053 . 255 : 10.88.0.6 . 8080") == 1);
    CHECK(listed_elements("ip6", "ingress", ": fd00::5 . ") == 2 * 256);

    HostPortPublisher second;
    const std::vector<IngressBackend> v4_ports{{"10.88.0.5", 80, 1, BackendState::draining, deadline}, {"10.88.0.6", 8080, 2}};
    const std::vector<IngressBackend> udp_v4{{"10.88.0.5", 53, 1, BackendState::draining, deadline}, {"10.88.0.6", 8080, 2}};
    const IngressService expected{"web",
                                  {IngressPort{Protocol::tcp, 18080, AddressFamily::ipv4, v4_ports},
                                   IngressPort{Protocol::tcp, 18080, AddressFamily::ipv6, {{"fd00::5", 80, 1}}},
                                   IngressPort{Protocol::udp, 18053, AddressFamily::ipv4, udp_v4},
                                   IngressPort{Protocol::udp, 18053, AddressFamily::ipv6, {{"fd00::5", 53, 1}}}}};
    CHECK(second.ingress_services() == std::vector{expected});

    // A host port is host-mode or ingress, whichever publisher asks.
    CHECK(expect_error([&] { second.publish_ports("task-b", "10.88.0.9", std::vector{tcp(18080, 80)}); }).code() ==
          errc::port_conflict);
    second.publish_ports("task-b", "10.88.0.9", std::vector{tcp(18090, 80)});
    HostPortPublisher third;
    CHECK(expect_error([&] {
              third.publish_ingress("db", std::vector{ingress(tcp(18090, 80))}, std::vector<IngressBackend>{{"10.88.0.7"}});
          }).code() == errc::port_conflict);
    CHECK(expect_error([&] {
              third.publish_ingress("db", std::vector{ingress(tcp(18080, 80))}, std::vector<IngressBackend>{{"10.88.0.7"}});
          }).code() == errc::port_conflict);

    // The adopted publisher replaces the backend set, then unpublishes: nothing of the service is left.
    second.publish_ingress("web", ports, std::vector<IngressBackend>{{"10.88.0.6", 8080, 1}, {"10.88.0.7", std::nullopt, 1}});
    CHECK(listed_elements("ip", "ingress", ": 10.88.0.7 . 80") == 128);
    CHECK(listed_elements("ip", "ingress", ": 10.88.0.6 . 8080") == 2 * 128);
    CHECK(listed_elements("ip6", "ingress", "fd00::5") == 0);
    CHECK_THAT(nft({"list", "table", "ip6", "warren"}), !Contains("task=web"));
    second.unpublish_ports("web");
    CHECK(second.ingress_services().empty());
    for (const char* family : {"ip", "ip6"})
        CHECK_THAT(nft({"list", "table", family, "warren"}), !Contains("task=web"));
    CHECK(second.published_ports("task-b") == std::vector{tcp(18090, 80)});
}

TEST_CASE_METHOD(FreshNetns, "a self-healing publisher puts back ingress slots and claims deleted with nft",
                 "[ingress][api][heal]")
{
    Reports reports;
    HostPortPublisher publisher(reports.options());
    const std::vector web{ingress(tcp(18080, 80))};
    publisher.publish_ingress("web", web, std::vector<IngressBackend>{{"10.88.0.5"}, {"10.88.0.6"}});

    // Another publisher's view knows the claim as the service's.
    HostPortPublisher other;
    const auto conflict = expect_error([&] { other.publish_ports("task-b", "10.88.0.9", std::vector{tcp(18080, 80)}); });
    CHECK(conflict.code() == errc::port_conflict);
    CHECK_THAT(conflict.what(), Contains("already published by ingress service \"web\""));
    CHECK(other.published_ports("web") == std::vector{ingress(tcp(18080, 0))});
    CHECK(expect_error([&] { other.publish_ports("web", "10.88.0.9", std::vector{tcp(18081, 80)}); }).code() ==
          errc::invalid_argument);

    nft({"delete", "element", "ip", "warren", "ingress", "{ tcp . 18080 . 0, tcp . 18080 . 200 }"});
    // (No listing in between: the healer may have put them back already.)
    auto found = reports.wait_for(1);
    REQUIRE(found.size() == 1);
    CHECK(found[0].error.empty());
    CHECK(found[0].ports_restored == 1);
    CHECK(listed_elements("ip", "ingress", "tcp . 18080 . ") == 256);
    CHECK(listed_elements("ip", "ingress", ": 10.88.0.5 . 80") == 128);

    // The claim deleted: its slots would be orphans; the claim comes back, the slots stay.
    nft({"delete", "element", "ip", "warren", "ports", "{ tcp . 18080 }"});
    found = reports.wait_for(2);
    REQUIRE(found.size() == 2);
    CHECK(found[1].error.empty());
    CHECK_THAT(nft({"list", "map", "ip", "warren", "ports"}), Contains("tcp . 18080 comment \"task=web ingress\" : 0.0.0.0 . 0"));
    CHECK(listed_elements("ip", "ingress", "tcp . 18080 . ") == 256);
    CHECK(listed_elements("ip", "ingress", ": 10.88.0.6 . 80") == 128);
}
