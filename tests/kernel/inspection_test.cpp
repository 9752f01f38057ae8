// SPDX-License-Identifier: Apache-2.0
// HostPortPublisher::inspect() against real nf_tables: each problem made with `nft` as an operator
// or another program would, named by the inspection with its fix, and the ruleset byte for byte the
// same after the reading.
#include "support.hpp"

#include <algorithm>
#include <string>
#include <vector>

using namespace kt;
using Catch::Matchers::Contains;
using warren::nft::FamilyInspection;
using warren::nft::TableProblem;
using warren::nft::TableProblemKind;

namespace {

const std::vector<PortMapping> web{tcp(18080, 8080, "web")};

// Inspects with a new publisher and checks that the reading changed nothing.
FamilyInspection inspect_ipv4()
{
    const auto before = ruleset();
    const auto inspection = HostPortPublisher(PublisherOptions{}).inspect();
    CHECK(ruleset() == before);
    CHECK_FALSE(inspection.families[1].exists);
    return inspection.families[0];
}

std::size_t count(const FamilyInspection& table, TableProblemKind kind, const std::string& object)
{
    return static_cast<std::size_t>(std::count_if(table.problems.begin(), table.problems.end(), [&](const TableProblem& p) {
        return p.kind == kind && p.object == object && !p.fix.empty();
    }));
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "inspecting reports a missing table and creates none", "[inspect]")
{
    const auto table = inspect_ipv4();
    CHECK_FALSE(table.exists);
    CHECK(table.problems.empty());
    CHECK_FALSE(warren_table_exists());
}

TEST_CASE_METHOD(FreshNetns, "inspecting names each problem made with nft, and changes nothing", "[inspect]")
{
    HostPortPublisher(PublisherOptions{}).publish_ports("web-1", "10.88.0.2", web);
    CHECK(inspect_ipv4().problems.empty());

    nft({"add", "table", "ip", "warren", "{ flags dormant; }"});
    nft({"delete", "chain", "ip", "warren", "output"});
    nft({"chain", "ip", "warren", "forward", "{ policy drop; }"});
    nft({"flush", "chain", "ip", "warren", "postrouting"});
    nft({"add", "element", "ip", "warren", "ports", "{ tcp . 9100 : 10.99.0.9 . 80 }"});
    const auto table = inspect_ipv4();
    INFO(warren_table());
    CHECK(table.dormant);
    CHECK(count(table, TableProblemKind::dormant, "table ip warren") == 1);
    CHECK(count(table, TableProblemKind::missing_chain, "chain ip warren output") == 1);
    CHECK(count(table, TableProblemKind::chain_policy_drop, "chain ip warren forward") == 1);
    CHECK(count(table, TableProblemKind::chain_rules, "chain ip warren postrouting") == 1);
    CHECK(count(table, TableProblemKind::ownerless_element, "element ip warren ports tcp . 9100") == 1);
    CHECK(table.refusal.empty());
    CHECK(table.ports.size() == 2);

    // The publish the fixes name repairs all but the ownerless element.
    HostPortPublisher(PublisherOptions{}).publish_ports("web-1", "10.88.0.2", web);
    const auto repaired = inspect_ipv4();
    REQUIRE(repaired.problems.size() == 1);
    CHECK(repaired.problems[0].kind == TableProblemKind::ownerless_element);
}

TEST_CASE_METHOD(FreshNetns, "inspecting names a missing backends element of a table that counts", "[inspect][counters]")
{
    HostPortPublisher(PublisherOptions{.counters = true}).publish_ports("web-1", "10.88.0.2", web);
    nft({"delete", "element", "ip", "warren", "backends", "{ 10.88.0.2 . tcp . 8080 }"});
    const auto table = inspect_ipv4();
    CHECK(table.counting);
    CHECK(count(table, TableProblemKind::missing_backends_element, "set ip warren backends") == 1);
}

TEST_CASE_METHOD(FreshNetns, "inspecting names every set a publisher refuses, with the publisher's refusal", "[inspect][adopt]")
{
    nft_script(
        "table ip warren {\n"
        "\tmap ports { type inet_proto . inet_service : ipv4_addr . inet_service; flags timeout; timeout 2s; size 2; }\n"
        "\tset backends { type ipv4_addr . inet_proto . inet_service; flags dynamic; }\n"
        "}\n");
    const auto table = inspect_ipv4();
    CHECK_THAT(table.refusal, Contains("map ip warren ports has flags timeout"));
    CHECK(count(table, TableProblemKind::other_layout, "map ip warren ports") == 2);  // timeout, size
    CHECK(count(table, TableProblemKind::other_layout, "set ip warren backends") == 1);
}
