// SPDX-License-Identifier: Apache-2.0
// How an ingress port's slots are shared among its active backends (docs/ingress.md): in proportion
// to their weights, and, when the backends change, by moving as few slots as possible.
#pragma once

#include "publisher/address.hpp"

#include <compare>
#include <cstdint>
#include <optional>
#include <vector>

namespace warren::nft::ingress {

// The slots of one ingress port: the modulus of the DNAT rule's `numgen random`.
inline constexpr std::uint32_t slot_count = 256;
// A weight is 1 to this; with at least one slot each, a port has at most slot_count active backends.
inline constexpr std::uint32_t max_weight = slot_count;

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

// The number of slots of each backend, in the order given, slot_count in all: proportional to the
// weights by largest remainders (ties to the smaller key); a backend whose exact share is below one
// slot and got none gets one, taken from the backend with the most (ties to the larger key). Refuses (Error,
// errc::invalid_argument) no backends, more than slot_count, a weight outside 1..max_weight and a
// backend given twice.
std::vector<std::uint32_t> slot_shares(const std::vector<WeightedBackend>& active);

// The slots after the active backends become `active`, from `current` (slot_count entries, or none
// for a new port): each backend keeps its lowest slots up to its share, and only the slots freed
// (of backends no longer active, or beyond a backend's share) change, lowest first to the backends
// below their share in key order.
Slots assign_slots(const Slots& current, const std::vector<WeightedBackend>& active);

}  // namespace warren::nft::ingress
