// SPDX-License-Identifier: Apache-2.0
// The access policies' objects through KernelBackend: a set of concatenated ranges, a dynamic set
// whose elements carry ct count and limit, rules that update it and jump; read back as written,
// listed by nft as nft would write them, and reloaded by nft from its own listing.
#include "support.hpp"

#include "netlink/kernel_backend.hpp"
#include "publisher/repair.hpp"

#include "../unit/policy_objects.hpp"

#include <algorithm>
#include <cerrno>

#include <unistd.h>

using namespace kt;
using namespace warren::nft::test::policy;
using KernelBackendImpl = warren::nft::netlink::KernelBackend;  // kt::KernelBackend is a backends element

namespace {

const std::vector<std::string> chains = {"police", "prerouting"};
const std::vector<std::string> element_sets = {"policed", "allowed"};

std::vector<Element> sorted(std::vector<Element> elements)
{
    std::sort(elements.begin(), elements.end(), [](const Element& a, const Element& b) { return a.key < b.key; });
    return elements;
}

// The kernel's errno for a transaction of one element operation; 0 when it was applied.
int errno_of(KernelBackendImpl& backend, Family family, Verb verb, Element element)
{
    Transaction tx(table(family));
    tx.append(Operation{verb, std::move(element)});
    try {
        backend.commit(tx, std::nullopt);
    } catch (const Error& e) {
        return e.kernel_errno();
    }
    return 0;
}

const char* family_name(Family family) { return family == Family::ip ? "ip" : "ip6"; }

std::string listed(Family family) { return nft({"list", "table", family_name(family), table(family).name}); }

std::vector<Element> elements_of(KernelBackendImpl& backend, Family family, const std::string& set)
{
    return sorted(backend.snapshot(table(family), chains, element_sets).elements.at(set));
}

// What create_all(family, dynamic) wrote, as the kernel should hold it.
void check_read_back(KernelBackendImpl& backend, Family family, bool dynamic = false)
{
    const auto snap = backend.snapshot(table(family), chains, element_sets);
    REQUIRE(snap.exists);
    CHECK(snap.sets.at("policed") == (dynamic ? policed_dynamic() : policed_as_bound()).shape());
    CHECK(snap.sets.at("allowed") == allowed(family).shape());
    CHECK(sorted(snap.elements.at("policed")) == sorted(policed_elements(!dynamic)));
    CHECK(sorted(snap.elements.at("allowed")) == sorted(allowed_elements(family)));
    CHECK(snap.rules.at("police") == std::vector<Rule>{as_reported(police_rule(family)), as_reported(drop_rule())});
    CHECK(snap.rules.at("prerouting") == std::vector<Rule>{as_reported(jump_rule())});
}

// Waits up to `seconds` for `done`; returns whether it came.
template <typename Done>
bool within(int seconds, Done done)
{
    for (int tenth = 0; tenth < seconds * 10; ++tenth) {
        if (done())
            return true;
        usleep(100'000);
    }
    return done();
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "policy objects read back as written, and nft lists them as nft writes them", "[policy-objects]")
{
    KernelBackendImpl backend;
    for (const Family family : {Family::ip, Family::ip6})
        backend.commit(create_all(family), std::nullopt);
    for (const Family family : {Family::ip, Family::ip6})
        check_read_back(backend, family);

    const auto ip = listed(Family::ip);
    INFO(ip);
    CHECK_THAT(ip, Catch::Contains("type inet_proto . inet_service . ipv4_addr"));
    CHECK_THAT(ip, Catch::Contains("flags interval"));
    CHECK_THAT(ip, Catch::Contains("tcp . 8080 . 10.0.0.0/8"));
    CHECK_THAT(ip, Catch::Contains("tcp . 8080 . 192.168.1.7"));
    CHECK_THAT(ip, Catch::Contains("udp . 53 . 0.0.0.0/0"));
    CHECK_THAT(ip, Catch::Contains("tcp . 8080 ct count 2 limit rate 5/second"));
    CHECK_THAT(ip, Catch::Contains("udp . 53 limit rate over 100/minute burst 10 packets"));
    CHECK_THAT(ip, Catch::Contains("tcp . 443 ct count over 7"));
    CHECK_THAT(ip,
               Catch::Contains("meta l4proto . th dport . ip saddr @allowed update @policed { meta l4proto . th dport } return"));
    CHECK_THAT(ip, Catch::Contains("meta l4proto . th dport @policed jump police"));
    const auto ip6 = listed(Family::ip6);
    INFO(ip6);
    CHECK_THAT(ip6, Catch::Contains("tcp . 8080 . 2001:db8::/32"));
    CHECK_THAT(ip6, Catch::Contains("udp . 53 . ::/0"));
    CHECK_THAT(ip6, Catch::Contains("ip6 saddr @allowed update @policed"));
}

TEST_CASE_METHOD(FreshNetns, "a table with a dynamic set reads back as written after nft reloads its own listing",
                 "[policy-objects]")
{
    KernelBackendImpl backend;
    for (const Family family : {Family::ip, Family::ip6})
        backend.commit(create_all(family, true), std::nullopt);
    for (const Family family : {Family::ip, Family::ip6})
        check_read_back(backend, family, true);
    CHECK_THAT(listed(Family::ip), Catch::Contains("flags dynamic"));

    const auto before = ruleset();
    nft({"flush", "ruleset"});
    nft_script(before);
    CHECK(ruleset() == before);
    for (const Family family : {Family::ip, Family::ip6}) {
        const auto snap = backend.snapshot(table(family), chains, element_sets);
        CHECK(snap.sets.at("policed") == policed_dynamic().shape());
        CHECK(sorted(snap.elements.at("policed")) == sorted(policed_elements(false)));
        CHECK(sorted(snap.elements.at("allowed")) == sorted(allowed_elements(family)));
    }
}

TEST_CASE_METHOD(FreshNetns, "the kernel collects ct count elements without connections from a dynamic set, not from a plain one",
                 "[policy-objects]")
{
    // Both tables at once: the ip table's set is plain, the ip6 table's dynamic.
    KernelBackendImpl backend;
    backend.commit(create_all(Family::ip), std::nullopt);
    backend.commit(create_all(Family::ip6, true), std::nullopt);
    Transaction counted(table(Family::ip6));
    counted.create(policed_element(l4_tcp, 443, {expr::ConnLimit{7, true}}, ""));
    backend.commit(counted, std::nullopt);
    CHECK(elements_of(backend, Family::ip6, "policed").size() == 3);
    // The garbage collector runs about every second.
    CHECK(within(10, [&] { return elements_of(backend, Family::ip6, "policed") == sorted(policed_elements(false)); }));
    CHECK(elements_of(backend, Family::ip, "policed") == sorted(policed_elements()));
}

TEST_CASE_METHOD(FreshNetns, "elements of ranges and with expressions are deleted and refused as the kernel does",
                 "[policy-objects]")
{
    KernelBackendImpl backend;
    for (const Family family : {Family::ip, Family::ip6})
        backend.commit(create_all(family), std::nullopt);
    const auto ten = allowed_element(l4_tcp, 8080, cidr(v4(10, 0, 0, 0), 8));

    SECTION("the same range again: EEXIST when created, nothing when added")
    {
        CHECK(errno_of(backend, Family::ip, Verb::create, ten) == EEXIST);
        CHECK(errno_of(backend, Family::ip, Verb::add, ten) == 0);
        check_read_back(backend, Family::ip);
    }
    SECTION("a range that starts or ends in another is refused, and changes nothing")
    {
        // 6.18 answers EEXIST; 6.1 answers a range that starts in another 0 when it is added
        // without EXCL, and leaves the set as it was all the same.
        const auto inner = allowed_element(l4_tcp, 8080, cidr(v4(10, 1, 0, 0), 16));
        const int added = errno_of(backend, Family::ip, Verb::add, inner);
        CHECK((added == EEXIST || added == 0));
        CHECK(errno_of(backend, Family::ip, Verb::create, inner) == EEXIST);
        auto ends_inside = allowed_element(l4_tcp, 8080, cidr(v4(9, 0, 0, 0), 8));
        ends_inside.key_end = source_key(l4_tcp, 8080, v4(10, 0, 0, 5));
        CHECK(errno_of(backend, Family::ip, Verb::add, ends_inside) == EEXIST);
        check_read_back(backend, Family::ip);
        CHECK(errno_of(backend, Family::ip, Verb::add, allowed_element(l4_tcp, 8081, cidr(v4(10, 0, 0, 0), 8))) == 0);
    }
    SECTION("a range that ends before it starts is EINVAL; a key end in a set without ranges too")
    {
        auto backwards = allowed_element(l4_tcp, 9999, cidr(v4(10, 0, 0, 0), 8));
        std::swap(backwards.key, backwards.key_end);
        CHECK(errno_of(backend, Family::ip, Verb::add, backwards) == EINVAL);
        auto ranged_service = policed_element(l4_tcp, 9, {});
        ranged_service.key_end = service_key(l4_tcp, 10);
        CHECK(errno_of(backend, Family::ip, Verb::add, ranged_service) == EINVAL);
    }
    SECTION("a removal removes the range that holds its key, whatever key end it names")
    {
        // Observed on 6.1 and 6.18: the kernel looks the element up by its first key only.
        auto inner = allowed_element(l4_tcp, 8080, cidr(v4(10, 5, 0, 0), 16));
        CHECK(errno_of(backend, Family::ip, Verb::remove, inner) == 0);
        CHECK(errno_of(backend, Family::ip, Verb::remove, ten) == ENOENT);
        auto outside = allowed_element(l4_tcp, 8080, cidr(v4(11, 0, 0, 0), 8));
        CHECK(errno_of(backend, Family::ip, Verb::remove, outside) == ENOENT);
        const auto left = elements_of(backend, Family::ip, "allowed");
        CHECK(std::find(left.begin(), left.end(), ten) == left.end());
        CHECK(left.size() == allowed_elements(Family::ip).size() - 1);
    }
    SECTION("ranges and elements with expressions are removed, and nft no longer lists them")
    {
        Transaction tx(table(Family::ip));
        for (const auto& element : allowed_elements(Family::ip))
            tx.remove(element);
        for (const auto& element : policed_elements())
            tx.remove(element);
        backend.commit(tx, std::nullopt);
        CHECK(elements_of(backend, Family::ip, "allowed").empty());
        CHECK(elements_of(backend, Family::ip, "policed").empty());
        // The other family's are still there.
        check_read_back(backend, Family::ip6);
        const auto ip = listed(Family::ip);
        CHECK_THAT(ip, !Catch::Contains("10.0.0.0/8"));
        CHECK_THAT(ip, !Catch::Contains("ct count"));
    }
    SECTION("an element is replaced, expressions and all, by a removal and an addition in one transaction")
    {
        auto changed = policed_elements().front();
        changed.expressions = {expr::ConnLimit{20}, expr::Limit{50, 3600, 50}};
        Transaction tx(table(Family::ip));
        tx.remove(policed_elements().front()).create(changed);
        backend.commit(tx, std::nullopt);
        const auto read = elements_of(backend, Family::ip, "policed");
        CHECK(std::count(read.begin(), read.end(), changed) == 1);
        CHECK_THAT(listed(Family::ip), Catch::Contains("tcp . 8080 ct count 20 limit rate 50/hour burst 50 packets"));
    }
}

TEST_CASE_METHOD(FreshNetns, "a set without a size gets 65535 when a rule updates it; a plain set with one takes no expressions",
                 "[policy-objects]")
{
    KernelBackendImpl backend;
    for (const bool dynamic : {false, true}) {
        auto unsized = dynamic ? policed_dynamic() : policed();
        unsized.size = 0;
        Transaction tx(table(Family::ip));
        tx.add(table(Family::ip)).add(unsized).add(police());
        backend.commit(tx, std::nullopt);
        CHECK(backend.snapshot(table(Family::ip), {}, {}).sets.at("policed").size == 0);
        Rule rule{"police", load_service(), ""};
        rule.expressions.push_back(expr::Dynset{"policed", 0, Reg::r1});
        Transaction bind(table(Family::ip));
        bind.add(rule);
        backend.commit(bind, std::nullopt);
        CHECK(backend.snapshot(table(Family::ip), {}, {}).sets.at("policed").size == 65535);
        Transaction clean(table(Family::ip));
        clean.remove(table(Family::ip));
        backend.commit(clean, std::nullopt);
    }
    // The kernel picks another kind of hash for a set with a size that may not change from the
    // packet path: it refuses element expressions.
    auto sized = policed();
    sized.size = 1000;
    Transaction tx(table(Family::ip));
    tx.add(table(Family::ip)).add(sized);
    tx.create(policed_elements().front());
    CHECK_THROWS_AS(backend.commit(tx, std::nullopt), Error);
    try {
        backend.commit(tx, std::nullopt);
    } catch (const Error& e) {
        CHECK(e.kernel_errno() == EOPNOTSUPP);
    }
}

TEST_CASE_METHOD(FreshNetns, "the layout's fixed rules read back as written, whatever the options", "[policy-objects]")
{
    namespace layout = warren::nft::layout;
    KernelBackendImpl backend;
    for (const bool counting : {false, true}) {
        // Without counting, the rules look keys up in maps without their values, which kernels
        // without map lookups refuse (KernelFeatures::map_lookups).
        if (!counting && !backend.features().map_lookups)
            continue;
        for (const Family family : {Family::ip, Family::ip6}) {
            const layout::RuleOptions options{counting, warren::nft::Masquerading::always, true};
            const auto& shape = layout::layout_of(family);
            const auto tx = layout::ensure_transaction(shape, backend.snapshot(shape.table, {}, {}), true, options);
            REQUIRE(tx);
            backend.commit(*tx, std::nullopt);
            const auto snap = backend.snapshot(shape.table, layout::chain_names(family), {});
            for (const auto& fixed : layout::fixed_chains(shape, options)) {
                INFO(display_name(shape.table) << " chain " << fixed.chain.name << (counting ? ", counting" : ""));
                std::vector<Rule> written;
                for (const auto& rule : fixed.rules)
                    written.push_back(as_reported(rule));
                const auto read = snap.rules.find(fixed.chain.name);
                CHECK((read == snap.rules.end() ? std::vector<Rule>{} : read->second) == written);
            }
        }
    }
}
