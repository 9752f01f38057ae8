// SPDX-License-Identifier: Apache-2.0
// The dedicated table: everything lives in `ip warren`, other tables are never touched, the owner is
// visible in `nft list`, and the table heals itself after `nft flush ruleset` and similar damage.
#include "support.hpp"

#include <algorithm>
#include <map>

using namespace kt;
using Catch::Matchers::Contains;
using warren::nft::ContainerAddresses;
using warren::nft::IngressBackend;
using warren::nft::PublishMode;
using warren::nft::Severity;
using warren::nft::TableProblemKind;

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
        {"bound_police", "", "", 0},
        {"forward", "filter", "forward", 0},
        {"guard", "filter", "prerouting", -300},
        {"output", "nat", "output", -100},
        {"police", "", "", 0},
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

// The fixed rules, counted by the map or set each one looks up: in a table that counts, masquerade
// and forward look up the backends set; otherwise the ports maps, by the connection's original port.
void check_fixed_rules(bool counting = tables_always_count())
{
    INFO(warren_table());
    for (const char* chain : {"prerouting", "output"}) {
        const auto rules = nft({"list", "chain", "ip", "warren", chain});
        CHECK(occurrences(rules, "@ports") == 1);
        CHECK(occurrences(rules, "@bound_ports") == 1);
        CHECK(occurrences(rules, "dnat ip to meta l4proto . th dport . numgen random mod 4096 map @ingress") == 1);
        CHECK(occurrences(rules, "dnat ip to meta l4proto . th dport . numgen random mod 256 map @ingress") == 1);
        // Ports bound to one address are looked up first, then the slots of wide ingress ports, then
        // those of narrow ones (which the wide rule misses).
        CHECK(rules.find("ip daddr . meta l4proto . th dport map @bound_ports") < rules.find("@ingress"));
        CHECK(rules.find("mod 4096 map @ingress") < rules.find("mod 256 map @ingress"));
        CHECK(rules.find("mod 256 map @ingress") < rules.find("@ports"));
    }
    const auto postrouting = nft({"list", "chain", "ip", "warren", "postrouting"});
    const auto forward = nft({"list", "chain", "ip", "warren", "forward"});
    CHECK(occurrences(postrouting, "@backends") == (counting ? 1 : 0));
    CHECK(occurrences(forward, "@backends") == (counting ? 2 : 0));
    for (const auto& rules : {postrouting, forward}) {
        // One rule per protocol (tcp, udp, sctp): only after a protocol match can `nft -f` read
        // `ct original proto-dst` in a concatenation.
        CHECK(occurrences(rules, "ct original ip daddr . meta l4proto . ct original proto-dst @bound_ports") ==
              (counting ? 0 : 3));
        CHECK(occurrences(rules, "ct status dnat meta l4proto . ct original proto-dst @ports") == (counting ? 0 : 3));
    }
    CHECK(kernel_has_backends() == counting);
}

// Both families' tables list with the ingress objects, and `nft -f` reads back what `nft list`
// prints: the userdata the library writes is well-formed. One difference is nft's: it declares a
// set that a rule updates `flags dynamic`, so the plain policed sets come back dynamic
// (docs/architecture.md, "Access policies").
void check_reloads()
{
    for (const std::string family : {"ip", "ip6"}) {
        const auto listing = nft({"list", "table", family, "warren"});
        INFO(listing);
        CHECK_THAT(listing, Contains("typeof meta l4proto . th dport . numgen random mod 256 : " + family + " daddr . th dport"));
        CHECK_THAT(listing, Contains("set ingress_backends {\n\t\ttype inet_proto . inet_service . " +
                                     std::string(family == "ip" ? "ipv4_addr" : "ipv6_addr") + " . inet_service\n"));
        for (const std::string slots : {"4096", "256"})
            CHECK(occurrences(listing, "dnat " + family + " to meta l4proto . th dport . numgen random mod " + slots +
                                           " map @ingress") == 2);
    }
    const auto printed = ruleset();
    INFO(printed);
    nft({"flush", "ruleset"});
    nft_script(printed);
    auto expected = printed;
    std::size_t dynamic = 0;
    for (const std::string set : {"set policed {", "set bound_policed {"})
        for (auto from = expected.find(set); from != std::string::npos; from = expected.find(set, from + 1)) {
            const auto at = expected.find("size 65535\n", from);
            REQUIRE(at != std::string::npos);
            const auto indent = expected.substr(expected.rfind('\n', at) + 1, at - expected.rfind('\n', at) - 1);
            expected.insert(at + std::string("size 65535\n").size(), indent + "flags dynamic\n");
            ++dynamic;
        }
    CHECK(dynamic == 4);
    CHECK(ruleset() == expected);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "the publisher works in its own table ip warren and touches no other", "[table]")
{
    nft_script(
        "add table ip other\n"
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
    const auto tables_before = tables();
    auto expected_tables = tables_before;
    expected_tables.push_back("ip warren");
    std::sort(expected_tables.begin(), expected_tables.end());

    {
        HostPortPublisher publisher;
        CHECK(tables() == tables_before);  // created by the first publish, not before

        const std::vector<PortMapping> ports = {tcp(8080, 80, "web"), udp(5353, 53)};
        publisher.publish_ports("task-a", "10.88.0.2", ports);
        CHECK(tables() == expected_tables);
        CHECK(warren_chains() == expected_chains());
        const auto listing = nft({"list", "table", "warren"});  // family ip is nft's default
        INFO(listing);
        CHECK_THAT(listing, Contains("comment \"task=task-a name=web\""));
        CHECK_THAT(listing, Contains("comment \"task=task-a\""));
        CHECK(kernel_ports() ==
              std::vector{kernel_port("task-a", "10.88.0.2", ports[0]), kernel_port("task-a", "10.88.0.2", ports[1])});
        check_backends(false, {{"10.88.0.2", "tcp", 80}, {"10.88.0.2", "udp", 53}});  // counters are off by default
        CHECK(tables() == expected_tables);
        CHECK(other_tables() == others_before);

        publisher.unpublish_ports("task-a");
        CHECK(kernel_ports().empty());
        check_backends(false, {});
        CHECK(other_tables() == others_before);
    }
    // The table outlives the publisher (other publishers and restarts adopt it); the rest is untouched.
    CHECK(tables() == expected_tables);
    CHECK(other_tables() == others_before);
}

TEST_CASE_METHOD(FreshNetns, "the fixed rules look up the maps, and the set in a table that counts", "[table]")
{
    const bool counters = GENERATE(false, true);
    HostPortPublisher publisher(PublisherOptions{.counters = counters});
    publisher.publish_ports("task-a", ContainerAddresses{"10.88.0.2", "fd00::2"}, std::vector{tcp(8080, 80)});
    const auto listing = warren_table();
    INFO(listing);
    check_fixed_rules(counters || tables_always_count());
    // DNAT only to local destinations, in prerouting and output.
    CHECK_THAT(nft({"list", "chain", "ip", "warren", "prerouting"}), Contains("fib daddr type local") && Contains("@ports"));
    CHECK_THAT(nft({"list", "chain", "ip", "warren", "output"}), Contains("fib daddr type local") && Contains("@ports"));
    // Masquerade and forward accept only for DNATed connections to published ports.
    CHECK_THAT(nft({"list", "chain", "ip", "warren", "postrouting"}), Contains("ct status dnat") && Contains("masquerade"));
    CHECK_THAT(nft({"list", "chain", "ip", "warren", "forward"}), Contains("ct status dnat") && Contains("accept"));

    // With a wide ingress port too (more than 256 backends: 4,096 slots) in both families, the
    // tables reload alike. (Added last: every `nft list` reads all the elements.)
    std::vector<IngressBackend> backends;
    for (int i = 0; i < 300; ++i) {
        backends.push_back(IngressBackend{"10.89." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1), 80});
        backends.push_back(IngressBackend{"fd00:89::" + std::to_string(i + 1), 80});
    }
    publisher.publish_ingress("wide", std::vector{ingress(tcp(9090, 80))}, backends);
    const auto with_wide_port = ruleset();
    // 4,096 slots and 300 records a family, slot 4095 the last.
    CHECK(occurrences(with_wide_port, "tcp . 9090 . ") == 2 * (4096 + 300));
    CHECK(occurrences(with_wide_port, "tcp . 9090 . 4095 : ") == 2);
    CHECK(occurrences(with_wide_port, "tcp . 9090 . 4096 : ") == 0);
    check_reloads();
}

TEST_CASE_METHOD(FreshNetns, "a table written before ingress mode gets its objects with the next change, in both families",
                 "[table][ingress]")
{
    HostPortPublisher writer;
    writer.publish_ports("web", ContainerAddresses{"10.88.0.2", "fd00::2"}, std::vector{tcp(8080, 80)});
    nft_script(without_ingress_script("ip") + without_ingress_script("ip6"));
    const auto old_layout = ruleset();
    INFO(old_layout);
    REQUIRE(old_layout.find("ingress") == std::string::npos);

    // Inspected, an earlier layout that works: one note per table; reading changes nothing.
    HostPortPublisher publisher;
    for (const auto& table : publisher.inspect().families) {
        INFO(table.table);
        CHECK(table.refusal.empty());
        REQUIRE(table.problems.size() == 1);
        CHECK(table.problems.front().kind == TableProblemKind::earlier_layout);
        CHECK(table.problems.front().severity == Severity::note);
    }
    CHECK(ruleset() == old_layout);

    const auto log = monitor_transactions([&] {
        publisher.publish_ports("db", ContainerAddresses{"10.88.0.3", "fd00::3"}, std::vector{tcp(5432, 5432)});
    });
    INFO("nft monitor:\n" << log.text);
    CHECK(log.generations == 1);
    check_fixed_rules();
    CHECK(publisher.published_ports("web") == std::vector{tcp(8080, 80)});
    for (const auto& table : publisher.inspect().families) {
        INFO(table.table);
        CHECK(table.problems.empty());
    }
    check_reloads();
}

TEST_CASE_METHOD(FreshNetns, "an ingress map that lost its typeof is made again by the next change, and its slots",
                 "[table][ingress]")
{
    HostPortPublisher publisher;
    publisher.publish_ports("web", ContainerAddresses{"10.88.0.2", "fd00::2"}, std::vector{tcp(8080, 80)});
    auto service_port = tcp(9090, 90);
    service_port.publish_mode = PublishMode::ingress;
    publisher.publish_ingress("svc", std::vector{service_port}, std::vector<IngressBackend>{{"10.88.0.7"}, {"fd00::7"}});
    // The same map by type (numgen yields nft's 4-byte integer either way) with a typeof that is not
    // warren-nft's. The kernel keeps a set's user data when the set is added again, so only deleting
    // the map, and first the rules that look it up, gets warren-nft's typeof back.
    for (const std::string family : {"ip", "ip6"}) {
        std::string script = without_ingress_script(family);
        script = script.substr(0, script.find("delete set"));  // ingress_backends stays
        nft_script(script + "add map " + family + " warren ingress { typeof meta l4proto . th dport . numgen inc mod 256 : " +
                   family + " daddr . th dport; }\n");
    }
    for (const auto& table : publisher.inspect().families) {
        INFO(table.table);
        CHECK(table.refusal.empty());
        std::vector<TableProblemKind> kinds;
        for (const auto& problem : table.problems)
            kinds.push_back(problem.kind);
        // The map, and prerouting and output without their rule that looked it up.
        CHECK(kinds ==
              std::vector{TableProblemKind::ingress_typeof_lost, TableProblemKind::chain_rules, TableProblemKind::chain_rules});
    }

    const auto log = monitor_transactions([&] {
        publisher.publish_ports("db", ContainerAddresses{"10.88.0.3", "fd00::3"}, std::vector{tcp(5432, 5432)});
    });
    INFO("nft monitor:\n" << log.text);
    // The change with the repair, then the service's slots, written again from its records.
    CHECK(log.generations == 2);
    CHECK(listed_elements("ip", "ingress", ": 10.88.0.7 . 90") == 256);
    CHECK(listed_elements("ip6", "ingress", ": fd00::7 . 90") == 256);
    check_fixed_rules();
    for (const auto& table : publisher.inspect().families) {
        INFO(table.table);
        CHECK(table.problems.empty());
    }
    check_reloads();
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
    CHECK_FALSE(warren_table_exists());  // reading does not bring the table back
    // And its port is free again; publishing brings the whole table back.
    publisher.publish_ports("task-b", "10.88.0.3", std::vector{tcp(8080, 80)});
    CHECK(kernel_ports() == std::vector{kernel_port("task-b", "10.88.0.3", tcp(8080, 80))});
    CHECK(warren_chains() == expected_chains());
    check_fixed_rules();
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

TEST_CASE_METHOD(FreshNetns, "reading and unpublishing never create the table, nor repair it", "[table][lazy]")
{
    nft({"add", "table", "ip", "other"});
    const auto before = ruleset();
    {
        HostPortPublisher publisher;
        CHECK(publisher.all_published_ports().empty());
        CHECK(publisher.published_ports("task-a").empty());
        publisher.unpublish_ports("task-a");
        publisher.remove_table();
        CHECK(ruleset() == before);
        CHECK(tables() == std::vector<std::string>{"ip other"});
    }
    HostPortPublisher publisher;  // a new one, for a fresh start
    CHECK(ruleset() == before);
    const std::vector<PortMapping> ports{tcp(8080, 80, "web")};
    publisher.publish_ports("task-a", "10.88.0.2", ports);
    CHECK(warren_chains() == expected_chains());

    SECTION("a damaged table is diagnosed by reading, and repaired by the next publish")
    {
        nft({"delete", "chain", "ip", "warren", "output"});
        nft({"flush", "chain", "ip", "warren", "forward"});
        const auto damaged = ruleset();
        HostPortPublisher reader;
        CHECK(reader.published_ports("task-a") == ports);
        CHECK(reader.all_published_ports().size() == 1);
        reader.unpublish_ports("task-b");  // no such task: nothing to send
        CHECK(ruleset() == damaged);
        // Publishing what is already published repairs it: a publish that succeeds carries traffic.
        reader.publish_ports("task-a", "10.88.0.2", ports);
        CHECK(warren_chains() == expected_chains());
        check_fixed_rules();
        CHECK(kernel_ports() == std::vector{kernel_port("task-a", "10.88.0.2", ports[0])});
    }
    SECTION("a deleted table stays deleted until the next publish")
    {
        nft({"delete", "table", "ip", "warren"});
        CHECK(publisher.all_published_ports().empty());
        publisher.unpublish_ports("task-a");
        CHECK(tables() == std::vector<std::string>{"ip other"});
        publisher.publish_ports("task-a", "10.88.0.2", ports);
        CHECK(warren_chains() == expected_chains());
        CHECK(kernel_ports() == std::vector{kernel_port("task-a", "10.88.0.2", ports[0])});
    }
}

TEST_CASE_METHOD(FreshNetns, "a table of the layout before bound ports is upgraded by the first change", "[table][host-ip]")
{
    // What warren-nft wrote before it had bound_ports: no such map, one DNAT rule per nat chain.
    nft_script(R"(table ip warren {
	map ports {
		type inet_proto . inet_service : ipv4_addr . inet_service
		elements = { tcp . 8080 comment "task=old name=web" : 10.88.0.2 . 80 }
	}
	set backends {
		type ipv4_addr . inet_proto . inet_service
		counter
		elements = { 10.88.0.2 . tcp . 80 }
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local dnat ip to meta l4proto . th dport map @ports comment "warren-nft: DNAT published host ports of local addresses to containers"
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local ip daddr != 127.0.0.0/8 dnat ip to meta l4proto . th dport map @ports comment "warren-nft: DNAT published host ports of local non-loopback addresses to containers"
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ct status dnat ip daddr . meta l4proto . th dport @backends masquerade comment "warren-nft: masquerade connections DNATed to published containers"
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct status dnat ip daddr . meta l4proto . th dport @backends accept comment "warren-nft: accept traffic to published containers"
		ct status dnat ip saddr . meta l4proto . th sport @backends accept comment "warren-nft: accept replies from published containers"
	}
}
)");
    const auto old_layout = ruleset();
    HostPortPublisher publisher;
    // Reading works on it as it is, and changes nothing.
    CHECK(publisher.all_published_ports() == std::vector<PublishedPort>{{"old", "10.88.0.2", tcp(8080, 80, "web")}});
    CHECK(ruleset() == old_layout);

    sandbox::add_loopback_addresses({"10.200.1.1"});
    const std::vector<PortMapping> bound = {on("10.200.1.1", tcp(9090, 90))};
    publisher.publish_ports("new", "10.88.0.3", bound);
    CHECK(warren_chains() == expected_chains());
    check_fixed_rules(true);  // it counted, and counts on
    CHECK(kernel_ports() ==
          std::vector{kernel_port("old", "10.88.0.2", tcp(8080, 80, "web")), kernel_port("new", "10.88.0.3", bound[0])});
    CHECK(kernel_backends() == std::vector<KernelBackend>{{"10.88.0.2", "tcp", 80}, {"10.88.0.3", "tcp", 90}});
}
