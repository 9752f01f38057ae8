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
