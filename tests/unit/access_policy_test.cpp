// SPDX-License-Identifier: Apache-2.0
// Access policies and automatic host ports over the in-memory fake: the elements a policy becomes,
// how it reads back, and which host port a port asking for 0 gets.
#include "publisher/access_policy.hpp"
#include "publisher/layout.hpp"
#include "publisher/publisher_on.hpp"
#include "ruleset/fake_backend.hpp"
#include "shared_backend.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include "earlier_layouts.hpp"
#include "error_of.hpp"
#include "ports.hpp"

#include <algorithm>
#include <set>
#include <thread>

using namespace warren::nft;
using ruleset::FakeBackend;
using ruleset::Family;
using test::error_of;
using test::port;

namespace {

const std::map<ruleset::Bytes, ruleset::Element>& elements(const FakeBackend& fake, Family family, const char* set)
{
    static const std::map<ruleset::Bytes, ruleset::Element> none;
    const auto table = fake.state().find({family, "warren"});
    if (table == fake.state().end() || !table->second.sets.contains(set))
        return none;
    return table->second.sets.at(set).elements;
}

PortMapping with_policy(PortMapping mapping, std::vector<std::string> allow, std::uint32_t max_connections = 0,
                        std::uint32_t rate = 0, RateUnit unit = RateUnit::second)
{
    mapping.access.allow = std::move(allow);
    mapping.access.max_connections = max_connections;
    mapping.access.rate = rate;
    mapping.access.rate_unit = unit;
    return mapping;
}

// The source ranges of the allowed elements of a family's table, as text.
std::set<std::string> allowed_ranges(const FakeBackend& fake, Family family)
{
    std::set<std::string> out;
    for (const auto& [key, element] : elements(fake, family, layout::allowed_set))
        if (const auto decoded = layout::decode_allowed_element(family, element))
            out.insert(std::to_string(decoded->key.port) + " " + layout::to_string(decoded->range));
    return out;
}

}  // namespace

TEST_CASE("a policy becomes a policed element with its limits and an allowed element per source", "[policy]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const auto asked = with_policy(port(8080, 80), {"10.1.2.3/16", "192.0.2.7", "10.1.0.0/24"}, 10, 5, RateUnit::minute);
    const auto published = publisher.publish_ports("web", "10.88.0.2", std::vector{asked});
    // Canonical: host bits cleared, a range inside another left out, in order, single addresses /32.
    auto expected = asked;
    expected.access.allow = {"10.1.0.0/16", "192.0.2.7/32"};
    CHECK(published == std::vector{expected});
    CHECK(publisher.published_ports("web") == std::vector{expected});

    const auto& policed = elements(fake, Family::ip, layout::policed_set);
    REQUIRE(policed.size() == 1);
    const auto& limits = policed.begin()->second.expressions;
    REQUIRE(limits.size() == 2);
    CHECK(std::get<ruleset::expr::ConnLimit>(limits[0]).count == 10);
    const auto& limit = std::get<ruleset::expr::Limit>(limits[1]);
    CHECK(limit.rate == 5);
    CHECK(limit.unit_seconds == 60);
    CHECK(limit.burst == 5);
    CHECK(allowed_ranges(fake, Family::ip) == std::set<std::string>{"8080 10.1.0.0/16", "8080 192.0.2.7/32"});

    // A fresh publisher adopts the policy from the kernel's elements.
    auto adopter = publisher_on(test::share(fake));
    CHECK(adopter.published_ports("web") == std::vector{expected});
    REQUIRE(adopter.all_published_ports().size() == 1);
    CHECK(adopter.all_published_ports()[0].mapping.access == expected.access);

    // Publishing the same again sends nothing.
    const auto commits = fake.commit_attempts();
    CHECK(publisher.publish_ports("web", "10.88.0.2", std::vector{asked}) == std::vector{expected});
    CHECK(fake.commit_attempts() == commits);

    // Changing the policy is one transaction with the port; the old sources go.
    const auto changed = with_policy(port(8080, 80), {"172.16.0.0/12"});
    publisher.publish_ports("web", "10.88.0.2", std::vector{changed});
    CHECK(fake.commit_attempts() == commits + 1);
    CHECK(allowed_ranges(fake, Family::ip) == std::set<std::string>{"8080 172.16.0.0/12"});
    REQUIRE(elements(fake, Family::ip, layout::policed_set).size() == 1);
    CHECK(elements(fake, Family::ip, layout::policed_set).begin()->second.expressions.empty());
    CHECK(adopter.published_ports("web") == std::vector{changed});

    // Without a policy the port has no policy elements; unpublishing removes them too.
    publisher.publish_ports("web", "10.88.0.2", std::vector{port(8080, 80)});
    CHECK(elements(fake, Family::ip, layout::policed_set).empty());
    CHECK(elements(fake, Family::ip, layout::allowed_set).empty());
    publisher.publish_ports("web", "10.88.0.2", std::vector{with_policy(port(8080, 80), {}, 3)});
    CHECK(allowed_ranges(fake, Family::ip) == std::set<std::string>{"8080 0.0.0.0/0"});  // every source, within the limit
    CHECK(publisher.published_ports("web")[0].access.allow.empty());
    publisher.unpublish_ports("web");
    CHECK(elements(fake, Family::ip, layout::policed_set).empty());
    CHECK(elements(fake, Family::ip, layout::allowed_set).empty());
}

TEST_CASE("source CIDRs: canonical form, the CIDRs that enforce them, and elements read back", "[policy]")
{
    const auto cidrs = [](std::vector<std::string> texts) {
        std::vector<layout::SourceRange> out;
        for (const auto& text : texts)
            out.push_back(layout::parse_source(text).value());
        return out;
    };
    const auto texts = [](const std::vector<layout::SourceRange>& ranges) {
        std::vector<std::string> out;
        for (const auto& range : ranges)
            out.push_back(layout::to_string(range));
        return out;
    };
    // Halves merge, and the merged CIDR merges with its own other half; a CIDR inside another goes.
    CHECK(texts(layout::canonical_sources(cidrs({"10.0.0.128/25", "10.0.1.0/24", "10.0.0.0/25", "10.0.0.7"}))) ==
          std::vector<std::string>{"10.0.0.0/23"});
    // Neighbours that are not halves of one CIDR stay apart.
    CHECK(texts(layout::canonical_sources(cidrs({"10.0.1.0/24", "10.0.2.0/24"}))) ==
          std::vector<std::string>{"10.0.1.0/24", "10.0.2.0/24"});
    CHECK(texts(layout::canonical_sources(cidrs({"0.0.0.0/1", "128.0.0.0/1"}))) == std::vector<std::string>{"0.0.0.0/0"});
    CHECK(texts(layout::canonical_sources(cidrs({"2001:db8::/33", "2001:db8:8000::/33"}))) ==
          std::vector<std::string>{"2001:db8::/32"});

    const auto& ipv4 = layout::layout_of(Family::ip);
    const auto& ipv6 = layout::layout_of(Family::ip6);
    // A length the police chain looks up is held as it is; another as the CIDRs of the next one.
    CHECK(texts(layout::enforced_sources(ipv4, *layout::parse_source("10.0.0.0/8"))) == std::vector<std::string>{"10.0.0.0/8"});
    CHECK(texts(layout::enforced_sources(ipv4, *layout::parse_source("10.0.0.0/26"))) ==
          std::vector<std::string>{"10.0.0.0/28", "10.0.0.16/28", "10.0.0.32/28", "10.0.0.48/28"});
    CHECK(layout::enforced_sources(ipv4, *layout::parse_source("10.0.0.0/25")).size() == 8);
    CHECK(texts(layout::enforced_sources(ipv6, *layout::parse_source("2001:db8::/31"))) ==
          std::vector<std::string>{"2001:db8::/32", "2001:db9::/32"});
    CHECK(texts(layout::enforced_sources(ipv4, *layout::parse_source("255.255.255.254/31"))) ==
          std::vector<std::string>{"255.255.255.254/32", "255.255.255.255/32"});
    // Enforced pieces read back as the CIDR they came from.
    CHECK(texts(layout::canonical_sources(layout::enforced_sources(ipv6, *layout::parse_source("8000::/1")))) ==
          std::vector<std::string>{"8000::/1"});

    // Elements read back: a CIDR of a length the chain looks up decodes; anything else is not ours.
    const layout::HostPort key{Protocol::tcp, 8080, layout::any_address(Family::ip)};
    const auto decoded = [&](const std::string& first, const std::string& last) {
        return layout::decode_allowed_element(
            Family::ip, layout::allowed_element(key, {*layout::parse_address(first), *layout::parse_address(last)}));
    };
    REQUIRE(decoded("10.0.0.0", "10.255.255.255"));
    CHECK(decoded("10.0.0.0", "10.255.255.255")->key == key);
    CHECK(layout::to_string(decoded("10.0.0.0", "10.255.255.255")->range) == "10.0.0.0/8");
    CHECK_FALSE(decoded("10.0.0.0", "10.127.255.255"));  // a /9: no rule looks it up
    CHECK_FALSE(decoded("10.0.0.0", "10.0.0.2"));        // not a CIDR
    CHECK_FALSE(decoded("10.0.0.9", "10.0.0.1"));        // backwards
    auto short_key = layout::allowed_element(key, *layout::parse_source("10.0.0.0/8"));
    short_key.key.pop_back();
    CHECK_FALSE(layout::decode_allowed_element(Family::ip, short_key));
}

TEST_CASE("a policy held as pieces changes and goes whole, from the publisher and from one that adopted it", "[policy]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const ContainerAddresses dual{"10.88.0.2", "fd00::2"};
    // A /26 is four /28 elements, a /33 128 /40 ones.
    const auto pieces = with_policy(port(8080, 80), {"10.0.0.0/26", "fd00::/33"}, 5);
    publisher.publish_ports("web", dual, std::vector{pieces});
    CHECK(elements(fake, Family::ip, layout::allowed_set).size() == 4);
    CHECK(elements(fake, Family::ip6, layout::allowed_set).size() == 128);

    // A fresh publisher reads the pieces back as the CIDRs, changes them in one commit (a deletion of
    // an element that is not there would fail it) and unpublishes them all.
    auto adopter = publisher_on(test::share(fake));
    REQUIRE(adopter.published_ports("web") == std::vector{pieces});
    const auto commits = fake.commit_attempts();
    const auto wider = with_policy(port(8080, 80), {"10.0.0.0/24", "fd00::/32"}, 5);
    adopter.publish_ports("web", dual, std::vector{wider});
    CHECK(fake.commit_attempts() == commits + 1);
    CHECK(allowed_ranges(fake, Family::ip) == std::set<std::string>{"8080 10.0.0.0/24"});
    CHECK(allowed_ranges(fake, Family::ip6) == std::set<std::string>{"8080 fd00::/32"});
    // Back to pieces, then gone.
    adopter.publish_ports("web", dual, std::vector{pieces});
    CHECK(elements(fake, Family::ip6, layout::allowed_set).size() == 128);
    CHECK(publisher.published_ports("web") == std::vector{pieces});
    publisher.unpublish_ports("web");
    CHECK(fake.commit_attempts() == commits + 3);
    CHECK(elements(fake, Family::ip, layout::allowed_set).empty());
    CHECK(elements(fake, Family::ip6, layout::allowed_set).empty());
    CHECK(elements(fake, Family::ip6, layout::policed_set).empty());
}

TEST_CASE("a dual-stack port's policy is split by family and read back whole", "[policy][ipv6]")
{
    FakeBackend fake;
    auto publisher = publisher_on(test::share(fake));
    const ContainerAddresses dual{"10.88.0.2", "fd00:88::2"};
    const auto asked = with_policy(port(8080, 80), {"2001:db8::/32", "10.0.0.0/8"}, 0, 20);
    auto expected = asked;
    expected.access.allow = {"10.0.0.0/8", "2001:db8::/32"};
    CHECK(publisher.publish_ports("web", dual, std::vector{asked}) == std::vector{expected});
    CHECK(allowed_ranges(fake, Family::ip) == std::set<std::string>{"8080 10.0.0.0/8"});
    CHECK(allowed_ranges(fake, Family::ip6) == std::set<std::string>{"8080 2001:db8::/32"});
    CHECK(elements(fake, Family::ip6, layout::policed_set).size() == 1);

    // An allow-list without a source of a family the port is published in is refused.
    const auto commits = fake.commit_attempts();
    const auto only_v4 = with_policy(port(9090, 90), {"10.0.0.0/8"});
    const auto error = error_of([&] { publisher.publish_ports("other", dual, std::vector{only_v4}); });
    CHECK(error.code() == errc::invalid_argument);
    CHECK_THAT(error.what(), Catch::Contains("no IPv6 source"));
    CHECK(fake.commit_attempts() == commits);
    // Published on IPv4 addresses only, it is fine.
    auto v4_only = only_v4;
    v4_only.host_ip = "0.0.0.0";
    CHECK_NOTHROW(publisher.publish_ports("other", dual, std::vector{v4_only}));
}

namespace {

// Turns a family's table into the layout that marked the ports with a policy in `restricted` and
// `bound_restricted` (an element per policed element) and jumped to the police chains on a lookup
// of those, whose chains had no rule for ports without a policy: as the earlier version wrote it,
// before ingress mode.
void make_restricted_layout(FakeBackend& fake, Family family)
{
    test::remove_ingress_layout(fake, family);
    auto& table = fake.mutable_state().at({family, "warren"});
    for (const auto& [policed, restricted] :
         {std::pair{layout::policed_set, "restricted"}, std::pair{layout::bound_policed_set, "bound_restricted"}}) {
        const auto& from = table.sets.at(policed);
        FakeBackend::SetState set{from.declaration, {}, false};
        set.declaration.name = restricted;
        set.declaration.size = 0;
        for (const auto& [key, element] : from.elements)
            set.elements.emplace(key, ruleset::Element{restricted, key, {}, {}});
        table.sets.emplace(restricted, std::move(set));
    }
    for (auto& [name, chain] : table.chains) {
        if (name == "police" || name == "bound_police")
            chain.rules.erase(chain.rules.begin());  // the return for ports without a policy
        if (name != "prerouting" && name != "output")
            continue;
        // The jumps (bound, then all addresses) matched the key their DNAT rule (two rules on) builds.
        REQUIRE(chain.rules.size() == 4);
        for (std::size_t i = 0; i < 2; ++i) {
            const bool bound = i == 0;
            auto& rule = chain.rules[i];
            const auto& dnat = chain.rules[i + 2].expressions;
            REQUIRE(std::holds_alternative<ruleset::expr::Jump>(rule.expressions.back()));
            rule.expressions.assign(dnat.begin(), dnat.end() - 2);  // without its map lookup and dnat
            rule.expressions.push_back(
                ruleset::expr::Lookup{bound ? "bound_restricted" : "restricted", 0, ruleset::Reg::r1, std::nullopt});
            rule.expressions.push_back(ruleset::expr::Jump{bound ? "bound_police" : "police"});
            rule.comment = bound ? "warren-nft: check connections to host ports on one address that have an access policy"
                                 : "warren-nft: check connections to published host ports that have an access policy";
        }
    }
    fake.bump_generation();
}

std::size_t rules_looking_up(const FakeBackend& fake, Family family, const std::string& set)
{
    std::size_t out = 0;
    for (const auto& [name, chain] : fake.state().at({family, "warren"}).chains)
        for (const auto& rule : chain.rules)
            for (const auto& expression : rule.expressions)
                if (const auto* lookup = std::get_if<ruleset::expr::Lookup>(&expression); lookup && lookup->set == set)
                    ++out;
    return out;
}

}  // namespace

TEST_CASE("a table with the restricted sets is adopted with its policies and converted by one repair", "[policy][adoption]")
{
    FakeBackend fake;
    const ContainerAddresses dual{"10.88.0.2", "fd00::2"};
    const auto open = with_policy(port(8080, 80), {"10.0.0.0/8", "fd00::/16"}, 5);
    const auto bound = with_policy(test::on("10.0.0.1", port(8081, 81)), {"192.0.2.0/24"}, 0, 10);
    const auto plain = port(8082, 82);
    std::vector<PortMapping> expected;
    {
        auto writer = publisher_on(test::share(fake));
        writer.publish_ports("web", dual, std::vector{open, bound, plain});
        expected = writer.published_ports("web");
    }
    CHECK(expected == std::vector{open, bound, plain});
    for (const auto family : layout::families)
        make_restricted_layout(fake, family);
    const auto& old_table = fake.state().at({Family::ip, "warren"});
    REQUIRE(old_table.sets.at("restricted").elements.size() == 1);
    REQUIRE(old_table.sets.at("bound_restricted").elements.size() == 1);
    REQUIRE(rules_looking_up(fake, Family::ip, "restricted") == 2);

    // Inspected as it is, it is an earlier layout that works: a note each for the policy sets and for
    // the ingress objects it predates, nothing failing, no change of the backends set announced.
    for (const auto& table : publisher_on(test::share(fake)).inspect().families) {
        INFO(table.table);
        CHECK(table.refusal.empty());
        REQUIRE(table.problems.size() == 2);
        for (const auto& problem : table.problems) {
            CHECK(problem.kind == TableProblemKind::earlier_layout);
            CHECK(problem.severity == Severity::note);
        }
        CHECK_THAT(table.problems[1].description, Catch::Contains("before ingress mode"));
        CHECK(table.repair_operations > 0);
    }

    // Adopted as it is: the policies read back from the policed elements, no port of another owner.
    auto adopter = publisher_on(test::share(fake));
    CHECK(adopter.published_ports("web") == expected);
    REQUIRE(adopter.all_published_ports().size() == 5);  // 8080 and 8082 on both families, 8081 on IPv4
    for (const auto& published : adopter.all_published_ports())
        CHECK(published.task_id == "web");

    // The next change converts both tables in its own commit: the restricted sets and the rules
    // that looked them up are gone, the police chains start with the return, every port and policy stays.
    const auto commits = fake.commit_attempts();
    adopter.publish_ports("db", "10.88.0.3", std::vector{port(5432, 5432)});
    CHECK(fake.commit_attempts() == commits + 1);
    for (const auto family : layout::families) {
        INFO("family " << static_cast<int>(family));
        const auto& table = fake.state().at({family, "warren"});
        CHECK_FALSE(table.sets.contains("restricted"));
        CHECK_FALSE(table.sets.contains("bound_restricted"));
        CHECK(rules_looking_up(fake, family, "restricted") == 0);
        CHECK(rules_looking_up(fake, family, "bound_restricted") == 0);
        CHECK(table.chains.at("police").rules.front().comment ==
              "warren-nft: let connections to ports without an access policy through");
        CHECK(table.chains.at("bound_police").rules.front().comment ==
              "warren-nft: let connections to ports without an access policy through");
    }
    CHECK(elements(fake, Family::ip, layout::policed_set).size() == 1);
    CHECK(elements(fake, Family::ip, layout::bound_policed_set).size() == 1);
    CHECK(elements(fake, Family::ip6, layout::policed_set).size() == 1);
    CHECK(allowed_ranges(fake, Family::ip) == std::set<std::string>{"8080 10.0.0.0/8"});
    CHECK(elements(fake, Family::ip, layout::bound_allowed_set).size() == 1);
    CHECK(adopter.published_ports("web") == expected);
    CHECK(publisher_on(test::share(fake)).published_ports("web") == expected);
    // Nothing is left to convert: the same publish again sends nothing.
    adopter.publish_ports("db", "10.88.0.3", std::vector{port(5432, 5432)});
    CHECK(fake.commit_attempts() == commits + 1);
}

TEST_CASE("ports asking for 0 get a free host port of the range, kept on republish", "[automatic]")
{
    FakeBackend fake;
    PublisherOptions options;
    options.automatic_ports = {40000, 40003};
    auto publisher = publisher_on(test::share(fake), options);
    publisher.publish_ports("taken", "10.88.0.9", std::vector{port(40001, 80)});

    const auto first = publisher.publish_ports("a", "10.88.0.2", std::vector{port(0, 80), port(0, 443), port(8080, 8080)});
    REQUIRE(first.size() == 3);
    std::set<std::uint16_t> chosen;
    for (const auto& mapping : first)
        if (mapping.host_port != 8080) {
            CHECK(mapping.host_port >= 40000);
            CHECK(mapping.host_port <= 40003);
            CHECK(mapping.host_port != 40001);
            chosen.insert(mapping.host_port);
        }
    CHECK(chosen.size() == 2);
    CHECK(publisher.published_ports("a") == first);

    // The same request again keeps the ports: nothing is sent.
    const auto commits = fake.commit_attempts();
    CHECK(publisher.publish_ports("a", "10.88.0.2", std::vector{port(0, 80), port(0, 443), port(8080, 8080)}) == first);
    CHECK(fake.commit_attempts() == commits);

    // One port left in the range; a request for two fails as a whole.
    const auto error = error_of([&] { publisher.publish_ports("b", "10.88.0.3", std::vector{port(0, 80), port(0, 81)}); });
    CHECK(error.code() == errc::port_conflict);
    CHECK_THAT(error.what(), Catch::Contains("no free host port in 40000-40003"));
    CHECK(fake.commit_attempts() == commits);
    CHECK(publisher.published_ports("b").empty());
    CHECK(publisher.publish_ports("b", "10.88.0.3", std::vector{port(0, 80)}).size() == 1);

    // Bad ranges are refused when the publisher is made.
    PublisherOptions backwards;
    backwards.automatic_ports = {50000, 40000};
    CHECK(error_of([&] { publisher_on(test::share(fake), backwards); }).code() == errc::invalid_argument);
}

TEST_CASE("a dual-stack port asking for 0 gets one number on both families", "[automatic][ipv6]")
{
    FakeBackend fake;
    PublisherOptions options;
    options.automatic_ports = {41000, 41001};
    auto publisher = publisher_on(test::share(fake), options);
    // 41000 is taken on IPv6 only: the dual-stack port cannot have it.
    publisher.publish_ports("v6", "fd00:88::9", std::vector{port(41000, 80)});
    const auto published =
        publisher.publish_ports("dual", ContainerAddresses{"10.88.0.2", "fd00:88::2"}, std::vector{port(0, 80)});
    REQUIRE(published.size() == 1);
    CHECK(published[0].host_port == 41001);
    CHECK(published[0].host_ip.empty());
}

TEST_CASE("requests of one batch asking for 0 get distinct ports", "[automatic][engine]")
{
    FakeBackend fake;
    PublisherOptions options;
    options.automatic_ports = {42000, 42009};
    auto engine = engine_on(test::share(fake), options);
    std::vector<std::vector<PortMapping>> results(10);
    std::vector<std::exception_ptr> errors(11);
    for (std::size_t i = 0; i <= 10; ++i)
        engine.publish_ports("t" + std::to_string(i), "10.88.0." + std::to_string(i + 2), std::vector{port(0, 80)},
                             [&, i](std::exception_ptr error, std::vector<PortMapping> ports) {
                                 errors[i] = error;
                                 if (i < results.size())
                                     results[i] = std::move(ports);
                             });
    do {
        const auto wait = engine.run();
        if (wait.until)
            std::this_thread::sleep_until(*wait.until);
    } while (engine.busy());
    std::set<std::uint16_t> chosen;
    for (std::size_t i = 0; i < results.size(); ++i) {
        INFO(i);
        CHECK_FALSE(errors[i]);
        REQUIRE(results[i].size() == 1);
        chosen.insert(results[i][0].host_port);
    }
    CHECK(chosen.size() == 10);
    // The eleventh finds the range full.
    REQUIRE(errors[10]);
    CHECK(error_of([&] { std::rethrow_exception(errors[10]); }).code() == errc::port_conflict);
    CHECK(fake.commit_attempts() == 1);
}

TEST_CASE("a port a socket of the host listens on is refused, unless the check is off", "[sockets]")
{
    FakeBackend fake;
    netlink::SocketEntry listening;
    listening.protocol = Protocol::tcp;
    listening.address = layout::any_address(Family::ip);
    listening.port = 8080;
    netlink::SocketEntry dual_stack = listening;  // [::]:9090 without IPV6_V6ONLY takes IPv4 too
    dual_stack.address = layout::any_address(Family::ip6);
    dual_stack.port = 9090;
    dual_stack.ipv6_socket = true;
    fake.set_sockets({listening, dual_stack});

    auto publisher = publisher_on(test::share(fake));
    const auto commits = fake.commit_attempts();
    for (const std::uint16_t taken : {8080, 9090}) {
        INFO(taken);
        const auto error = error_of([&] { publisher.publish_ports("web", "10.88.0.2", std::vector{port(taken, 80)}); });
        CHECK(error.code() == errc::port_conflict);
        CHECK(error.kernel_errno() == EADDRINUSE);
        CHECK_THAT(error.what(), Catch::Contains("tcp socket listening on") && Catch::Contains(std::to_string(taken)));
    }
    CHECK(fake.commit_attempts() == commits);
    // Another protocol, or another port, is not the socket's.
    CHECK_NOTHROW(publisher.publish_ports("dns", "10.88.0.3", std::vector{port(8080, 53, Protocol::udp)}));
    // Automatic ports never land on a socket's port.
    PublisherOptions narrow;
    narrow.automatic_ports = {9090, 9091};
    auto chooser = publisher_on(test::share(fake), narrow);
    CHECK(chooser.publish_ports("auto", "10.88.0.4", std::vector{port(0, 80)})[0].host_port == 9091);

    // With the check off the port is published over the socket's; once published it is not checked again.
    PublisherOptions unchecked;
    unchecked.check_listening_sockets = false;
    auto bold = publisher_on(test::share(fake), unchecked);
    CHECK_NOTHROW(bold.publish_ports("web", "10.88.0.2", std::vector{port(8080, 80)}));
    CHECK_NOTHROW(publisher.publish_ports("web", "10.88.0.2", std::vector{port(8080, 80), port(8081, 81)}));
}
