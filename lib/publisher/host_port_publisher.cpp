// SPDX-License-Identifier: Apache-2.0
// The publisher's policy: validate, check conflicts against an exact view of the kernel, commit one
// transaction guarded by the ruleset generation id, and retry from a fresh view when another
// writer got there first. All undo is the kernel's: a refused transaction changes nothing.
#include <warren/nft/host_port_publisher.hpp>

#include "backoff.hpp"
#include "netlink/kernel_backend.hpp"
#include "publisher/layout.hpp"
#include "publisher/task_index.hpp"
#include "publisher/validation.hpp"

#include <warren/nft/error.hpp>

#include <cerrno>
#include <mutex>

namespace warren::nft {

namespace {

std::string describe(const layout::HostPort& host_port)
{
    return std::to_string(host_port.port) + "/" + std::string(to_string(host_port.protocol));
}
}  // namespace

class HostPortPublisher::Impl {
public:
    explicit Impl(std::unique_ptr<ruleset::Backend> backend) : backend_(std::move(backend))
    {
        std::lock_guard lock(mutex_);
        // On start-up the fixed rules are rewritten once, repairing any edited behind our back.
        refresh(true);
    }

    void publish(std::string_view task_id, std::string_view container_ip, std::span<const PortMapping> ports)
    {
        validation::check_task_id(task_id);
        const auto address = validation::parse_container_ip(container_ip);
        std::vector<IndexEntry> wanted;
        for (auto& mapping : validation::check_ports(ports))
            wanted.push_back(IndexEntry{std::move(mapping), address});

        std::lock_guard lock(mutex_);
        for (Backoff backoff; backoff.next();) {
            if (!fresh_)
                refresh(false);
            if (index_.entries(task_id) == wanted) {
                // Already published exactly like this, unless someone changed the table since
                // (`nft flush ruleset`, another process unpublishing): then look again.
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
            if (try_commit(plan_replace(index_, task_id, wanted))) {
                index_.replace(task_id, std::move(wanted));
                return;
            }
        }
        throw contention();
    }

    void unpublish(std::string_view task_id)
    {
        validation::check_task_id(task_id);
        std::lock_guard lock(mutex_);
        for (Backoff backoff; backoff.next();) {
            if (!fresh_)
                refresh(false);
            if (index_.entries(task_id).empty()) {
                // Unknown to our view; make sure no other process published it since.
                if (backend_->generation() == generation_)
                    return;
                fresh_ = false;
                continue;
            }
            if (try_commit(plan_replace(index_, task_id, {}))) {
                index_.replace(task_id, {});
                return;
            }
        }
        throw contention();
    }

    std::vector<PortMapping> published(std::string_view task_id)
    {
        validation::check_task_id(task_id);
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

    void remove_table()
    {
        std::lock_guard lock(mutex_);
        for (Backoff backoff; backoff.next();) {
            const auto snapshot = backend_->snapshot(layout::table(), {}, {});
            if (snapshot.exists && !commit_guarded(ruleset::Transaction(layout::table()).remove(layout::table()),
                                                   snapshot.generation))
                continue;
            // The next call reads the table again, finds it missing and creates it.
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
            refresh(false);
    }

    // Reads the table at one generation, completing or recreating it first if needed (it vanishes
    // with `nft flush ruleset`), and rebuilds the index from what the kernel holds.
    void refresh(bool rewrite_rules)
    {
        for (Backoff backoff; backoff.next();) {
            auto snapshot = backend_->snapshot(layout::table(), layout::chain_names(), layout::element_sets());
            if (auto repair = layout::ensure_transaction(snapshot, rewrite_rules)) {
                if (!commit_guarded(*repair, snapshot.generation))
                    continue;
                rewrite_rules = false;
                snapshot = backend_->snapshot(layout::table(), layout::chain_names(), layout::element_sets());
                if (layout::ensure_transaction(snapshot, false))
                    continue;  // someone removed part of it again in between
            }
            index_ = TaskIndex::from_snapshot(snapshot);
            generation_ = snapshot.generation;
            fresh_ = true;
            return;
        }
        throw contention();
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
            const auto* owner = index_.owner(entry.host_port());
            if (!owner || *owner == task_id)
                continue;
            const auto existing = index_.entry(entry.host_port());
            std::string message = "host port " + describe(entry.host_port()) + " is already published by ";
            message += owner->empty() ? std::string("another program (an element without a warren-nft owner)")
                                      : "task \"" + *owner + "\"";
            message += " to " + layout::to_string(existing->address) + ":" + std::to_string(existing->mapping.container_port);
            message += "; nothing was changed for task \"" + std::string(task_id) + "\"";
            return Error(errc::port_conflict, std::move(message), EEXIST, "publish " + describe(entry.host_port()));
        }
        return std::nullopt;
    }

    static Error contention()
    {
        return Error(errc::ruleset_changed,
                     "other writers kept changing the nftables ruleset; nothing was changed, retry later");
    }

    std::unique_ptr<ruleset::Backend> backend_;
    std::mutex mutex_;
    TaskIndex index_;
    std::uint32_t generation_ = 0;
    bool fresh_ = false;  // index_ was exact at generation_
};

HostPortPublisher::HostPortPublisher() : HostPortPublisher(std::make_unique<netlink::KernelBackend>()) {}

HostPortPublisher::HostPortPublisher(std::unique_ptr<ruleset::Backend> backend)
    : impl_(std::make_unique<Impl>(std::move(backend)))
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

void HostPortPublisher::remove_table() { impl_->remove_table(); }

const KernelFeatures& HostPortPublisher::kernel_features() const noexcept { return impl_->features(); }

}  // namespace warren::nft
