// SPDX-License-Identifier: Apache-2.0
// The dedicated table: everything lives in `ip warren`, other tables are never touched, the owner is
// visible in `nft list`, and the table heals itself after `nft flush ruleset` and similar damage.
#include "support.hpp"

#include <algorithm>
#include <map>

using namespace kt;
using Catch::Matchers::Contains;

namespace {

// Every table except ip warren, as `nft list table` prints it.
std::map<std::string, std::string> other_tables()
{
    std::map<std::string, std::string> out;
    for (const auto& table : tables()) {
        if (table == "ip warren")
            continue;
        const auto space = table.find(' ');
        out[table] = nft({"list", "table", table.substr(0, space), table.substr(space + 1)});
    }
    return out;
}

std::vector<KernelChain> expected_chains()
{
    return {
        {"forward", "filter", "forward", 0},
        {"output", "nat", "output", -100},
        {"postrouting", "nat", "postrouting", 100},
        {"prerouting", "nat", "prerouting", -100},
    };
}

std::size_t occurrences(const std::string& text, const std::string& what)
{
    std::size_t count = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++count;
    return count;
}

// The fixed rules, counted by the map or set each one looks up.
void check_fixed_rules()
{
    INFO(warren_table());
    CHECK(occurrences(nft({"list", "chain", "ip", "warren", "prerouting"}), "@ports") == 1);
    CHECK(occurrences(nft({"list", "chain", "ip", "warren", "output"}), "@ports") == 1);
    CHECK(occurrences(nft({"list", "chain", "ip", "warren", "postrouting"}), "@backends") == 1);
    CHECK(occurrences(nft({"list", "chain", "ip", "warren", "forward"}), "@backends") == 2);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "the publisher works in its own table ip warren and touches no other", "[table]")
{
    nft_script("add table ip other\n"
               "add chain ip other c\n"
               "add rule ip other c tcp dport 22 accept\n"
               "add chain ip other forward_filter { type filter hook forward priority 0; policy accept; }\n"
               // Same name, other families: not ours either.
               "add table ip6 warren\n"
               "add chain ip6 warren c\n"
               "add table inet warren\n"
               "add set inet warren ports { type inet_service; }\n");
    const auto others_before = other_tables();
    REQUIRE(others_before.size() == 3);
    auto expected_tables = tables();
    expected_tables.push_back("ip warren");
    std::sort(expected_tables.begin(), expected_tables.end());

    {
        HostPortPublisher publisher;
        CHECK(tables() == expected_tables);
        CHECK(warren_chains() == expected_chains());
        CHECK(other_tables() == others_before);

        const std::vector<PortMapping> ports = {tcp(8080, 80, "web"), udp(5353, 53)};
        publisher.publish_ports("task-a", "10.88.0.2", ports);
        const auto listing = nft({"list", "table", "warren"});  // family ip is nft's default
        INFO(listing);
        CHECK_THAT(listing, Contains("comment \"task=task-a name=web\""));
        CHECK_THAT(listing, Contains("comment \"task=task-a\""));
        CHECK(kernel_ports() == std::vector{kernel_port("task-a", "10.88.0.2", ports[0]),
                                            kernel_port("task-a", "10.88.0.2", ports[1])});
        CHECK(kernel_backends() == std::vector<KernelBackend>{{"10.88.0.2", "tcp", 80}, {"10.88.0.2", "udp", 53}});
        CHECK(tables() == expected_tables);
        CHECK(other_tables() == others_before);

        publisher.unpublish_ports("task-a");
        CHECK(kernel_ports().empty());
        CHECK(kernel_backends().empty());
        CHECK(other_tables() == others_before);
    }
    // The table outlives the publisher (other publishers and restarts adopt it); the rest is untouched.
    CHECK(tables() == expected_tables);
    CHECK(other_tables() == others_before);
}

TEST_CASE_METHOD(FreshNetns, "the fixed rules look up the map and the set", "[table]")
{
    HostPortPublisher publisher;
    const auto listing = warren_table();
    INFO(listing);
    check_fixed_rules();
    // DNAT only to local destinations, in prerouting and output.
    CHECK_THAT(nft({"list", "chain", "ip", "warren", "prerouting"}), Contains("fib daddr type local") && Contains("@ports"));
    CHECK_THAT(nft({"list", "chain", "ip", "warren", "output"}), Contains("fib daddr type local") && Contains("@ports"));
    // Masquerade and forward accept only for DNATed connections to published backends.
    CHECK_THAT(nft({"list", "chain", "ip", "warren", "postrouting"}), Contains("ct status dnat") && Contains("@backends") && Contains("masquerade"));
    CHECK_THAT(nft({"list", "chain", "ip", "warren", "forward"}), Contains("ct status dnat") && Contains("@backends") && Contains("accept"));
    // `nft -f` reads back what `nft list` prints: the userdata the library writes is well-formed.
    const auto printed = ruleset();
    nft({"flush", "ruleset"});
    nft_script(printed);
    CHECK(ruleset() == printed);
}

TEST_CASE_METHOD(FreshNetns, "the table heals itself after nft flush ruleset and similar damage", "[table][self-healing]")
{
    HostPortPublisher publisher;
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80, "web")});

    std::string damage;
    SECTION("nft flush ruleset")
    {
        damage = "nft flush ruleset";
        nft({"flush", "ruleset"});
        REQUIRE_FALSE(warren_table_exists());
    }
    SECTION("nft delete table ip warren")
    {
        damage = "nft delete table ip warren";
        nft({"delete", "table", "ip", "warren"});
        REQUIRE_FALSE(warren_table_exists());
    }
    SECTION("nft delete chain ip warren output")
    {
        damage = "nft delete chain ip warren output";
        nft({"flush", "chain", "ip", "warren", "output"});
        nft({"delete", "chain", "ip", "warren", "output"});
    }
    INFO("damage: " << damage);

    const std::vector<PortMapping> b_ports = {tcp(9090, 90, "api")};
    publisher.publish_ports("task-b", "10.88.0.3", b_ports);
    INFO(warren_table());
    CHECK(warren_chains() == expected_chains());
    check_fixed_rules();
    const auto ports = kernel_ports();
    CHECK(std::count(ports.begin(), ports.end(), kernel_port("task-b", "10.88.0.3", b_ports[0])) == 1);
    // What the publisher reports is what the kernel holds.
    CHECK(publisher.all_published_ports().size() == ports.size());
    CHECK(publisher.published_ports("task-b") == b_ports);
}

TEST_CASE_METHOD(FreshNetns, "publishing restores fixed rules flushed from chains that still exist", "[table][self-healing]")
{
    // `nft flush table` (or `nft flush chain`) keeps chains, sets and elements but drops the rules:
    // without them nothing is DNATed, so a publish that reports success must bring them back.
    HostPortPublisher publisher;
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80, "web")});

    std::string damage;
    SECTION("nft flush table ip warren")
    {
        damage = "nft flush table ip warren";
        nft({"flush", "table", "ip", "warren"});
    }
    SECTION("nft flush chain ip warren prerouting")
    {
        damage = "nft flush chain ip warren prerouting";
        nft({"flush", "chain", "ip", "warren", "prerouting"});
    }
    INFO("damage: " << damage);

    publisher.publish_ports("task-b", "10.88.0.3", std::vector{tcp(9090, 90, "api")});
    CHECK(warren_chains() == expected_chains());
    check_fixed_rules();
}

TEST_CASE_METHOD(FreshNetns, "after nft flush ruleset the publisher reports what the kernel holds", "[table][self-healing]")
{
    HostPortPublisher publisher;
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80)});
    nft({"flush", "ruleset"});
    // task-a's element went with the flush; nobody may claim it is still published.
    CHECK(publisher.published_ports("task-a").empty());
    CHECK(publisher.all_published_ports().empty());
    CHECK(warren_table_exists());
    CHECK(warren_chains() == expected_chains());
    check_fixed_rules();
    // And its port is free again.
    publisher.publish_ports("task-b", "10.88.0.3", std::vector{tcp(8080, 80)});
    CHECK(kernel_ports() == std::vector{kernel_port("task-b", "10.88.0.3", tcp(8080, 80))});
}

TEST_CASE_METHOD(FreshNetns, "remove_table deletes table ip warren and nothing else", "[table]")
{
    nft({"add", "table", "ip", "other"});
    nft({"add", "chain", "ip", "other", "c"});
    const auto others = other_tables();
    HostPortPublisher publisher;
    publisher.publish_ports("task-a", "10.88.0.2", std::vector<PortMapping>{tcp(8080, 80, "web"), udp(5353, 53)});
    HostPortPublisher second;  // a view taken before the removal must not resurrect the ports

    publisher.remove_table();
    const auto names = tables();
    CHECK(std::find(names.begin(), names.end(), "ip warren") == names.end());
    CHECK(other_tables() == others);
    CHECK_NOTHROW(publisher.remove_table());  // already gone: not an error

    CHECK(second.published_ports("task-a").empty());
    publisher.publish_ports("task-b", "10.88.0.3", std::vector<PortMapping>{tcp(8080, 81)});
    CHECK(kernel_ports() == std::vector<KernelPort>{kernel_port("task-b", "10.88.0.3", tcp(8080, 81))});
}
