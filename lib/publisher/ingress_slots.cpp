// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_slots.hpp"

#include <warren/nft/error.hpp>

#include <algorithm>
#include <map>
#include <numeric>
#include <string>

namespace warren::nft::ingress {

namespace {

[[noreturn]] void refuse(std::string message) { throw Error(errc::invalid_argument, std::move(message)); }

void check(const std::vector<WeightedBackend>& active)
{
    if (active.empty())
        refuse("an ingress port needs at least one active backend");
    if (active.size() > max_active_backends)
        refuse("an ingress port has at most " + std::to_string(max_active_backends) + " active backends, not " +
               std::to_string(active.size()));
    std::vector<BackendKey> keys;
    for (const auto& backend : active) {
        if (backend.weight < 1 || backend.weight > max_weight)
            refuse("backend " + layout::display(backend.key.address) + " has weight " + std::to_string(backend.weight) +
                   "; give 1-" + std::to_string(max_weight));
        keys.push_back(backend.key);
    }
    std::sort(keys.begin(), keys.end());
    const auto twice = std::adjacent_find(keys.begin(), keys.end());
    if (twice != keys.end())
        refuse("backend " + layout::display(twice->address) + " port " + std::to_string(twice->port) + " is given twice");
}

}  // namespace

std::vector<std::uint32_t> slot_shares(const std::vector<WeightedBackend>& active)
{
    check(active);
    const std::uint32_t slot_count = slot_count_for(active.size());
    // Largest remainders on the weights: each backend's exact share is slot_count * weight / total;
    // it gets the whole part, and the slots left go to the largest fractions (ties to the smaller key).
    const std::uint64_t total = std::accumulate(active.begin(), active.end(), std::uint64_t{0},
                                                [](std::uint64_t sum, const WeightedBackend& b) { return sum + b.weight; });
    std::vector<std::uint32_t> shares(active.size());
    std::vector<std::uint64_t> remainders(active.size());  // fractions of `total`
    std::uint64_t given = 0;
    for (std::size_t i = 0; i < active.size(); ++i) {
        const std::uint64_t exact = std::uint64_t{slot_count} * active[i].weight;
        shares[i] = static_cast<std::uint32_t>(exact / total);
        remainders[i] = exact % total;
        given += exact / total;
    }
    std::vector<std::size_t> order(active.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return remainders[a] != remainders[b] ? remainders[a] > remainders[b] : active[a].key < active[b].key;
    });
    for (std::uint64_t i = 0; i < slot_count - given; ++i)
        ++shares[order[i]];
    // A backend left without a slot (its exact share below one) would get no connections at all:
    // it gets one, taken from the backend with the most (ties to the larger key). With at most
    // slot_count backends one always has two or more while another has none.
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return active[a].key < active[b].key; });
    for (const auto i : order) {
        if (shares[i] > 0)
            continue;
        const auto largest = std::max_element(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return shares[a] != shares[b] ? shares[a] < shares[b] : active[a].key < active[b].key;
        });
        --shares[*largest];
        shares[i] = 1;
    }
    return shares;
}

Slots assign_slots(const Slots& current, const std::vector<WeightedBackend>& active)
{
    const auto shares = slot_shares(active);
    std::map<BackendKey, std::uint32_t> wanted;
    for (std::size_t i = 0; i < active.size(); ++i)
        wanted[active[i].key] = shares[i];

    Slots slots = current;
    slots.resize(slot_count_for(active.size()));
    std::vector<std::size_t> freed;
    for (std::size_t slot = 0; slot < slots.size(); ++slot) {
        auto& backend = slots[slot];
        const auto found = backend ? wanted.find(*backend) : wanted.end();
        if (found != wanted.end() && found->second > 0) {
            --found->second;
            continue;
        }
        backend.reset();
        freed.push_back(slot);
    }
    auto next = freed.begin();
    for (auto& [key, missing] : wanted)
        for (; missing > 0; --missing)
            slots[*next++] = key;
    return slots;
}

}  // namespace warren::nft::ingress
