// SPDX-License-Identifier: Apache-2.0
// The slots of an ingress port: shared by weight, and moved as little as possible when the active
// backends change (docs/ingress.md).
#include "publisher/ingress_slots.hpp"

#include <catch2/catch.hpp>

#include "error_of.hpp"

#include <algorithm>
#include <map>

using namespace warren::nft;
using namespace warren::nft::ingress;
using warren::nft::test::error_of;

namespace {

BackendKey backend(std::uint8_t last, std::uint16_t port = 80)
{
    auto address = layout::parse_address("10.88.0." + std::to_string(last));
    REQUIRE(address);
    return BackendKey{*address, port};
}

std::map<BackendKey, std::uint32_t> counts(const Slots& slots)
{
    std::map<BackendKey, std::uint32_t> out;
    for (const auto& slot : slots) {
        REQUIRE(slot);
        ++out[*slot];
    }
    return out;
}

std::uint32_t changed(const Slots& before, const Slots& after)
{
    std::uint32_t n = 0;
    for (std::size_t slot = 0; slot < narrow_slot_count; ++slot)
        n += before[slot] != after[slot] ? 1 : 0;
    return n;
}

}  // namespace

TEST_CASE("slot shares follow the weights by largest remainders, at least one each, all slots given", "[ingress]")
{
    CHECK(slot_shares({{backend(5), 1}, {backend(6), 1}, {backend(7), 1}}) == std::vector<std::uint32_t>{86, 85, 85});
    // The order given does not decide which backend gets the odd slot: the smaller key does.
    CHECK(slot_shares({{backend(7), 1}, {backend(6), 1}, {backend(5), 1}}) == std::vector<std::uint32_t>{85, 85, 86});
    CHECK(slot_shares({{backend(5), 1}, {backend(6), 1}, {backend(7), 2}}) == std::vector<std::uint32_t>{64, 64, 128});
    CHECK(slot_shares({{backend(5), 1}}) == std::vector<std::uint32_t>{256});
    CHECK(slot_shares({{backend(5), 1}, {backend(6), 3}}) == std::vector<std::uint32_t>{64, 192});
    // 256/257 of a slot is the largest fraction: one slot by the remainders, none taken.
    CHECK(slot_shares({{backend(5), 1}, {backend(6), 256}}) == std::vector<std::uint32_t>{1, 255});
    // 0.499 slots get none by the remainders (127.75 twice get the two left): one is taken from the
    // largest, the larger key of the two.
    CHECK(slot_shares({{backend(5), 1}, {backend(6), 256}, {backend(7), 256}}) == std::vector<std::uint32_t>{1, 128, 127});
    CHECK(slot_shares({{backend(7), 256}, {backend(6), 256}, {backend(5), 1}}) == std::vector<std::uint32_t>{127, 128, 1});

    std::vector<WeightedBackend> most;
    for (std::uint32_t i = 0; i < narrow_slot_count; ++i)
        most.push_back({backend(1, static_cast<std::uint16_t>(1000 + i)), 1 + i % 3});
    const auto shares = slot_shares(most);
    CHECK(std::all_of(shares.begin(), shares.end(), [](std::uint32_t share) { return share == 1; }));
}

TEST_CASE("slot shares refuse no backends, too many, bad weights and a backend given twice", "[ingress]")
{
    CHECK(error_of([] { slot_shares({}); }).code() == errc::invalid_argument);
    CHECK(error_of([] { slot_shares({{backend(5), 0}}); }).code() == errc::invalid_argument);
    CHECK(error_of([] { slot_shares({{backend(5), max_weight + 1}}); }).code() == errc::invalid_argument);
    const auto twice = error_of([] { slot_shares({{backend(5), 1}, {backend(6), 1}, {backend(5), 2}}); });
    CHECK(twice.code() == errc::invalid_argument);
    CHECK_THAT(twice.what(), Catch::Contains("10.88.0.5") && Catch::Contains("twice"));
    // The same address on another port is another backend.
    CHECK(slot_shares({{backend(5, 80), 1}, {backend(5, 81), 1}}) == std::vector<std::uint32_t>{128, 128});
    std::vector<WeightedBackend> too_many;
    for (std::uint32_t i = 0; i <= max_active_backends; ++i)
        too_many.push_back({backend(1, static_cast<std::uint16_t>(1000 + i)), 1});
    CHECK(error_of([&] { slot_shares(too_many); }).code() == errc::invalid_argument);
}

TEST_CASE("a new port's slots are all given, each backend its share", "[ingress]")
{
    const std::vector<WeightedBackend> active{{backend(5), 1}, {backend(6), 1}, {backend(7), 2}};
    const auto slots = assign_slots({}, active);
    REQUIRE(slots.size() == narrow_slot_count);
    CHECK(counts(slots) == std::map<BackendKey, std::uint32_t>{{backend(5), 64}, {backend(6), 64}, {backend(7), 128}});
}

TEST_CASE("changing the backends moves only the slots that must move", "[ingress]")
{
    const auto three = assign_slots({}, {{backend(5), 1}, {backend(6), 1}, {backend(7), 1}});

    SECTION("unchanged backends, in another order: nothing moves")
    {
        CHECK(assign_slots(three, {{backend(7), 1}, {backend(5), 1}, {backend(6), 1}}) == three);
    }
    SECTION("a backend removed or drained: only its slots move, to the others")
    {
        const auto two = assign_slots(three, {{backend(5), 1}, {backend(7), 1}});
        CHECK(counts(two) == std::map<BackendKey, std::uint32_t>{{backend(5), 128}, {backend(7), 128}});
        CHECK(changed(three, two) == 85);
        for (std::size_t slot = 0; slot < narrow_slot_count; ++slot)
            if (three[slot] != backend(6))
                CHECK(two[slot] == three[slot]);
    }
    SECTION("a backend added: it takes slots from the others' excess only")
    {
        const auto four = assign_slots(three, {{backend(5), 1}, {backend(6), 1}, {backend(7), 1}, {backend(8), 1}});
        CHECK(counts(four) ==
              std::map<BackendKey, std::uint32_t>{{backend(5), 64}, {backend(6), 64}, {backend(7), 64}, {backend(8), 64}});
        // 86 + 85 + 85 down to 64 each: 64 slots move, all of them to the new backend.
        CHECK(changed(three, four) == 64);
        for (std::size_t slot = 0; slot < narrow_slot_count; ++slot)
            if (four[slot] != three[slot])
                CHECK(four[slot] == backend(8));
    }
    SECTION("a weight raised: the slots move to that backend only")
    {
        const auto weighted = assign_slots(three, {{backend(5), 1}, {backend(6), 1}, {backend(7), 2}});
        CHECK(counts(weighted) == std::map<BackendKey, std::uint32_t>{{backend(5), 64}, {backend(6), 64}, {backend(7), 128}});
        CHECK(changed(three, weighted) == 43);
    }
}

TEST_CASE("damaged slots (missing, or of a backend not active) are given again, the rest kept", "[ingress]")
{
    auto slots = assign_slots({}, {{backend(5), 1}, {backend(6), 1}});
    auto damaged = slots;
    damaged[3].reset();
    damaged[200] = backend(9);
    const auto repaired = assign_slots(damaged, {{backend(5), 1}, {backend(6), 1}});
    CHECK(repaired == slots);
    damaged.resize(100);  // slots missing at the end
    CHECK(assign_slots(damaged, {{backend(5), 1}, {backend(6), 1}}) == slots);
}

namespace {

// `count` backends of weight 1 on one address, told apart by their ports 1000 and up.
std::vector<WeightedBackend> many(std::uint32_t count)
{
    std::vector<WeightedBackend> out;
    for (std::uint32_t i = 0; i < count; ++i)
        out.push_back({backend(1, static_cast<std::uint16_t>(1000 + i)), 1});
    return out;
}

}  // namespace

TEST_CASE("a port of more than 256 active backends is wide: 4,096 slots shared by weight", "[ingress][wide]")
{
    CHECK(slot_count_for(1) == narrow_slot_count);
    CHECK(slot_count_for(narrow_slot_count) == narrow_slot_count);
    CHECK(slot_count_for(narrow_slot_count + 1) == wide_slot_count);
    CHECK(slot_count_for(max_active_backends) == wide_slot_count);

    // 1,000 equal backends: 4 slots each and 96 left, to the 96 smallest keys.
    const auto shares = slot_shares(many(1000));
    CHECK(std::count(shares.begin(), shares.end(), 5u) == 96);
    CHECK(std::count(shares.begin(), shares.end(), 4u) == 904);
    CHECK(std::all_of(shares.begin(), shares.begin() + 96, [](std::uint32_t share) { return share == 5; }));
    // As many backends as slots: one each.
    const auto full = slot_shares(many(max_active_backends));
    CHECK(std::all_of(full.begin(), full.end(), [](std::uint32_t share) { return share == 1; }));
    // Weights on a wide port: 1:2 over 300 backends, the error below one slot of 4,096 each.
    auto weighted = many(300);
    for (std::size_t i = 0; i < weighted.size(); i += 2)
        weighted[i].weight = 2;
    const auto weighted_shares = slot_shares(weighted);
    for (std::size_t i = 0; i < weighted.size(); ++i) {
        const double exact = 4096.0 * weighted[i].weight / 450.0;
        CHECK(std::abs(weighted_shares[i] - exact) < 1.0);
    }
}

TEST_CASE("a port that becomes wide keeps its slots below 256; one that becomes narrow loses the rest", "[ingress][wide]")
{
    const auto narrow = assign_slots({}, many(narrow_slot_count));
    REQUIRE(narrow.size() == narrow_slot_count);

    auto backends = many(narrow_slot_count + 44);
    const auto wide = assign_slots(narrow, backends);
    REQUIRE(wide.size() == wide_slot_count);
    const auto wide_counts = counts(wide);
    CHECK(wide_counts.size() == 300);
    for (const auto& [key, count] : wide_counts)
        CHECK((count == 13 || count == 14));  // 4096 / 300 = 13.65
    // Each of the 256 first backends keeps its one slot below 256: none of those slots moves.
    CHECK(std::equal(narrow.begin(), narrow.end(), wide.begin()));

    // Back to the 256 first backends: each keeps its lowest slot, the one it holds below 256, and
    // the slots from 256 up are dropped.
    backends.resize(narrow_slot_count);
    const auto again = assign_slots(wide, backends);
    REQUIRE(again.size() == narrow_slot_count);
    CHECK(counts(again).size() == narrow_slot_count);
    std::uint32_t kept = 0;
    for (std::size_t slot = 0; slot < narrow_slot_count; ++slot)
        kept += again[slot] == wide[slot] ? 1 : 0;
    CHECK(kept == narrow_slot_count);
}
