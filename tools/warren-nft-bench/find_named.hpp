// SPDX-License-Identifier: Apache-2.0
// Looking up what the command line names (a method, a damage kind) and listing the names.
#pragma once

#include <string>
#include <vector>

namespace bench {

// The element of `all` whose `name` is `name`, or nullptr.
template <class T>
const T* find_named(const std::vector<T>& all, const std::string& name)
{
    for (const auto& one : all)
        if (one.name == name)
            return &one;
    return nullptr;
}

// "a, b, c": every name, for usage messages.
template <class T>
std::string names_of(const std::vector<T>& all)
{
    std::string names;
    for (const auto& one : all)
        names += (names.empty() ? "" : ", ") + one.name;
    return names;
}

}  // namespace bench
