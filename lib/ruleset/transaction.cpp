// SPDX-License-Identifier: Apache-2.0
#include "ruleset/transaction.hpp"

#include <stdexcept>
#include <type_traits>

namespace warren::nft::ruleset {

Transaction& Transaction::append(const Operation& operation)
{
    // The same rules as the typed create(), remove() and flush().
    const bool supported = std::visit(
        [&](const auto& object) {
            using T = std::decay_t<decltype(object)>;
            switch (operation.verb) {
                case Verb::add: return true;
                case Verb::create:
                case Verb::remove: return NamedObject<T>;
                case Verb::flush: return std::is_same_v<T, Chain>;
            }
            return false;
        },
        operation.object);
    if (!supported)
        throw std::invalid_argument("no backend implements " + describe(table_, operation));
    operations_.push_back(operation);
    return *this;
}

std::string describe(const Table& table, const Operation& operation)
{
    const std::string table_name = display_name(table);
    std::string verb;
    switch (operation.verb) {
        case Verb::add: verb = "add"; break;
        case Verb::create: verb = "create"; break;
        case Verb::remove: verb = "delete"; break;
        case Verb::flush: verb = "flush"; break;
    }
    return std::visit(
        [&](const auto& object) -> std::string {
            using T = std::decay_t<decltype(object)>;
            if constexpr (std::is_same_v<T, Table>)
                return verb + " table " + table_name;
            else if constexpr (std::is_same_v<T, Chain>)
                return verb + " chain " + table_name + " " + object.name;
            else if constexpr (std::is_same_v<T, Set>)
                return verb + (object.is_map() ? " map " : " set ") + table_name + " " + object.name;
            else if constexpr (std::is_same_v<T, Rule>)
                return verb + " rule to chain " + table_name + " " + object.chain;
            else
                return verb + " element" + (object.comment.empty() ? "" : " (" + object.comment + ")") +
                       (operation.verb == Verb::remove ? " from " : " in ") + table_name + " " + object.set;
        },
        operation.object);
}

}  // namespace warren::nft::ruleset
