// SPDX-License-Identifier: Apache-2.0
#include "publisher/task_index.hpp"

#include "printable.hpp"
#include "publisher/ingress_records.hpp"

#include <algorithm>
#include <map>

namespace warren::nft {

using layout::Destination;
using layout::HostPort;

namespace {
bool contains(const std::vector<IndexEntry>& entries, const IndexEntry& entry)
{
    return std::find(entries.begin(), entries.end(), entry) != entries.end();
}

std::uint64_t packed(const layout::Address& a)
{
    // The last 8 bytes tell IPv6 addresses of one network apart, the first 4 IPv4 ones.
    std::uint64_t low = 0, high = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        high = high << 8 | a.bytes[i];
        low = low << 8 | a.bytes[8 + i];
    }
    return high ^ low ^ static_cast<std::uint64_t>(a.family);
}

std::size_t mix(std::uint64_t high, std::uint64_t low) { return std::hash<std::uint64_t>{}(high << 32 ^ low ^ (low >> 32)); }

// Change of uses per destination of a commit, in destination order (the order its elements go in);
// a request has few destinations, so a sorted vector beats a map's allocations.
class DestinationDelta {
public:
    explicit DestinationDelta(const TaskIndex& index) : index_(index) {}
    void count(const Destination& destination, int by)
    {
        if (!index_.counting(destination.address.family))
            return;  // no backends set: the ports maps are all a publish writes
        auto at = std::lower_bound(delta_.begin(), delta_.end(), destination,
                                   [](const auto& item, const Destination& d) { return item.first < d; });
        if (at == delta_.end() || at->first != destination)
            at = delta_.insert(at, {destination, 0});
        at->second += by;
    }
    // The repair of every mismatched destination goes with the change.
    void count_mismatched()
    {
        for (const auto& destination : index_.mismatched())
            count(destination, 0);
    }
    // The one rule of backends elements: added at a destination's first use, deleted after its last.
    template <typename PartOf>
    void write(PartOf&& part_of) const
    {
        for (const auto& [destination, change] : delta_) {
            const auto uses = static_cast<int>(index_.destination_uses(destination)) + change;
            const bool present = index_.destination_present(destination);
            if (uses == 0 && present)
                part_of(destination.address.family).remove(layout::destination_element(destination));
            else if (uses > 0 && !present)
                part_of(destination.address.family).add(layout::destination_element(destination));
        }
    }

private:
    const TaskIndex& index_;
    std::vector<std::pair<Destination, int>> delta_;
};
}  // namespace

std::size_t TaskIndex::HostPortHash::operator()(const HostPort& p) const noexcept
{
    return mix(packed(p.address), std::uint64_t{static_cast<std::uint8_t>(p.protocol)} << 16 | p.port);
}

std::size_t TaskIndex::DestinationHash::operator()(const Destination& d) const noexcept
{
    return mix(packed(d.address), std::uint64_t{static_cast<std::uint8_t>(d.protocol)} << 16 | d.port);
}

void TaskIndex::insert_port(const HostPort& host_port, const Port& port)
{
    if (ports_.insert_or_assign(host_port, port).second)
        ++family_ports_[layout::family_index(host_port.family())];
    if (host_port.bound())
        bound_.insert(host_port);
}

void TaskIndex::erase_port(const HostPort& host_port)
{
    if (ports_.erase(host_port))
        --family_ports_[layout::family_index(host_port.family())];
    names_.erase(host_port);
    erase_foreign_comment(host_port);
    bound_.erase(host_port);
}

void TaskIndex::set_foreign_comment(const HostPort& host_port, std::string comment)
{
    erase_foreign_comment(host_port);
    if (auto service = ingress::parse_claim_comment(comment))
        claims_by_service_[std::move(*service)].insert(host_port);
    foreign_comments_.insert_or_assign(host_port, std::move(comment));
}

void TaskIndex::erase_foreign_comment(const HostPort& host_port)
{
    const auto comment = foreign_comments_.find(host_port);
    if (comment == foreign_comments_.end())
        return;
    if (const auto service = ingress::parse_claim_comment(comment->second))
        if (const auto claims = claims_by_service_.find(*service); claims != claims_by_service_.end()) {
            claims->second.erase(host_port);
            if (claims->second.empty())
                claims_by_service_.erase(claims);
        }
    foreign_comments_.erase(comment);
}

TaskIndex TaskIndex::from_snapshot(layout::Family family, const ruleset::TableSnapshot& snapshot, bool counting)
{
    TaskIndex index;
    index.load(family, snapshot, counting);
    return index;
}

bool TaskIndex::has_family(layout::Family family) const noexcept { return family_ports_[layout::family_index(family)] > 0; }

void TaskIndex::load(layout::Family family, const ruleset::TableSnapshot& snapshot, bool counting)
{
    auto& index = *this;
    index.counting_[layout::family_index(family)] = counting;
    // Straight into the index, without grouping by task first: a temporary map per port would
    // leave the adopting publisher's heap riddled with holes (warren-nft-bench --mode memory).
    for (const char* map : {layout::ports_map, layout::bound_ports_map}) {
        const auto ports = snapshot.elements.find(map);
        if (ports == snapshot.elements.end())
            continue;
        for (const auto& element : ports->second) {
            const auto decoded = layout::decode_port_element(family, element);
            if (!decoded)
                continue;  // a key we never write; it cannot collide with ours either
            auto owner = layout::parse_owner_comment(element.comment);
            const std::string_view task_id = owner ? std::string_view(owner->task_id) : foreign_owner;
            auto task = index.tasks_.find(task_id);
            if (task == index.tasks_.end())
                task = index.tasks_.emplace(std::string(task_id), TaskPorts{decoded->key, {}}).first;
            else
                task->second.more.push_back(decoded->key);
            index.insert_port(decoded->key, Port{&task->first, decoded->destination.address, decoded->destination.port});
            if (owner && !owner->name.empty())
                index.names_.insert_or_assign(decoded->key, std::move(owner->name));
            else if (!owner && !element.comment.empty())
                index.set_foreign_comment(decoded->key, element.comment);
            // A claim's value (ingress mode) leads to no container: its backends are used by its records.
            if (counting && !ingress::claim_value(decoded->destination))
                ++index.backends_[decoded->destination].uses;
        }
    }
    if (counting)
        if (const auto records = snapshot.elements.find(layout::ingress_backends_set); records != snapshot.elements.end())
            for (const auto& element : records->second)
                if (const auto record = ingress::decode_record_key(family, element);
                    record && index.ingress_records_.emplace(record->port, record->destination()).second)
                    ++index.backends_[record->destination()].uses;
    for (const char* set : {layout::policed_set, layout::bound_policed_set, layout::allowed_set, layout::bound_allowed_set})
        if (const auto elements = snapshot.elements.find(set); elements != snapshot.elements.end())
            for (const auto& element : elements->second)
                index.apply_policy(family, element, false);
    // A task's ports in host-port order, as entries() promises.
    for (auto& [task_id, ports] : index.tasks_) {
        if (ports.more.empty())
            continue;
        ports.more.push_back(ports.first);
        std::sort(ports.more.begin(), ports.more.end());
        ports.first = ports.more.front();
        ports.more.erase(ports.more.begin());
    }
    // What the backends set really holds, which may differ from what the ports map implies if
    // someone edited it by hand; plan_replace() then adds or deletes exactly what is needed. A set
    // that does not count yet is replaced by an empty one that does: nothing of it is kept.
    auto backends = snapshot.elements.find(layout::backends_set);
    if (counting && layout::counts(snapshot) && backends != snapshot.elements.end()) {
        for (const auto& element : backends->second)
            if (const auto destination = layout::decode_destination_element(family, element))
                index.backends_[*destination].present = true;
    }
    for (const auto& [destination, backend] : index.backends_)
        if (destination.address.family == family && backend.present != (backend.uses > 0))
            index.mismatched_.insert(destination);
}

IndexEntry TaskIndex::make_entry(const HostPort& host_port, const Port& port) const
{
    std::string name;
    auto mode = PublishMode::host;
    if (const auto it = names_.find(host_port); it != names_.end())
        name = it->second;
    else if (ingress_service(host_port))
        mode = PublishMode::ingress;
    else if (const auto comment = foreign_comments_.find(host_port); comment != foreign_comments_.end())
        name = printable(comment->second);
    AccessPolicy access;
    // Without its policed element a port's policy is not enforced (the police chain lets its
    // connections through): it reads back as none.
    if (const auto limits = limits_.find(host_port); limits != limits_.end()) {
        access = limits->second;
        if (const auto ranges = allowed_.find(host_port); ranges != allowed_.end())
            for (const auto& range : layout::canonical_sources(ranges->second))
                access.allow.push_back(layout::to_string(range));
    }
    return IndexEntry{PortMapping{host_port.port, port.container_port, host_port.protocol, mode, std::move(name),
                                  host_port.bound() ? layout::to_string(host_port.address) : std::string(), std::move(access)},
                      port.address, host_port.address};
}

std::vector<ruleset::Element> TaskIndex::policy_elements(const HostPort& host_port) const
{
    // What the sets hold for the key, each element named by its key alone, as deletions are.
    std::vector<ruleset::Element> out;
    if (limits_.contains(host_port))
        out.push_back(layout::policed_element(host_port, {}));
    if (const auto ranges = allowed_.find(host_port); ranges != allowed_.end())
        for (const auto& range : ranges->second)
            out.push_back(layout::allowed_element(host_port, range));
    return out;
}

void TaskIndex::set_policy(const HostPort& host_port, const AccessPolicy& policy)
{
    if (policy.empty()) {
        limits_.erase(host_port);
        allowed_.erase(host_port);
        return;
    }
    auto limits = policy;
    limits.allow.clear();
    limits_.insert_or_assign(host_port, limits);
    allowed_.insert_or_assign(host_port, layout::enforced_sources(host_port.family(), policy.allow));
}

bool TaskIndex::apply_policy(layout::Family family, const ruleset::Element& element, bool removed)
{
    if (element.set == layout::policed_set || element.set == layout::bound_policed_set) {
        const auto decoded = layout::decode_policed_element(family, element);
        if (!decoded)
            return false;
        if (removed) {
            limits_.erase(decoded->key);
        } else {
            AccessPolicy limits;
            limits.max_connections = decoded->max_connections;
            limits.rate = decoded->rate;
            limits.rate_unit = decoded->rate_unit;
            limits_.insert_or_assign(decoded->key, limits);
        }
        return true;
    }
    if (element.set != layout::allowed_set && element.set != layout::bound_allowed_set)
        return false;
    const auto decoded = layout::decode_allowed_element(family, element);
    if (!decoded)
        return false;
    auto& ranges = allowed_[decoded->key];
    const auto at = std::lower_bound(ranges.begin(), ranges.end(), decoded->range);
    if (removed && at != ranges.end() && *at == decoded->range)
        ranges.erase(at);
    else if (!removed && (at == ranges.end() || *at != decoded->range))
        ranges.insert(at, decoded->range);
    if (ranges.empty())
        allowed_.erase(decoded->key);
    return true;
}

std::vector<IndexEntry> TaskIndex::entries(std::string_view task_id) const
{
    std::vector<IndexEntry> out;
    if (const auto task = tasks_.find(task_id); task != tasks_.end())
        task->second.for_each([&](const HostPort& host_port) { out.push_back(make_entry(host_port, ports_.at(host_port))); });
    return out;
}

const std::string* TaskIndex::owner(const HostPort& host_port) const
{
    const auto it = ports_.find(host_port);
    return it == ports_.end() ? nullptr : it->second.task;
}

std::optional<std::string> TaskIndex::ingress_service(const HostPort& host_port) const
{
    if (host_port.bound())
        return std::nullopt;
    const auto port = ports_.find(host_port);
    if (port == ports_.end() || *port->second.task != foreign_owner || !port->second.address.unspecified() ||
        port->second.container_port != 0)
        return std::nullopt;
    const auto comment = foreign_comments_.find(host_port);
    return comment == foreign_comments_.end() ? std::nullopt : ingress::parse_claim_comment(comment->second);
}

std::vector<HostPort> TaskIndex::ingress_ports(std::string_view service) const
{
    std::vector<HostPort> out;
    const auto claims = claims_by_service_.find(service);
    if (claims == claims_by_service_.end())
        return out;
    for (const auto& host_port : claims->second)  // in order
        if (const auto claimant = ingress_service(host_port); claimant && *claimant == service)
            out.push_back(host_port);
    return out;
}

std::string TaskIndex::describe_owner(const HostPort& host_port) const
{
    const auto* task = owner(host_port);
    if (task == nullptr)
        return "nobody";
    if (*task != foreign_owner)
        return "task " + quote(*task);
    if (const auto service = ingress_service(host_port))
        return "ingress service " + quote(*service);
    const auto comment = foreign_comments_.find(host_port);
    return "another program (an element without a warren-nft owner" +
           (comment == foreign_comments_.end() ? std::string() : ", comment " + quote(comment->second)) + ")";
}

std::optional<HostPort> TaskIndex::clash(const HostPort& host_port, std::string_view task_id) const
{
    return clash(host_port, [&](std::string_view owner) { return owner != task_id; });
}

std::optional<HostPort> TaskIndex::clash(const HostPort& host_port, const std::function<bool(std::string_view)>& blocks) const
{
    const auto taken = [&](const HostPort& other) {
        const auto it = ports_.find(other);
        return it != ports_.end() && blocks(*it->second.task);
    };
    // Every port that can overlap it, in order: the same protocol and port on all addresses, then
    // on one address: the same one, or for a port on all addresses each bound one.
    const HostPort everywhere{host_port.protocol, host_port.port, layout::any_address(host_port.family())};
    if (taken(everywhere))
        return everywhere;
    if (host_port.bound())
        return taken(host_port) ? std::optional(host_port) : std::nullopt;
    for (auto it = bound_.lower_bound(everywhere); it != bound_.end() && it->protocol == host_port.protocol &&
                                                   it->port == host_port.port && it->family() == host_port.family();
         ++it)
        if (taken(*it))
            return *it;
    return std::nullopt;
}

std::optional<IndexEntry> TaskIndex::entry(const HostPort& host_port) const
{
    const auto it = ports_.find(host_port);
    if (it == ports_.end())
        return std::nullopt;
    return make_entry(host_port, it->second);
}

std::uint32_t TaskIndex::destination_uses(const Destination& destination) const
{
    const auto it = backends_.find(destination);
    return it == backends_.end() ? 0 : it->second.uses;
}

bool TaskIndex::destination_present(const Destination& destination) const
{
    const auto it = backends_.find(destination);
    return it != backends_.end() && it->second.present;
}

void TaskIndex::settle(const Destination& destination)
{
    // plan_replace() adds a backend on its first use and deletes it after its last.
    const auto it = backends_.find(destination);
    if (it == backends_.end())
        return;
    if (it->second.uses == 0)
        backends_.erase(it);
    else
        it->second.present = true;
}

void TaskIndex::replace(std::string_view task_id, std::vector<IndexEntry> entries)
{
    assign(task_id, std::move(entries));
    mismatched_repaired();
}

void TaskIndex::mismatched_repaired()
{
    for (const auto& destination : mismatched_)
        settle(destination);
    mismatched_.clear();
}

void TaskIndex::assign(std::string_view task_id, std::vector<IndexEntry> entries)
{
    std::vector<Destination> touched;
    // A table that does not count keeps no elements per destination: nothing to keep track of.
    const auto use = [&](const Destination& destination, bool more) {
        if (!counting(destination.address.family))
            return;
        auto& uses = backends_[destination].uses;
        more ? ++uses : --uses;
        touched.push_back(destination);
    };
    if (auto old = tasks_.find(task_id); old != tasks_.end()) {
        old->second.for_each([&](const HostPort& host_port) {
            const auto port = ports_.find(host_port);
            // Taken over by a task whose new ports were recorded first (several tasks changed in one
            // commit, a port moving between them): it is that task's now.
            if (port == ports_.end() || port->second.task != &old->first)
                return;
            use(Destination{port->second.address, host_port.protocol, port->second.container_port}, false);
            erase_port(host_port);
            set_policy(host_port, {});  // plan_replace() deleted what the key had, or left it as it was
        });
        tasks_.erase(old);
    }
    if (!entries.empty()) {
        std::sort(entries.begin(), entries.end(),
                  [](const IndexEntry& a, const IndexEntry& b) { return a.host_port() < b.host_port(); });
        TaskPorts task{entries.front().host_port(), {}};
        for (std::size_t i = 1; i < entries.size(); ++i)
            task.more.push_back(entries[i].host_port());
        const auto it = tasks_.emplace(std::string(task_id), std::move(task)).first;
        for (auto& entry : entries) {
            insert_port(entry.host_port(), Port{&it->first, entry.address, entry.mapping.container_port});
            if (!entry.mapping.name.empty())
                names_.insert_or_assign(entry.host_port(), std::move(entry.mapping.name));
            set_policy(entry.host_port(), entry.mapping.access);
            use(entry.destination(), true);
        }
    }
    for (const auto& destination : touched)
        settle(destination);
}

void TaskIndex::add_port(const HostPort& host_port, std::string_view task_id, const Destination& destination, std::string name)
{
    auto task = tasks_.find(task_id);
    if (task == tasks_.end()) {
        task = tasks_.emplace(std::string(task_id), TaskPorts{host_port, {}}).first;
    } else {
        // In host-port order, as entries() promises.
        auto& ports = task->second;
        HostPort later = host_port;
        if (later < ports.first)
            std::swap(later, ports.first);
        ports.more.insert(std::upper_bound(ports.more.begin(), ports.more.end(), later), later);
    }
    insert_port(host_port, Port{&task->first, destination.address, destination.port});
    if (!name.empty())
        names_.insert_or_assign(host_port, std::move(name));
    if (counting(destination.address.family) && !ingress::claim_value(destination)) {
        ++backends_[destination].uses;
        recheck(destination);
    }
}

void TaskIndex::remove_port(const HostPort& host_port)
{
    const auto port = ports_.find(host_port);
    if (port == ports_.end())
        return;
    const Destination destination{port->second.address, host_port.protocol, port->second.container_port};
    const auto task = tasks_.find(*port->second.task);
    erase_port(host_port);
    auto& ports = task->second;
    if (ports.first != host_port) {
        std::erase(ports.more, host_port);
    } else if (!ports.more.empty()) {
        ports.first = ports.more.front();
        ports.more.erase(ports.more.begin());
    } else {
        tasks_.erase(task);
    }
    if (counting(destination.address.family) && !ingress::claim_value(destination)) {
        --backends_[destination].uses;
        recheck(destination);
    }
}

bool TaskIndex::apply_ingress_record(layout::Family family, const ruleset::Element& element, bool removed)
{
    if (element.set != layout::ingress_backends_set)
        return false;
    const auto record = ingress::decode_record_key(family, element);
    if (!counting(family) || !record)
        return true;
    const std::pair key{record->port, record->destination()};
    if (removed ? ingress_records_.erase(key) == 0 : !ingress_records_.insert(key).second)
        return true;  // already as announced
    auto& uses = backends_[key.second].uses;
    removed ? --uses : ++uses;
    recheck(key.second);
    return true;
}

bool TaskIndex::holds_ingress_record(layout::Family family, const ruleset::Element& record) const
{
    const auto decoded = ingress::decode_record_key(family, record);
    return decoded && ingress_records_.contains({decoded->port, decoded->destination()});
}

void TaskIndex::recheck(const Destination& destination)
{
    const auto it = backends_.find(destination);
    if (it == backends_.end() || it->second.present == (it->second.uses > 0))
        mismatched_.erase(destination);
    else
        mismatched_.insert(destination);
    if (it != backends_.end() && !it->second.present && it->second.uses == 0)
        backends_.erase(it);
}

void TaskIndex::apply(layout::Family family, const ruleset::Element& element, bool removed, std::vector<std::string>& touched)
{
    if (element.set == layout::backends_set) {
        const auto destination = layout::decode_destination_element(family, element);
        if (!counting(family) || !destination)
            return;
        backends_[*destination].present = !removed;
        recheck(*destination);
        return;
    }
    if (apply_ingress_record(family, element, removed))
        return;
    if (apply_policy(family, element, removed)) {
        // The port's policy changed: its owner's ports are no longer as published.
        const auto bound = element.set == layout::bound_policed_set || element.set == layout::bound_allowed_set;
        if (const auto key = layout::decode_host_port_key(family, element.key, bound))
            if (const auto* owner = this->owner(*key))
                touched.push_back(*owner);
        return;
    }
    if (element.set != layout::ports_map && element.set != layout::bound_ports_map)
        return;
    const auto decoded = layout::decode_port_element(family, element);
    if (!decoded)
        return;  // a key we never write; it cannot collide with ours either
    if (const auto* owner = this->owner(decoded->key)) {
        touched.push_back(*owner);
        // Added again: only after its deletion in the same transaction, which was announced first.
        remove_port(decoded->key);
    }
    if (removed)
        return;
    auto owner = layout::parse_owner_comment(element.comment);
    const std::string_view task_id = owner ? std::string_view(owner->task_id) : foreign_owner;
    touched.emplace_back(task_id);
    add_port(decoded->key, task_id, decoded->destination, owner ? std::move(owner->name) : std::string());
    if (!owner && !element.comment.empty())
        set_foreign_comment(decoded->key, element.comment);
}

void TaskIndex::forget_set(layout::Family family, std::string_view set, std::vector<std::string>& touched)
{
    if (set == layout::backends_set) {
        std::vector<Destination> present;
        for (const auto& [destination, backend] : backends_)
            if (backend.present && destination.address.family == family)
                present.push_back(destination);
        for (const auto& destination : present) {
            backends_[destination].present = false;
            recheck(destination);
        }
        return;
    }
    if (set == layout::ingress_backends_set) {
        std::vector<std::pair<HostPort, Destination>> gone;
        for (const auto& record : ingress_records_)
            if (record.first.family() == family)
                gone.push_back(record);
        for (const auto& [port, destination] : gone) {
            ingress_records_.erase({port, destination});
            --backends_[destination].uses;
            recheck(destination);
        }
        return;
    }
    const auto forget_policy = [&](auto& map, bool bound) {
        std::erase_if(map, [&](const auto& item) {
            const bool gone = item.first.family() == family && item.first.bound() == bound;
            if (const auto* owner = gone ? this->owner(item.first) : nullptr)
                touched.push_back(*owner);
            return gone;
        });
    };
    if (set == layout::policed_set || set == layout::bound_policed_set)
        return forget_policy(limits_, set == layout::bound_policed_set);
    if (set == layout::allowed_set || set == layout::bound_allowed_set)
        return forget_policy(allowed_, set == layout::bound_allowed_set);
    if (set != layout::ports_map && set != layout::bound_ports_map)
        return;
    const bool bound = set == layout::bound_ports_map;
    std::vector<HostPort> gone;
    for (const auto& [host_port, port] : ports_)
        if (host_port.bound() == bound && host_port.family() == family)
            gone.push_back(host_port);
    for (const auto& host_port : gone) {
        touched.push_back(*owner(host_port));
        remove_port(host_port);
    }
}

void TaskIndex::forget_family(layout::Family family, bool counting, std::vector<std::string>& touched)
{
    for (const char* set : {layout::ports_map, layout::bound_ports_map, layout::backends_set, layout::ingress_backends_set,
                            layout::policed_set, layout::bound_policed_set, layout::allowed_set, layout::bound_allowed_set})
        forget_set(family, set, touched);
    std::erase_if(backends_, [&](const auto& backend) { return backend.first.address.family == family; });
    std::erase_if(mismatched_, [&](const Destination& destination) { return destination.address.family == family; });
    counting_[layout::family_index(family)] = counting;
}

std::vector<std::string> TaskIndex::task_ids() const
{
    std::vector<std::string> out;
    out.reserve(tasks_.size());
    for (const auto& [task_id, ports] : tasks_)
        if (task_id != foreign_owner)
            out.push_back(task_id);
    return out;
}

std::vector<PublishedPort> TaskIndex::all() const
{
    // Ordered by host port, as promised, though kept in a hash map.
    std::vector<std::pair<HostPort, const Port*>> ordered;
    ordered.reserve(ports_.size());
    for (const auto& [host_port, port] : ports_)
        ordered.emplace_back(host_port, &port);
    std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<PublishedPort> out;
    out.reserve(ordered.size());
    for (const auto& [host_port, port] : ordered) {
        auto entry = make_entry(host_port, *port);
        entry.mapping.access = layout::caller_policy(std::move(entry.mapping.access.allow), entry.mapping.access);
        auto owner = entry.mapping.publish_mode == PublishMode::ingress ? *ingress_service(host_port) : *port->task;
        out.push_back(PublishedPort{std::move(owner), layout::to_string(entry.address), std::move(entry.mapping)});
    }
    return out;
}

ruleset::Commit plan_replace(const TaskIndex& index, std::string_view task_id, const std::vector<IndexEntry>& wanted)
{
    const TaskChange change{task_id, &wanted};
    return plan_replace(index, std::span(&change, 1));
}

ruleset::Commit plan_replace(const TaskIndex& index, std::span<const TaskChange> changes)
{
    std::vector<std::vector<IndexEntry>> currents;
    currents.reserve(changes.size());
    std::size_t operations = index.mismatched().size();
    for (const auto& change : changes) {
        currents.push_back(index.entries(change.task_id));
        // At most: each current port and its destination out, each wanted port and its destination in.
        operations += 2 * (currents.back().size() + change.wanted->size());
    }
    // Most changes are of one family: the part of the other is made when it is first needed.
    ruleset::Commit commit;
    const auto tx = [&](layout::Family family) -> ruleset::Transaction& {
        const bool fresh = commit.find(layout::table(family)) == nullptr;
        auto& part = commit.part(layout::table(family));
        if (fresh)
            part.reserve(operations);
        return part;
    };

    DestinationDelta delta(index);
    const auto count = [&](const Destination& destination, int by) { delta.count(destination, by); };
    // Ports whose policy elements go: every one removed or added (a policy is written anew with its
    // port), each once, deleted before anything is added.
    std::vector<HostPort> repoliced;
    for (std::size_t i = 0; i < changes.size(); ++i) {
        for (const auto& entry : currents[i]) {
            if (contains(*changes[i].wanted, entry))
                continue;
            tx(entry.host_port().family())
                .remove(layout::port_element(entry.host_port(), entry.destination(),
                                             layout::owner_comment(changes[i].task_id, entry.mapping.name)));
            count(entry.destination(), -1);
            repoliced.push_back(entry.host_port());
        }
        for (const auto& entry : *changes[i].wanted)
            if (!contains(currents[i], entry)) {
                count(entry.destination(), +1);
                repoliced.push_back(entry.host_port());
            }
    }
    std::sort(repoliced.begin(), repoliced.end());
    repoliced.erase(std::unique(repoliced.begin(), repoliced.end()), repoliced.end());
    for (const auto& host_port : repoliced)
        for (auto& element : index.policy_elements(host_port))
            tx(host_port.family()).remove(std::move(element));
    delta.count_mismatched();
    delta.write(tx);
    for (std::size_t i = 0; i < changes.size(); ++i) {
        for (const auto& entry : *changes[i].wanted) {
            if (contains(currents[i], entry))
                continue;
            // create, not add: an existing key is another task's port, and the kernel then refuses the
            // whole transaction with EEXIST even if our own view was stale.
            tx(entry.host_port().family())
                .create(layout::port_element(entry.host_port(), entry.destination(),
                                             layout::owner_comment(changes[i].task_id, entry.mapping.name)));
            for (auto& element : layout::policy_elements(entry.host_port(), entry.mapping.access))
                tx(entry.host_port().family()).add(std::move(element));
        }
    }
    return commit;
}

void add_ingress_destinations(const TaskIndex& index, ruleset::Commit& commit)
{
    DestinationDelta delta(index);
    for (const auto& part : commit.parts()) {
        const auto family = part.table().family;
        if (!index.counting(family))
            continue;
        // What the records are as the commit goes, by key: a record deleted and created again (a
        // changed weight or draining state) stays one use.
        std::map<ruleset::Bytes, bool> held;
        for (const auto& operation : part.operations()) {
            const auto* element = std::get_if<ruleset::Element>(&operation.object);
            if (!element || element->set != layout::ingress_backends_set)
                continue;
            const auto record = ingress::decode_record_key(family, *element);
            if (!record)
                continue;
            const auto was = held.try_emplace(element->key, index.holds_ingress_record(family, *element)).first;
            const bool is = operation.verb != ruleset::Verb::remove;
            if (was->second != is)
                delta.count(record->destination(), is ? 1 : -1);
            was->second = is;
        }
    }
    delta.count_mismatched();
    delta.write([&](layout::Family family) -> ruleset::Transaction& { return commit.part(layout::table(family)); });
}

}  // namespace warren::nft
