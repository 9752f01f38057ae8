// SPDX-License-Identifier: Apache-2.0
// A transaction: an ordered list of operations on one table, built without touching the kernel and
// committed in one call. The kernel (and the fake) apply all of it or none of it.
#pragma once

#include "ruleset/objects.hpp"

#include <concepts>
#include <string>
#include <variant>
#include <vector>

namespace warren::nft::ruleset {

enum class Verb {
    add,     // create if missing, keep if it exists (NLM_F_CREATE)
    create,  // create, fail with EEXIST if it exists (NLM_F_CREATE | NLM_F_EXCL)
    remove,  // delete, fail with ENOENT if missing
    flush,   // chains only: delete every rule of the chain
};

using Object = std::variant<Table, Chain, Set, Element, Rule>;

// Objects that every backend can create exclusively and delete. A rule is neither: the kernel
// deletes a rule by its handle, which Rule does not carry, and NLM_F_EXCL means nothing to a rule
// (fixed rules are replaced by flushing their chain). Rules can only be added.
template <typename T>
concept NamedObject = std::same_as<T, Table> || std::same_as<T, Chain> || std::same_as<T, Set> || std::same_as<T, Element>;

struct Operation {
    Verb verb;
    Object object;
    friend bool operator==(const Operation&, const Operation&) = default;
};

class Transaction {
public:
    explicit Transaction(Table table) : table_(std::move(table)) {}

    Transaction& add(Object object) { return push(Verb::add, std::move(object)); }
    template <NamedObject T>
    Transaction& create(T object)
    {
        return push(Verb::create, std::move(object));
    }
    template <NamedObject T>
    Transaction& remove(T object)
    {
        return push(Verb::remove, std::move(object));
    }
    Transaction& flush(Chain chain) { return push(Verb::flush, std::move(chain)); }
    // Appends one operation, typically of another transaction; a verb and object pair that no
    // backend implements (see NamedObject; flush of anything but a chain) is std::invalid_argument.
    Transaction& append(const Operation& operation);
    // Appends the operations of `other`, a transaction on the same table, after this one's.
    Transaction& append(const Transaction& other)
    {
        operations_.insert(operations_.end(), other.operations_.begin(), other.operations_.end());
        return *this;
    }

    // Room for `count` operations in all, so that building a large transaction moves none.
    Transaction& reserve(std::size_t count)
    {
        operations_.reserve(count);
        return *this;
    }

    const Table& table() const noexcept { return table_; }
    const std::vector<Operation>& operations() const noexcept { return operations_; }
    bool empty() const noexcept { return operations_.empty(); }

private:
    Transaction& push(Verb verb, Object object)
    {
        operations_.push_back(Operation{verb, std::move(object)});
        return *this;
    }

    Table table_;
    std::vector<Operation> operations_;
};

// Transactions on several tables committed together: the kernel applies all of them or none. Each
// table appears once, in the order of its first part().
class Commit {
public:
    Commit() = default;
    Commit(Transaction transaction) { parts_.push_back(std::move(transaction)); }  // NOLINT: one table is a commit too

    // The transaction on `table`, added empty (after the others) if there is none yet.
    Transaction& part(const Table& table)
    {
        for (auto& part : parts_)
            if (same_table(part.table(), table))
                return part;
        return parts_.emplace_back(table);
    }
    // The transaction on `table`, or nullptr.
    const Transaction* find(const Table& table) const noexcept
    {
        for (const auto& part : parts_)
            if (same_table(part.table(), table))
                return &part;
        return nullptr;
    }
    // Appends the operations of every part of `other` to this commit's part on the same table.
    Commit& append(const Commit& other)
    {
        for (const auto& part : other.parts_)
            this->part(part.table()).append(part);
        return *this;
    }
    const std::vector<Transaction>& parts() const noexcept { return parts_; }
    bool empty() const noexcept
    {
        for (const auto& part : parts_)
            if (!part.empty())
                return false;
        return true;
    }
    // Every operation of every part, in commit order (for tests and error messages).
    std::vector<Operation> operations() const
    {
        std::vector<Operation> out;
        for (const auto& part : parts_)
            out.insert(out.end(), part.operations().begin(), part.operations().end());
        return out;
    }

private:
    static bool same_table(const Table& a, const Table& b) noexcept { return a.family == b.family && a.name == b.name; }
    std::vector<Transaction> parts_;
};

// "add element to set ip warren ports" and the like: how errors name the operation that failed.
std::string describe(const Table& table, const Operation& operation);

}  // namespace warren::nft::ruleset
