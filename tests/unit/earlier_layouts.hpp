// SPDX-License-Identifier: Apache-2.0
// Tables as earlier versions wrote them, made from a table the current layout wrote in the fake.
#pragma once

#include "publisher/ingress_slots.hpp"
#include "publisher/schema.hpp"
#include "ruleset/fake_backend.hpp"

#include <algorithm>
#include <variant>

namespace warren::nft::test {

inline bool looks_up(const ruleset::Rule& rule, const std::string& set)
{
    return std::any_of(rule.expressions.begin(), rule.expressions.end(), [&](const ruleset::Expression& expression) {
        const auto* lookup = std::get_if<ruleset::expr::Lookup>(&expression);
        return lookup && lookup->set == set;
    });
}

// Turns a family's table into one written before ingress mode: without the ingress map, the
// ingress_backends set and the DNAT rules that look the map up. Call bump_generation() after.
inline void remove_ingress_layout(ruleset::FakeBackend& fake, ruleset::Family family)
{
    auto& table = fake.mutable_state().at({family, layout::table_name});
    table.sets.erase(layout::ingress_map);
    table.sets.erase(layout::ingress_backends_set);
    for (auto& [name, chain] : table.chains)
        std::erase_if(chain.rules, [](const ruleset::Rule& rule) { return looks_up(rule, layout::ingress_map); });
}

// Makes the family's table one written before wide ingress ports: without the DNAT rules of
// numgen random mod ingress::wide_slot_count. Call bump_generation() after.
inline void remove_wide_ingress_rules(ruleset::FakeBackend& fake, ruleset::Family family)
{
    for (auto& [name, chain] : fake.mutable_state().at({family, layout::table_name}).chains)
        std::erase_if(chain.rules, [](const ruleset::Rule& rule) {
            return std::any_of(rule.expressions.begin(), rule.expressions.end(), [](const ruleset::Expression& expression) {
                const auto* numgen = std::get_if<ruleset::expr::Numgen>(&expression);
                return numgen && numgen->modulus == ingress::wide_slot_count;
            });
        });
}

}  // namespace warren::nft::test
