// SPDX-License-Identifier: Apache-2.0
// A transaction offers only the verb and object pairs that every backend implements.
#include "ruleset/transaction.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace warren::nft::ruleset;

namespace {

template <typename T>
constexpr bool can_create = requires(Transaction tx, T object)
{
    tx.create(object);
};
template <typename T>
constexpr bool can_remove = requires(Transaction tx, T object)
{
    tx.remove(object);
};
template <typename T>
constexpr bool can_flush = requires(Transaction tx, T object)
{
    tx.flush(object);
};

}  // namespace

TEST_CASE("rules can only be added: the kernel deletes them by handle, and EXCL means nothing to them", "[transaction]")
{
    STATIC_REQUIRE(can_create<Table>);
    STATIC_REQUIRE(can_create<Chain>);
    STATIC_REQUIRE(can_create<Set>);
    STATIC_REQUIRE(can_create<Element>);
    STATIC_REQUIRE_FALSE(can_create<Rule>);

    STATIC_REQUIRE(can_remove<Table>);
    STATIC_REQUIRE(can_remove<Chain>);
    STATIC_REQUIRE(can_remove<Set>);
    STATIC_REQUIRE(can_remove<Element>);
    STATIC_REQUIRE_FALSE(can_remove<Rule>);

    STATIC_REQUIRE(can_flush<Chain>);
    STATIC_REQUIRE_FALSE(can_flush<Table>);
    STATIC_REQUIRE_FALSE(can_flush<Set>);
    STATIC_REQUIRE_FALSE(can_flush<Rule>);

    Transaction tx(Table{Family::ip, "t"});
    tx.add(Rule{}).remove(Element{});
    REQUIRE(tx.operations().size() == 2);
    CHECK(tx.operations()[0].verb == Verb::add);
    CHECK(tx.operations()[1].verb == Verb::remove);

    // Operations copied from elsewhere are checked when appended.
    CHECK_THROWS_AS(tx.append(Operation{Verb::remove, Rule{"prerouting", {}, ""}}), std::invalid_argument);
    CHECK_THROWS_AS(tx.append(Operation{Verb::create, Rule{"prerouting", {}, ""}}), std::invalid_argument);
    CHECK_THROWS_AS(tx.append(Operation{Verb::flush, Set{}}), std::invalid_argument);
    tx.append(Operation{Verb::flush, Chain{}});
    CHECK(tx.operations().size() == 3);
}
