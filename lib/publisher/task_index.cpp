// SPDX-License-Identifier: Apache-2.0
#include "publisher/task_index.hpp"

#include <algorithm>

namespace warren::nft {

using layout::Destination;
using layout::HostPort;

namespace {
const std::vector<IndexEntry> no_entries;

bool contains(const std::vector<IndexEntry>& entries, const IndexEntry& entry)
{
    return std::find(entries.begin(), entries.end(), entry) != entries.end();
}
}  // namespace

TaskIndex TaskIndex::from_snapshot(const ruleset::TableSnapshot& snapshot)
{
    TaskIndex index;
    std::map<std::string, std::vector<IndexEntry>, std::less<>> tasks;
    if (auto ports = snapshot.elements.find(layout::ports_map); ports != snapshot.elements.end()) {
        for (const auto& element : ports->second) {
            const auto decoded = layout::decode_port_element(element);
            if (!decoded)
                continue;  // a key we never write; it cannot collide with ours either
            const auto owner = layout::parse_owner_comment(element.comment);
            IndexEntry entry{PortMapping{decoded->key.port, decoded->destination.port, decoded->key.protocol,
                                         PublishMode::host, owner ? owner->name : std::string()},
                             decoded->destination.address};
            tasks[owner ? owner->task_id : std::string(foreign_owner)].push_back(std::move(entry));
        }
    }
    for (auto& [task, entries] : tasks)
        index.assign(task, std::move(entries));
    // What the backends set really holds, which may differ from what the ports map implies if
    // someone edited it by hand; plan_replace() then adds or deletes exactly what is needed.
    index.present_.clear();
    if (auto backends = snapshot.elements.find(layout::backends_set); backends != snapshot.elements.end()) {
        for (const auto& element : backends->second)
            if (const auto destination = layout::decode_destination_element(element))
                index.present_.insert(*destination);
    }
    for (const auto& destination : index.present_)
        if (!index.uses_.contains(destination))
            index.mismatched_.insert(destination);
    for (const auto& [destination, uses] : index.uses_)
        if (!index.present_.contains(destination))
            index.mismatched_.insert(destination);
    return index;
}

const std::vector<IndexEntry>& TaskIndex::entries(std::string_view task_id) const
{
    const auto it = tasks_.find(task_id);
    return it == tasks_.end() ? no_entries : it->second;
}

const std::string* TaskIndex::owner(const HostPort& host_port) const
{
    const auto it = owners_.find(host_port);
    return it == owners_.end() ? nullptr : it->second;
}

const IndexEntry* TaskIndex::entry(const HostPort& host_port) const
{
    const auto* task = owner(host_port);
    if (!task)
        return nullptr;
    for (const auto& e : entries(*task))
        if (e.host_port() == host_port)
            return &e;
    return nullptr;
}

std::uint32_t TaskIndex::destination_uses(const Destination& destination) const
{
    const auto it = uses_.find(destination);
    return it == uses_.end() ? 0 : it->second;
}

bool TaskIndex::destination_present(const Destination& destination) const { return present_.contains(destination); }

void TaskIndex::replace(std::string_view task_id, std::vector<IndexEntry> entries)
{
    assign(task_id, std::move(entries));
    // The committed transaction repaired these too.
    for (const auto& destination : mismatched_) {
        if (uses_.contains(destination))
            present_.insert(destination);
        else
            present_.erase(destination);
    }
    mismatched_.clear();
}

void TaskIndex::assign(std::string_view task_id, std::vector<IndexEntry> entries)
{
    std::vector<Destination> touched;
    if (auto old = tasks_.find(task_id); old != tasks_.end()) {
        for (const auto& entry : old->second) {
            owners_.erase(entry.host_port());
            if (--uses_[entry.destination()] == 0)
                uses_.erase(entry.destination());
            touched.push_back(entry.destination());
        }
        tasks_.erase(old);
    }
    if (!entries.empty()) {
        std::sort(entries.begin(), entries.end(), [](const IndexEntry& a, const IndexEntry& b) {
            return a.host_port() < b.host_port();
        });
        auto [it, inserted] = tasks_.emplace(std::string(task_id), std::move(entries));
        for (const auto& entry : it->second) {
            owners_[entry.host_port()] = &it->first;
            ++uses_[entry.destination()];
            touched.push_back(entry.destination());
        }
    }
    // plan_replace() adds a backend on its first use and deletes it after its last.
    for (const auto& destination : touched) {
        if (uses_.contains(destination))
            present_.insert(destination);
        else
            present_.erase(destination);
    }
}

std::vector<PublishedPort> TaskIndex::all() const
{
    std::vector<PublishedPort> out;
    out.reserve(owners_.size());
    for (const auto& [host_port, task] : owners_)
        if (const auto* e = entry(host_port))
            out.push_back(PublishedPort{*task, layout::to_string(e->address), e->mapping});
    return out;
}

ruleset::Transaction plan_replace(const TaskIndex& index, std::string_view task_id, const std::vector<IndexEntry>& wanted)
{
    const auto& current = index.entries(task_id);
    ruleset::Transaction tx(layout::table());

    std::map<Destination, int> delta;
    for (const auto& entry : current) {
        if (contains(wanted, entry))
            continue;
        tx.remove(layout::port_element(entry.host_port(), entry.destination(),
                                       layout::owner_comment(task_id, entry.mapping.name)));
        --delta[entry.destination()];
    }
    for (const auto& entry : wanted)
        if (!contains(current, entry))
            ++delta[entry.destination()];
    for (const auto& destination : index.mismatched())
        delta.try_emplace(destination, 0);

    for (const auto& [destination, change] : delta) {
        const auto uses = static_cast<int>(index.destination_uses(destination)) + change;
        const bool present = index.destination_present(destination);
        if (uses == 0 && present)
            tx.remove(layout::destination_element(destination));
        else if (uses > 0 && !present)
            tx.add(layout::destination_element(destination));
    }
    for (const auto& entry : wanted) {
        if (contains(current, entry))
            continue;
        // create, not add: an existing key is another task's port, and the kernel then refuses the
        // whole transaction with EEXIST even if our own view was stale.
        tx.create(layout::port_element(entry.host_port(), entry.destination(),
                                       layout::owner_comment(task_id, entry.mapping.name)));
    }
    return tx;
}

}  // namespace warren::nft
