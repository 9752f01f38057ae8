// SPDX-License-Identifier: Apache-2.0
// How an ingress port's slots are shared among its active backends (docs/ingress.md): in proportion
// to their weights, and, when the backends change, by moving as few slots as possible.
#pragma once

#include "publisher/address.hpp"

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace warren::nft::ingress {

// The slots of one ingress port: 256 while it has at most 256 active backends, 4,096 beyond that
// (a wide port), each count the modulus of one DNAT rule's `numgen random`. The wide ports' rule
// comes first: a narrow port misses its slots 256 and up and is DNATed by the next rule.
inline constexpr std::uint32_t narrow_slot_count = 256;
inline constexpr std::uint32_t wide_slot_count = 4096;
// The moduli of the DNAT rules, in the order of the rules.
inline constexpr std::array<std::uint32_t, 2> slot_counts{wide_slot_count, narrow_slot_count};
// With at least one slot each, a port has at most this many active backends.
inline constexpr std::uint32_t max_active_backends = wide_slot_count;
// A weight is 1 to this.
inline constexpr std::uint32_t max_weight = narrow_slot_count;

// The slots of a port with that many active backends.
constexpr std::uint32_t slot_count_for(std::size_t active_backends)
{
    return active_backends <= narrow_slot_count ? narrow_slot_count : wide_slot_count;
}

struct BackendKey {
    layout::Address address;
    std::uint16_t port = 0;
    friend auto operator<=>(const BackendKey&, const BackendKey&) = default;
};

struct WeightedBackend {
    BackendKey key;
    std::uint32_t weight = 1;
};

// What each slot of a port sends to; nullopt for a slot without a backend (none before a publish).
using Slots = std::vector<std::optional<BackendKey>>;

// The number of slots of each backend, in the order given, slot_count_for(active.size()) in all: proportional to the
// weights by largest remainders (ties to the smaller key); a backend whose exact share is below one
// slot and got none gets one, taken from the backend with the most (ties to the larger key). Refuses (Error,
// errc::invalid_argument) no backends, more than max_active_backends, a weight outside 1..max_weight and a
// backend given twice.
std::vector<std::uint32_t> slot_shares(const std::vector<WeightedBackend>& active);

// The slots after the active backends become `active` (slot_count_for(active.size()) entries), from
// `current` (a port's slots, or none for a new port; those past the new count are dropped): each
// backend keeps its lowest slots up to its share, and only the slots freed
// (of backends no longer active, or beyond a backend's share) change, lowest first to the backends
// below their share in key order.
Slots assign_slots(const Slots& current, const std::vector<WeightedBackend>& active);

}  // namespace warren::nft::ingress
