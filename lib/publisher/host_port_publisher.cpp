// SPDX-License-Identifier: Apache-2.0
// The publisher's policy: validate, check conflicts against an exact view of the kernel, commit one
// transaction guarded by the ruleset generation id, and retry from a fresh view when another
// writer got there first. All undo is the kernel's: a refused transaction changes nothing.
// Only a change of published ports writes: the table is created or repaired inside the transaction
// of the first change that finds it missing or incomplete, so reading never creates it.
#include <warren/nft/host_port_publisher.hpp>

#include "backoff.hpp"
#include "netlink/kernel_backend.hpp"
#include "publisher/layout.hpp"
#include "publisher/task_index.hpp"
#include "publisher/validation.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <optional>

namespace warren::nft {

class HostPortPublisher::Impl {
public:
    Impl(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options)
        : backend_(std::move(backend)), options_(options)
    {
    }

    void publish(std::string_view task_id, std::string_view container_ip, std::span<const PortMapping> ports)
    {
        validate_task_id(task_id);
        const auto address = validation::parse_container_ip(container_ip);
        std::vector<IndexEntry> wanted;
        for (auto& port : validation::check_ports(ports))
            wanted.push_back(IndexEntry{std::move(port.mapping), address, port.host_port.address});

        std::lock_guard lock(mutex_);
        for (Backoff backoff; backoff.next();) {
            if (!fresh_)
                refresh();
            if (index_.entries(task_id) == wanted && !repair_) {
                // Already published exactly like this, unless someone changed the table since
                // (`nft flush ruleset`, another process unpublishing): then look again. (A table in
                // need of repair is repaired even then: a publish that succeeds must carry traffic.)
                if (backend_->generation() == generation_)
                    return;
                fresh_ = false;
                continue;
            }
            if (const auto conflict = find_conflict(task_id, wanted)) {
                // Our view may predate another process's unpublish: only a current view may refuse.
                if (backend_->generation() != generation_) {
                    fresh_ = false;
                    continue;
                }
                throw *conflict;
            }
            if (commit_change(plan_replace(index_, task_id, wanted))) {
                index_.replace(task_id, std::move(wanted));
                return;
            }
        }
        throw contention();
    }

    void unpublish(std::string_view task_id)
    {
        validate_task_id(task_id);
        std::lock_guard lock(mutex_);
        for (Backoff backoff; backoff.next();) {
            if (!fresh_)
                refresh();
            if (index_.entries(task_id).empty()) {
                // Unknown to our view; make sure no other process published it since.
                if (backend_->generation() == generation_)
                    return;
                fresh_ = false;
                continue;
            }
            if (commit_change(plan_replace(index_, task_id, {}))) {
                index_.replace(task_id, {});
                return;
            }
        }
        throw contention();
    }

    std::vector<PortMapping> published(std::string_view task_id)
    {
        validate_task_id(task_id);
        std::lock_guard lock(mutex_);
        sync();
        std::vector<PortMapping> out;
        for (const auto& entry : index_.entries(task_id))
            out.push_back(entry.mapping);
        return out;
    }

    std::vector<PublishedPort> all()
    {
        std::lock_guard lock(mutex_);
        sync();
        return index_.all();
    }

    std::vector<DestinationCounters> counters()
    {
        static const std::vector<std::string> backends{layout::backends_set};
        std::lock_guard lock(mutex_);
        // Not from the view: counters move without the generation moving. The set's declaration is
        // read first, so that a table that does not count (the default) costs no dump of its elements.
        const auto declared = backend_->snapshot(layout::table(), {}, {}).sets;
        if (const auto set = declared.find(layout::backends_set); set == declared.end() || !set->second.counter)
            return {};
        const auto snapshot = backend_->snapshot(layout::table(), {}, backends);
        // A set without counters reads back zeros for every element: nothing to report (the table may
        // have been replaced by one that does not count in between).
        const auto set = snapshot.sets.find(layout::backends_set);
        if (set == snapshot.sets.end() || !set->second.counter)
            return {};
        std::vector<std::pair<layout::Destination, const ruleset::Element*>> found;
        if (const auto elements = snapshot.elements.find(layout::backends_set); elements != snapshot.elements.end())
            for (const auto& element : elements->second)
                if (const auto destination = layout::decode_destination_element(element))
                    found.emplace_back(*destination, &element);
        std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<DestinationCounters> out;
        out.reserve(found.size());
        for (const auto& [destination, element] : found)
            out.push_back(DestinationCounters{layout::to_string(destination.address), destination.protocol,
                                              destination.port, element->packets, element->bytes});
        return out;
    }

    void remove_table()
    {
        std::lock_guard lock(mutex_);
        for (Backoff backoff; backoff.next();) {
            const auto snapshot = backend_->snapshot(layout::table(), {}, {});
            if (snapshot.exists && !commit_guarded(ruleset::Transaction(layout::table()).remove(layout::table()),
                                                   snapshot.generation))
                continue;
            // The next call reads the table again and finds it missing; the next publish creates it.
            index_ = TaskIndex();
            fresh_ = false;
            return;
        }
        throw contention();
    }

    const KernelFeatures& features() const noexcept { return backend_->features(); }

private:
    // Brings the view up to date when anyone has committed since we last looked.
    void sync()
    {
        if (!fresh_ || backend_->generation() != generation_)
            refresh();
    }

    // Reads the table at one generation and rebuilds the index from what the kernel holds. Changes
    // nothing: what the table lacks (all of it after `nft flush ruleset`) is only noted in repair_,
    // for the next change to carry. Throws Error when the table holds objects of another layout.
    void refresh()
    {
        const auto snapshot = backend_->snapshot(layout::table(), layout::chain_names(), layout::element_sets());
        // A table that counts keeps counting: another publisher of this node wanted its counters.
        // Where the kernel cannot look keys up in a map alone, every table counts (KernelFeatures).
        const bool counting = options_.counters || layout::counts(snapshot) || !backend_->features().map_lookups;
        repair_ = layout::ensure_transaction(snapshot, rewrite_rules_, counting);
        index_ = TaskIndex::from_snapshot(snapshot, counting);
        generation_ = snapshot.generation;
        fresh_ = true;
    }

    // Commits a change of elements, preceded in the same transaction by the table's repair if the
    // view says it needs one. Returns false if another writer committed first.
    bool commit_change(const ruleset::Transaction& change)
    {
        if (!repair_)
            return try_commit(change);
        auto transaction = *repair_;
        if (!try_commit(transaction.append(change)))
            return false;
        repair_.reset();
        rewrite_rules_ = false;
        return true;
    }

    // Commits with the generation guard. Returns false if another writer committed first.
    bool commit_guarded(const ruleset::Transaction& tx, std::uint32_t generation)
    {
        try {
            backend_->commit(tx, generation);
            return true;
        } catch (const Error& e) {
            if (e.code() == errc::ruleset_changed)
                return false;
            throw;
        }
    }

    bool try_commit(const ruleset::Transaction& tx)
    {
        try {
            if (!commit_guarded(tx, generation_)) {
                fresh_ = false;
                return false;
            }
        } catch (const Error& e) {
            // A kernel EEXIST on our element is another task's port that our view did not show,
            // unless nobody committed since our view: then it is the kernel's final word.
            if (e.kernel_errno() == EEXIST && backend_->generation() != generation_) {
                fresh_ = false;
                return false;
            }
            if (e.kernel_errno() == ENOBUFS || e.kernel_errno() == ETIMEDOUT)
                fresh_ = false;  // the outcome is unknown: read it back before trusting the view
            throw;
        }
        // Our guarded commit was the only one since generation_; the kernel moved on by exactly one,
        // skipping 0, which would switch off the kernel's generation check.
        if (++generation_ == 0)
            ++generation_;
        return true;
    }

    std::optional<Error> find_conflict(std::string_view task_id, const std::vector<IndexEntry>& wanted) const
    {
        for (const auto& entry : wanted) {
            const auto taken = index_.clash(entry.host_port(), task_id);
            if (!taken)
                continue;
            const auto* owner = index_.owner(*taken);
            const auto existing = index_.entry(*taken);
            const auto wanted_port = layout::describe(entry.host_port());
            std::string message = "host port " + wanted_port;
            if (*taken != entry.host_port())
                message += " overlaps host port " + layout::describe(*taken) +
                           " (a port on all addresses includes every address), which";
            message += " is already published by ";
            message += owner->empty() ? std::string("another program (an element without a warren-nft owner)")
                                      : "task \"" + *owner + "\"";
            message += " to " + layout::to_string(existing->address) + ":" + std::to_string(existing->mapping.container_port);
            message += "; nothing was changed for task \"" + std::string(task_id) + "\"";
            return Error(errc::port_conflict, std::move(message), EEXIST, "publish " + wanted_port);
        }
        return std::nullopt;
    }

    static Error contention()
    {
        return Error(errc::ruleset_changed,
                     "other writers kept changing the nftables ruleset; nothing was changed, retry later");
    }

    std::unique_ptr<ruleset::Backend> backend_;
    const PublisherOptions options_;
    std::mutex mutex_;
    TaskIndex index_;
    std::uint32_t generation_ = 0;
    bool fresh_ = false;  // index_ and repair_ were exact at generation_
    // What the table lacks, as of the view: it goes first into the next transaction that changes
    // anything. nullopt when the table is complete.
    std::optional<ruleset::Transaction> repair_;
    // The first change of a publisher also rewrites the fixed rules, repairing rules edited behind
    // our back (a rule with our comment but other expressions looks complete to the view).
    bool rewrite_rules_ = true;
};

HostPortPublisher::HostPortPublisher(PublisherOptions options)
    : HostPortPublisher(std::make_unique<netlink::KernelBackend>(), options)
{
}

HostPortPublisher::HostPortPublisher(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options)
    : impl_(std::make_unique<Impl>(std::move(backend), options))
{
}

HostPortPublisher::~HostPortPublisher() = default;

void HostPortPublisher::publish_ports(std::string_view task_id, std::string_view container_ip,
                                      std::span<const PortMapping> ports)
{
    impl_->publish(task_id, container_ip, ports);
}

void HostPortPublisher::unpublish_ports(std::string_view task_id) { impl_->unpublish(task_id); }

std::vector<PortMapping> HostPortPublisher::published_ports(std::string_view task_id) const
{
    return impl_->published(task_id);
}

std::vector<PublishedPort> HostPortPublisher::all_published_ports() const { return impl_->all(); }

std::vector<DestinationCounters> HostPortPublisher::destination_counters() const { return impl_->counters(); }

void HostPortPublisher::remove_table() { impl_->remove_table(); }

const KernelFeatures& HostPortPublisher::kernel_features() const noexcept { return impl_->features(); }

}  // namespace warren::nft
