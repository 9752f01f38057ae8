// SPDX-License-Identifier: Apache-2.0
#include "ruleset/fake_backend.hpp"

#include "kernel_error.hpp"

#include <linux/netfilter/nf_tables.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <type_traits>
#include <utility>

namespace warren::nft::ruleset {
namespace {

// NEWCHAIN on an existing chain, as nf_tables judges it: the errno it would answer with.
int update_policy(Chain& existing, const Chain& wanted)
{
    if (!wanted.hook)
        return 0;  // names the chain only: leaves it as it is
    if (!existing.hook)
        return EEXIST;  // a regular chain does not become a base chain
    auto same_policy = *wanted.hook;
    same_policy.policy_accept = existing.hook->policy_accept;
    if (same_policy != *existing.hook)
        return EEXIST;
    existing.hook->policy_accept = wanted.hook->policy_accept;
    return 0;
}

// Sets a rule refers to (lookups and updates), and the chain it jumps to.
const std::string* set_of(const Expression& expression)
{
    if (const auto* lookup = std::get_if<expr::Lookup>(&expression))
        return &lookup->set;
    if (const auto* dynset = std::get_if<expr::Dynset>(&expression))
        return &dynset->set;
    return nullptr;
}

bool refers_to_set(const FakeBackend::TableState& table, const std::string& set)
{
    for (const auto& [name, chain] : table.chains)
        for (const auto& rule : chain.rules)
            for (const auto& expression : rule.expressions)
                if (const auto* used = set_of(expression); used && *used == set)
                    return true;
    return false;
}

bool jumps_to(const FakeBackend::TableState& table, const std::string& target)
{
    for (const auto& [name, chain] : table.chains)
        for (const auto& rule : chain.rules)
            for (const auto& expression : rule.expressions)
                if (const auto* jump = std::get_if<expr::Jump>(&expression); jump && jump->chain == target)
                    return true;
    return false;
}

// Whether the kernel keeps the set in a hash of a fixed size: a set with a size that is neither of
// ranges nor updated with timeouts or from the packet path. Such a hash takes no element
// expressions and no updates.
bool fixed_size_hash(const Set& set)
{
    return set.size != 0 && !(set.flags & (NFT_SET_INTERVAL | NFT_SET_TIMEOUT | NFT_SET_EVAL));
}

// A rule's references, as nf_tables checks them when it takes the rule: the errno, or 0. Binding a
// Dynset to a set without a size gives the set the size 65535, as the kernel does.
int bind_rule(FakeBackend::TableState& table, const Rule& rule)
{
    for (const auto& expression : rule.expressions) {
        if (const auto* set = set_of(expression); set && !table.sets.contains(*set))
            return ENOENT;
        if (const auto* jump = std::get_if<expr::Jump>(&expression)) {
            const auto target = table.chains.find(jump->chain);
            if (target == table.chains.end())
                return ENOENT;
            if (target->second.declaration.hook)
                return EOPNOTSUPP;  // only regular chains can be jumped to
        }
    }
    for (const auto& expression : rule.expressions)
        if (const auto* dynset = std::get_if<expr::Dynset>(&expression)) {
            auto& state = table.sets.at(dynset->set);
            auto& declaration = state.declaration;
            // Sets of ranges, and fixed-size hashes, cannot be updated from the packet path.
            if (declaration.flags & NFT_SET_INTERVAL || state.fixed_size)
                return EOPNOTSUPP;
            if (declaration.size == 0)
                declaration.size = 65535;
        }
    return 0;
}

// Whether `point` lies in the ranges of `element`, field by field (the unpadded bytes of each field
// compare as big-endian numbers), as the kernel's set of concatenated ranges matches a key.
bool contains(const std::vector<Field>& fields, const Element& element, const Bytes& point)
{
    const Bytes& end = element.key_end.empty() ? element.key : element.key_end;
    std::size_t at = 0;
    for (const auto& field : fields) {
        const auto first = element.key.begin() + static_cast<std::ptrdiff_t>(at);
        const auto last = end.begin() + static_cast<std::ptrdiff_t>(at);
        const auto value = point.begin() + static_cast<std::ptrdiff_t>(at);
        const auto length = static_cast<std::ptrdiff_t>(field.length);
        if (std::lexicographical_compare(value, value + length, first, first + length) ||
            std::lexicographical_compare(last, last + length, value, value + length))
            return false;
        at += (field.length + 3) / 4 * 4;
    }
    return true;
}

// Whether every field of a range starts no later than it ends (the kernel refuses others, EINVAL).
bool ordered(const std::vector<Field>& fields, const Bytes& start, const Bytes& end)
{
    Element range{{}, start, {}, {}, 0, 0, end, {}};
    return contains(fields, range, start) && contains(fields, range, end);
}

// The element of a set of concatenated ranges that holds `point`, or the end.
std::map<Bytes, Element>::iterator range_holding(FakeBackend::SetState& set, const Bytes& point)
{
    for (auto it = set.elements.begin(); it != set.elements.end(); ++it)
        if (contains(set.declaration.key, it->second, point))
            return it;
    return set.elements.end();
}

// An element's expressions as the kernel keeps them (a packet limit without a burst gets 5), or the
// errno it refuses them with.
int normalize_expressions(const FakeBackend::SetState& set, Element& element)
{
    if (!element.expressions.empty() && set.fixed_size)
        return EOPNOTSUPP;
    for (auto& expression : element.expressions) {
        if (std::holds_alternative<expr::Foreign>(expression))
            return EOPNOTSUPP;
        if (auto* limit = std::get_if<expr::Limit>(&expression)) {
            if (limit->rate == 0 || limit->unit_seconds == 0)
                return EINVAL;
            if (limit->burst == 0)
                limit->burst = 5;
        }
    }
    return 0;
}

// An element operation on a set of concatenated ranges, as the kernel's pipapo set judges it: an
// element is found by a key its ranges hold, a new one is refused when its first or last key lies
// in an existing element (EEXIST; the same ranges again are fine without EXCL, as for other sets),
// then when a range ends before it starts (EINVAL), and a removal removes the element that holds
// its first key, whatever key end it names (ENOENT when none does).
int apply_range(FakeBackend::SetState& set, const Operation& op, const Element& object)
{
    const Bytes& end = object.key_end.empty() ? object.key : object.key_end;
    const auto holding = range_holding(set, object.key);
    if (op.verb == Verb::remove) {
        if (holding == set.elements.end())
            return ENOENT;
        set.elements.erase(holding);
        return 0;
    }
    if (holding != set.elements.end()) {
        const auto& found = holding->second;
        const bool same = found.key == object.key && (found.key_end.empty() ? found.key : found.key_end) == end;
        return same && op.verb != Verb::create && found.data == object.data ? 0 : EEXIST;
    }
    if (range_holding(set, end) != set.elements.end())
        return EEXIST;
    if (!ordered(set.declaration.key, object.key, end))
        return EINVAL;
    Element added = object;
    if (const int err = normalize_expressions(set, added))
        return err;
    set.elements.emplace(object.key, std::move(added));
    return 0;
}

// Applies one operation to `state` as nf_tables would, returning the errno it would answer with.
int apply(FakeBackend::State& state, const Table& table, const Operation& op)
{
    const auto key = std::make_pair(table.family, table.name);
    auto table_it = state.find(key);
    // Like the kernel: only the owner of an owned table may change anything in it.
    if (table_it != state.end() && table_it->second.owner && *table_it->second.owner != FakeBackend::port_id)
        return EPERM;
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
                if (table_it != state.end()) {
                    if (op.verb == Verb::create)
                        return EEXIST;
                    // Like the kernel: flags sent replace the table's (waking a dormant one), but
                    // ownership is given only at creation and never taken away.
                    if (!object.flags)
                        return 0;
                    if ((table_it->second.flags ^ *object.flags) & NFT_TABLE_F_OWNER)
                        return EOPNOTSUPP;
                    table_it->second.flags = *object.flags;
                    return 0;
                }
                FakeBackend::TableState created;
                created.flags = object.flags.value_or(0);
                if (created.flags & NFT_TABLE_F_OWNER)
                    created.owner = FakeBackend::port_id;
                state.emplace(key, std::move(created));
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
                            if (!chain->second.rules.empty() || jumps_to(t, object.name))
                                return EBUSY;
                            t.chains.erase(chain);
                            return 0;
                        default:
                            if (chain == t.chains.end()) {
                                t.chains.emplace(object.name, FakeBackend::ChainState{object, {}});
                                return 0;
                            }
                            if (op.verb == Verb::create)
                                return EEXIST;
                            // Like the kernel: a chain's hook, type and priority are fixed when it is
                            // created; its policy is whatever the last NEWCHAIN said.
                            return update_policy(chain->second.declaration, object);
                    }
                } else if constexpr (std::is_same_v<T, Set>) {
                    auto set = t.sets.find(object.name);
                    if (op.verb == Verb::remove) {
                        if (set == t.sets.end())
                            return ENOENT;
                        // Like the kernel: a set that a rule looks up or updates cannot be deleted.
                        if (refers_to_set(t, object.name))
                            return EBUSY;
                        t.sets.erase(set);
                        return 0;
                    }
                    if (set != t.sets.end()) {
                        // Like the kernel, which compares a set's type, flags and expressions but not
                        // its user data: the set keeps the typeof it has.
                        const auto as_compared = [](SetShape shape) {
                            shape.nft_typeof.reset();
                            return shape;
                        };
                        const bool same = as_compared(set->second.declaration.shape()) == as_compared(object.shape());
                        return op.verb == Verb::create || !same ? EEXIST : 0;
                    }
                    t.sets.emplace(object.name, FakeBackend::SetState{object, {}, fixed_size_hash(object)});
                    return 0;
                } else if constexpr (std::is_same_v<T, Rule>) {
                    auto chain = t.chains.find(object.chain);
                    if (chain == t.chains.end())
                        return ENOENT;
                    if (const int err = bind_rule(t, object))
                        return err;
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
                    // Like the kernel: only a set of concatenated ranges takes a key end.
                    const bool ranges = declaration.kernel_flags() & NFT_SET_CONCAT;
                    if (!object.key_end.empty() && (!ranges || object.key_end.size() != object.key.size()))
                        return EINVAL;
                    if (op.verb != Verb::remove && object.data.size() != concat_length(declaration.data))
                        return EINVAL;
                    if (ranges)
                        return apply_range(set->second, op, object);
                    auto element = elements.find(object.key);
                    if (op.verb == Verb::remove) {
                        if (element == elements.end())
                            return ENOENT;
                        elements.erase(element);
                        return 0;
                    }
                    if (element != elements.end()) {
                        // Like the kernel: re-adding an identical element without EXCL is fine (and
                        // keeps the element there, with its comment and expressions).
                        if (op.verb == Verb::create || element->second.data != object.data)
                            return EEXIST;
                        return 0;
                    }
                    Element added = object;
                    if (const int err = normalize_expressions(set->second, added))
                        return err;
                    // The kernel's garbage collector removes, within seconds, an element of a set
                    // updated from the packet path whose ct count sees no connection: the fake has
                    // none, so such an element is gone at once.
                    if (declaration.flags & NFT_SET_EVAL &&
                        std::any_of(added.expressions.begin(), added.expressions.end(),
                                    [](const ElementExpression& e) { return std::holds_alternative<expr::ConnLimit>(e); }))
                        return 0;
                    elements.emplace(object.key, std::move(added));
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
    std::lock_guard lock(mutex_);
    TableSnapshot snap;
    snap.generation = generation_;
    auto it = state_.find({table.family, table.name});
    if (it == state_.end())
        return snap;
    snap.exists = true;
    snap.table_flags = it->second.flags;
    snap.owner = it->second.owner;
    snap.owned_by_us = snap.owner == port_id;
    for (const auto& [name, chain] : it->second.chains) {
        if (std::find(chains.begin(), chains.end(), name) != chains.end())
            snap.chains.emplace(name, chain.declaration);
        auto& comments = snap.rule_comments[name];
        auto& rules = snap.rules[name];
        for (const auto& rule : chain.rules) {
            comments.push_back(rule.comment);
            rules.push_back(as_reported(rule));
        }
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

std::vector<Element> FakeBackend::elements_of(const Table& table, const std::string& set, std::span<const Bytes> keys)
{
    std::lock_guard lock(mutex_);
    std::vector<Element> out;
    const auto found_table = state_.find({table.family, table.name});
    if (found_table == state_.end())
        return out;
    const auto found_set = found_table->second.sets.find(set);
    if (found_set == found_table->second.sets.end())
        return out;
    for (const auto& key : keys)
        if (const auto element = found_set->second.elements.find(key); element != found_set->second.elements.end())
            out.push_back(element->second);
    return out;
}

void FakeBackend::commit(const Commit& commit, std::optional<std::uint32_t> expected_generation)
{
    std::lock_guard lock(mutex_);
    ++attempts_;
    if (before_commit)
        before_commit(commit);
    if (commit.empty())
        return;
    if (expected_generation && *expected_generation != generation_)
        throw kernel_error(ERESTART, "commit transaction on table " + display_name(commit.parts().front().table()),
                           "nothing was changed");
    State copy = state_;
    for (const auto& part : commit.parts())
        for (const auto& operation : part.operations())
            if (const int err = apply(copy, part.table(), operation))
                throw kernel_error(err, describe(part.table(), operation), "nothing was changed");
    state_ = std::move(copy);
    ++generation_;
    committed_.push_back(commit);
    announce(commit);
}

std::size_t FakeBackend::forget_flows(std::span<const FlowMatch> matches)
{
    std::lock_guard lock(mutex_);
    forgotten_.insert(forgotten_.end(), matches.begin(), matches.end());
    return 0;
}

std::vector<netlink::SocketEntry> FakeBackend::receiving_sockets(Protocol protocol, std::span<const Family> families,
                                                                 netlink::PortFilter ports)
{
    std::lock_guard lock(mutex_);
    std::vector<netlink::SocketEntry> out;
    // As the kernel's dumps of address families: IPv6 sockets on IPv4-mapped addresses are IPv6's.
    for (const auto& socket : sockets_)
        if (socket.protocol == protocol &&
            std::find(families.begin(), families.end(), socket.ipv6_socket ? Family::ip6 : Family::ip) != families.end() &&
            (!ports || std::find(ports->begin(), ports->end(), socket.port) != ports->end()))
            out.push_back(socket);
    return out;
}

std::vector<layout::Address> FakeBackend::host_addresses(std::span<const layout::Address> among)
{
    std::lock_guard lock(mutex_);
    ++host_address_reads_;
    if (!host_addresses_)
        return {among.begin(), among.end()};
    std::vector<layout::Address> present;
    for (const auto& address : among)
        if (std::find(host_addresses_->begin(), host_addresses_->end(), address) != host_addresses_->end())
            present.push_back(address);
    return present;
}

void FakeBackend::route_localnet_towards(const std::array<std::uint8_t, 4>& container)
{
    std::lock_guard lock(mutex_);
    route_localnet_.push_back(container);
}

std::uint32_t FakeBackend::generation()
{
    std::lock_guard lock(mutex_);
    return generation_;
}

struct FakeBackend::FeedQueue {
    explicit FeedQueue(std::vector<Table> followed) : tables(std::move(followed)), ready(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
    {
    }
    ~FeedQueue() { close(ready); }
    FeedQueue(const FeedQueue&) = delete;
    FeedQueue& operator=(const FeedQueue&) = delete;

    void push(Change change)
    {
        std::lock_guard lock(mutex);
        changes.push_back(std::move(change));
        signal();
    }
    void lose()
    {
        std::lock_guard lock(mutex);
        lost = true;
        signal();
    }
    void signal() const
    {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto written = write(ready, &one, sizeof one);
    }

    bool follows(const Table& table) const
    {
        return std::any_of(tables.begin(), tables.end(),
                           [&](const Table& t) { return t.family == table.family && t.name == table.name; });
    }

    const std::vector<Table> tables;
    const int ready;  // an eventfd: readable while announcements wait
    std::mutex mutex;
    std::vector<Change> changes;
    bool lost = false;
    OwnGenerations ignored;
};

namespace {
// Every commit of the fake goes through one socket, as far as its announcements tell.
constexpr std::uint32_t fake_port_id = 1;

class FakeFeed final : public ChangeFeed {
public:
    explicit FakeFeed(std::shared_ptr<FakeBackend::FeedQueue> queue) : queue_(std::move(queue)) {}
    int fd() const noexcept override { return queue_->ready; }
    // A fake commit announces itself before it returns: there is never anything to wait for.
    FeedRead read(std::optional<std::uint32_t>) override
    {
        std::lock_guard lock(queue_->mutex);
        std::uint64_t count = 0;
        [[maybe_unused]] const auto drained = ::read(queue_->ready, &count, sizeof count);
        FeedRead out;
        out.lost = std::exchange(queue_->lost, false);
        for (auto& change : std::exchange(queue_->changes, {})) {
            const auto verdict = queue_->ignored.judge(change.generation, change.port_id);
            if (verdict == OwnGenerations::Verdict::mine)
                continue;
            change.contested = verdict == OwnGenerations::Verdict::contested;
            out.changes.push_back(std::move(change));
        }
        return out;
    }
    // The fake announces whole transactions only.
    void start_over() override {}
    void ignore(std::uint32_t generation) override
    {
        std::lock_guard lock(queue_->mutex);
        queue_->ignored.expect(generation, fake_port_id);
    }

private:
    std::shared_ptr<FakeBackend::FeedQueue> queue_;
};

TableEvent event_of(Family family, const Operation& operation)
{
    const bool removed = operation.verb == Verb::remove || operation.verb == Verb::flush;
    return std::visit(
        [&](const auto& object) -> TableEvent {
            using T = std::decay_t<decltype(object)>;
            if constexpr (std::is_same_v<T, Table>)
                return {TableEvent::Kind::table, family, removed, {}, {}};
            else if constexpr (std::is_same_v<T, Chain>)
                return {operation.verb == Verb::flush ? TableEvent::Kind::rule : TableEvent::Kind::chain,
                        family,
                        removed,
                        object.name,
                        {}};
            else if constexpr (std::is_same_v<T, Set>)
                return {TableEvent::Kind::set, family, removed, object.name, {}};
            else if constexpr (std::is_same_v<T, Rule>)
                return {TableEvent::Kind::rule, family, removed, object.chain, {}};
            else
                return {TableEvent::Kind::element, family, removed, object.set, object};
        },
        operation.object);
}
}  // namespace

std::unique_ptr<ChangeFeed> FakeBackend::follow(std::span<const Table> tables)
{
    std::lock_guard lock(mutex_);
    auto queue = std::make_shared<FeedQueue>(std::vector<Table>(tables.begin(), tables.end()));
    feeds_.push_back(queue);
    return std::make_unique<FakeFeed>(std::move(queue));
}

void FakeBackend::announce(const Commit& commit)
{
    std::erase_if(feeds_, [](const auto& feed) { return feed.expired(); });
    for (const auto& weak : feeds_) {
        const auto feed = weak.lock();
        Change change{generation_, 0, "fake", fake_port_id, {}, false};
        for (const auto& part : commit.parts())
            if (feed->follows(part.table()))
                for (const auto& operation : part.operations())
                    change.events.push_back(event_of(part.table().family, operation));
        feed->push(std::move(change));
    }
}

void FakeBackend::bump_generation()
{
    std::lock_guard lock(mutex_);
    ++generation_;
    std::erase_if(feeds_, [](const auto& feed) { return feed.expired(); });
    for (const auto& weak : feeds_)
        weak.lock()->lose();
}

}  // namespace warren::nft::ruleset
