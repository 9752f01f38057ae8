// SPDX-License-Identifier: Apache-2.0
#include "ruleset/fake_backend.hpp"

#include "kernel_error.hpp"

#include <algorithm>
#include <cerrno>
#include <type_traits>

namespace warren::nft::ruleset {
namespace {

// Applies one operation to `state` as nf_tables would, returning the errno it would answer with.
int apply(FakeBackend::State& state, const Table& table, const Operation& op)
{
    const auto key = std::make_pair(table.family, table.name);
    auto table_it = state.find(key);
    return std::visit(
        [&](const auto& object) -> int {
            using T = std::decay_t<decltype(object)>;
            if constexpr (std::is_same_v<T, Table>) {
                if (op.verb == Verb::remove) {
                    if (table_it == state.end())
                        return ENOENT;
                    state.erase(table_it);
                    return 0;
                }
                if (table_it != state.end())
                    return op.verb == Verb::create ? EEXIST : 0;
                state.emplace(key, FakeBackend::TableState{});
                return 0;
            } else {
                if (table_it == state.end())
                    return ENOENT;
                auto& t = table_it->second;
                if constexpr (std::is_same_v<T, Chain>) {
                    auto chain = t.chains.find(object.name);
                    switch (op.verb) {
                    case Verb::flush:
                        if (chain == t.chains.end())
                            return ENOENT;
                        chain->second.rules.clear();
                        return 0;
                    case Verb::remove:
                        if (chain == t.chains.end())
                            return ENOENT;
                        if (!chain->second.rules.empty())
                            return EBUSY;
                        t.chains.erase(chain);
                        return 0;
                    default:
                        if (chain != t.chains.end())
                            return op.verb == Verb::create ? EEXIST : 0;
                        t.chains.emplace(object.name, FakeBackend::ChainState{object, {}});
                        return 0;
                    }
                } else if constexpr (std::is_same_v<T, Set>) {
                    auto set = t.sets.find(object.name);
                    if (op.verb == Verb::remove) {
                        if (set == t.sets.end())
                            return ENOENT;
                        // Like the kernel: a set that a rule looks up cannot be deleted.
                        for (const auto& [name, chain] : t.chains)
                            for (const auto& rule : chain.rules)
                                for (const auto& expression : rule.expressions)
                                    if (const auto* lookup = std::get_if<expr::Lookup>(&expression); lookup && lookup->set == object.name)
                                        return EBUSY;
                        t.sets.erase(set);
                        return 0;
                    }
                    if (set != t.sets.end())
                        return op.verb == Verb::create || set->second.declaration.shape() != object.shape() ? EEXIST : 0;
                    t.sets.emplace(object.name, FakeBackend::SetState{object, {}});
                    return 0;
                } else if constexpr (std::is_same_v<T, Rule>) {
                    auto chain = t.chains.find(object.chain);
                    if (chain == t.chains.end())
                        return ENOENT;
                    for (const auto& expression : object.expressions)
                        if (const auto* lookup = std::get_if<expr::Lookup>(&expression); lookup && !t.sets.contains(lookup->set))
                            return ENOENT;
                    chain->second.rules.push_back(object);
                    return 0;
                } else {
                    static_assert(std::is_same_v<T, Element>);
                    auto set = t.sets.find(object.set);
                    if (set == t.sets.end())
                        return ENOENT;
                    const auto& declaration = set->second.declaration;
                    auto& elements = set->second.elements;
                    if (object.key.size() != concat_length(declaration.key))
                        return EINVAL;
                    auto element = elements.find(object.key);
                    if (op.verb == Verb::remove) {
                        if (element == elements.end())
                            return ENOENT;
                        elements.erase(element);
                        return 0;
                    }
                    if (object.data.size() != concat_length(declaration.data))
                        return EINVAL;
                    if (element != elements.end()) {
                        // Like the kernel: re-adding an identical element without EXCL is fine.
                        if (op.verb == Verb::create || element->second.data != object.data)
                            return EEXIST;
                        return 0;
                    }
                    elements.emplace(object.key, object);
                    return 0;
                }
            }
        },
        op.object);
}

}  // namespace

TableSnapshot FakeBackend::snapshot(const Table& table, std::span<const std::string> chains,
                                   std::span<const std::string> element_sets)
{
    TableSnapshot snap;
    snap.generation = generation_;
    auto it = state_.find({table.family, table.name});
    if (it == state_.end())
        return snap;
    snap.exists = true;
    for (const auto& [name, chain] : it->second.chains) {
        if (std::find(chains.begin(), chains.end(), name) != chains.end())
            snap.chains.emplace(name, chain.declaration);
        auto& comments = snap.rule_comments[name];
        for (const auto& rule : chain.rules)
            comments.push_back(rule.comment);
    }
    for (const auto& [name, set] : it->second.sets)
        snap.sets[name] = set.declaration.shape();
    for (const auto& name : element_sets) {
        auto set = it->second.sets.find(name);
        if (set == it->second.sets.end())
            continue;
        auto& out = snap.elements[name];
        for (const auto& [key, element] : set->second.elements)
            out.push_back(element);
    }
    return snap;
}

void FakeBackend::commit(const Transaction& transaction, std::optional<std::uint32_t> expected_generation)
{
    ++attempts_;
    if (before_commit)
        before_commit(transaction);
    if (transaction.empty())
        return;
    if (expected_generation && *expected_generation != generation_)
        throw kernel_error(ERESTART, "commit transaction on table " + transaction.table().name, "nothing was changed");
    State copy = state_;
    const auto& operations = transaction.operations();
    for (const auto& operation : operations) {
        if (const int err = apply(copy, transaction.table(), operation))
            throw kernel_error(err, describe(transaction.table(), operation), "nothing was changed");
    }
    state_ = std::move(copy);
    ++generation_;
    committed_.push_back(transaction);
}

}  // namespace warren::nft::ruleset
