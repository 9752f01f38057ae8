// SPDX-License-Identifier: Apache-2.0
// The publisher's view of the ports and bound_ports maps of both families' tables: who owns which
// host port, rebuilt from kernel snapshots and kept current by applying committed changes.
#pragma once

#include "publisher/access_policy.hpp"
#include "publisher/layout.hpp"
#include "ruleset/backend.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <array>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace warren::nft {

// One published port as the index keeps it.
struct IndexEntry {
    PortMapping mapping;
    layout::Address address;       // the container's
    layout::Address host_address;  // the unspecified address of its family for all of the host's addresses
    layout::HostPort host_port() const { return {mapping.protocol, mapping.host_port, host_address}; }
    layout::Destination destination() const { return {address, mapping.protocol, mapping.container_port}; }
    friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

class TaskIndex {
public:
    // Ports-map elements whose comment names no task (added by hand or by another program, or with a
    // comment that is not one a publisher writes: parse_owner_comment()) are kept under this id: they
    // still occupy their host ports. Their comment is kept as it is and only ever shown escaped.
    static constexpr std::string_view foreign_owner = "";

    // With `counting`, the index also keeps the table's backends set: one element per destination
    // that a published port or an ingress record (a backend of an ingress port) leads to (in a table
    // that counts, the publisher writes them).
    static TaskIndex from_snapshot(layout::Family family, const ruleset::TableSnapshot& snapshot, bool counting);
    // Adds what the family's table holds to an index that holds nothing of that family.
    void load(layout::Family family, const ruleset::TableSnapshot& snapshot, bool counting);

    TaskIndex() = default;
    // ports_ points into tasks_' keys: a copy would point into the original. Moving keeps them.
    TaskIndex(const TaskIndex&) = delete;
    TaskIndex& operator=(const TaskIndex&) = delete;
    TaskIndex(TaskIndex&&) = default;
    TaskIndex& operator=(TaskIndex&&) = default;

    // The task's entries ordered by protocol and host port; empty if it publishes nothing.
    std::vector<IndexEntry> entries(std::string_view task_id) const;
    // The task that owns the host port, if any.
    const std::string* owner(const layout::HostPort& host_port) const;
    // The owner of a published host port as a message names it: task "web-1", or another program's
    // element with its comment escaped and cut short.
    std::string describe_owner(const layout::HostPort& host_port) const;
    // A port of another owner than `task_id` that `host_port` overlaps (layout::overlap()), if any.
    std::optional<layout::HostPort> clash(const layout::HostPort& host_port, std::string_view task_id) const;
    // A port that `host_port` overlaps whose owner `blocks`, if any.
    std::optional<layout::HostPort> clash(const layout::HostPort& host_port,
                                          const std::function<bool(std::string_view owner)>& blocks) const;
    std::optional<IndexEntry> entry(const layout::HostPort& host_port) const;

    // Ingress claims (docs/ingress.md) are ports elements without a task owner, kept under
    // foreign_owner like any such element, so that they take their host ports. These tell them
    // apart: an element on every address whose comment is a claim's (task=SVC ingress) and whose
    // value is a claim's (the unspecified address, port 0). entry() and all() show a claim with
    // PublishMode::ingress, container port 0 and no name.
    // The service whose claim the element of `host_port` is, if it is one.
    std::optional<std::string> ingress_service(const layout::HostPort& host_port) const;
    // The host ports the service's claims hold, in order; empty when `service` is no ingress service.
    std::vector<layout::HostPort> ingress_ports(std::string_view service) const;
    bool counting(layout::Family family) const noexcept { return counting_[layout::family_index(family)]; }
    std::uint32_t destination_uses(const layout::Destination& destination) const;
    bool destination_present(const layout::Destination& destination) const;
    // Whether the index holds the ingress record (an element of the ingress_backends set) as a use of
    // its destination: only in a table that counts.
    bool holds_ingress_record(layout::Family family, const ruleset::Element& record) const;

    // Records that the kernel now publishes exactly `entries` for the task (none: unpublished),
    // after a transaction from plan_replace() committed.
    void replace(std::string_view task_id, std::vector<IndexEntry> entries);
    // The mismatched destinations as they are after a transaction from plan_replace() committed,
    // which repairs them all, whether or not it changed any task (replace() includes this).
    void mismatched_repaired();

    // Follows an announced element change of the ports maps (or of the backends set and the ingress
    // records, in a table that counts); elements of keys we never write are ignored, as in
    // from_snapshot(). Adds the tasks whose ports changed (the port's owner before and after) to
    // `touched`. Applying an element twice changes nothing.
    void apply(layout::Family family, const ruleset::Element& element, bool removed, std::vector<std::string>& touched);
    // Follows the announcement that a set of the family's table lost all its elements (deleted or flushed).
    void forget_set(layout::Family family, std::string_view set, std::vector<std::string>& touched);
    // Follows the deletion of the family's table; its counting goes with it, `counting` is the new table's.
    void forget_family(layout::Family family, bool counting, std::vector<std::string>& touched);
    // Whether any port of the family is published (constant time: asked on every change that may repair).
    bool has_family(layout::Family family) const noexcept;
    // The tasks that publish ports, the ownerless elements (foreign_owner) left out.
    std::vector<std::string> task_ids() const;

    // Destinations where the backends set disagrees with the ports maps (edited by hand, or all of
    // them when the set is about to be created): present without a port leading there, or missing
    // although one does. plan_replace() repairs them.
    const std::set<layout::Destination>& mismatched() const noexcept { return mismatched_; }

    // The policy elements the family's table holds for the port's key (whether or not the port is
    // published): what a change of the port's policy deletes first.
    std::vector<ruleset::Element> policy_elements(const layout::HostPort& host_port) const;

    // Every port; foreign_owner's with an empty task id and their comment, escaped (printable()), as
    // name, but ingress claims with their service as task id.
    std::vector<PublishedPort> all() const;
    std::size_t size() const noexcept { return ports_.size(); }

private:
    // The layout keeps memory per published port low (a node agent may hold 100,000; the budget
    // and warren-nft-bench --mode memory's figures are in docs/performance.md): one node per port,
    // one per task, one per destination, and a name or a bound address only where there is one.
    struct Port {
        const std::string* task;  // key of tasks_: nodes of unordered maps do not move
        layout::Address address;
        std::uint16_t container_port;
    };
    // Most tasks publish one port: that one is stored inline, only further ones on the heap.
    struct TaskPorts {
        layout::HostPort first;
        std::vector<layout::HostPort> more;
        template <typename F>
        void for_each(F&& f) const
        {
            f(first);
            for (const auto& port : more)
                f(port);
        }
    };
    struct Backend {
        std::uint32_t uses = 0;  // published ports and ingress records leading there
        bool present = false;    // the element is in the kernel's backends set
    };

    void assign(std::string_view task_id, std::vector<IndexEntry> entries);
    void insert_port(const layout::HostPort& host_port, const Port& port);
    void erase_port(const layout::HostPort& host_port);
    // foreign_comments_ changes only through these, which keep claims_by_service_ with it.
    void set_foreign_comment(const layout::HostPort& host_port, std::string comment);
    void erase_foreign_comment(const layout::HostPort& host_port);
    // One port in or out of its task, with the bookkeeping of its destination.
    void add_port(const layout::HostPort& host_port, std::string_view task_id, const layout::Destination& destination,
                  std::string name);
    void remove_port(const layout::HostPort& host_port);
    void recheck(const layout::Destination& destination);
    // Follows one ingress record in or out of a table that counts; false for an element that is none.
    bool apply_ingress_record(layout::Family family, const ruleset::Element& element, bool removed);
    IndexEntry make_entry(const layout::HostPort& host_port, const Port& port) const;
    void settle(const layout::Destination& destination);

    // Hash maps: at 10,000 published ports an ordered map's lookups walk 14 nodes each, and a
    // publish makes a few dozen of them; on a busy machine with cold caches they cost more than the
    // kernel's whole transaction.
    struct TaskIdHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view id) const noexcept { return std::hash<std::string_view>{}(id); }
    };
    struct HostPortHash {
        std::size_t operator()(const layout::HostPort& p) const noexcept;
    };
    struct DestinationHash {
        std::size_t operator()(const layout::Destination& d) const noexcept;
    };

    std::unordered_map<std::string, TaskPorts, TaskIdHash, std::equal_to<>> tasks_;  // nodes never move
    std::unordered_map<layout::HostPort, Port, HostPortHash> ports_;
    // The ports bound to one address, in order: what a port on all addresses overlaps (clash()).
    std::set<layout::HostPort> bound_;
    std::unordered_map<layout::HostPort, std::string, HostPortHash> names_;  // of the ports that have one
    // The raw comments of foreign_owner's elements that have one: anything their writer chose.
    std::unordered_map<layout::HostPort, std::string, HostPortHash> foreign_comments_;
    // The ports whose foreign comment reads as a claim (task=SVC ingress), by service: finding a
    // service's claims (every host-mode publish checks that its id is no service's) is one lookup
    // instead of a walk over every service's claims, whose cost grew with the services
    // (docs/performance.md, ingress mode). Candidates: ingress_service() still decides, from the
    // port's value too.
    std::unordered_map<std::string, std::set<layout::HostPort>, TaskIdHash, std::equal_to<>> claims_by_service_;
    std::array<bool, 2> counting_{};             // per family (layout::family_index)
    std::array<std::size_t, 2> family_ports_{};  // entries of ports_ per family, kept by insert_port and erase_port
    std::unordered_map<layout::Destination, Backend, DestinationHash> backends_;  // only when counting_
    std::set<layout::Destination> mismatched_;
    // The ingress records of tables that count, by port (on every address) and the destination of
    // their backend: each is one use of its destination.
    std::set<std::pair<layout::HostPort, layout::Destination>> ingress_records_;
    // What the policy sets hold, per port key: the limits of its policed element (AccessPolicy
    // without allow) and the source CIDRs of its allowed elements (as held, in order). Kept apart from ports_: the
    // kernel keeps them apart too, and a port has a policy only where both say so (make_entry()).
    std::unordered_map<layout::HostPort, AccessPolicy, HostPortHash> limits_;
    std::unordered_map<layout::HostPort, std::vector<layout::SourceRange>, HostPortHash> allowed_;
    // Follows one policy element (decoded as ours or not) into limits_ and allowed_.
    bool apply_policy(layout::Family family, const ruleset::Element& element, bool removed);
    void set_policy(const layout::HostPort& host_port, const AccessPolicy& policy);
};

// The commit that turns the task's published ports into `wanted` (empty: unpublish), with a part
// for each family's table it changes. Ports that
// stay the same are not touched, so their conntrack flows and counters survive a re-publish. In a
// table that counts it also adds and removes backends elements, and repairs mismatched ones, so a
// refused transaction leaves even those as they were.
ruleset::Commit plan_replace(const TaskIndex& index, std::string_view task_id, const std::vector<IndexEntry>& wanted);

// The same for several tasks at once (each task once): every removed port goes before every added
// one, so a host port may move from one task to another, and destinations are counted over all.
struct TaskChange {
    std::string_view task_id;
    const std::vector<IndexEntry>* wanted;
};
ruleset::Commit plan_replace(const TaskIndex& index, std::span<const TaskChange> changes);

// In a table that counts, adds to an ingress commit (ingress_plan) the backends elements its
// ingress records need: one for a destination of a created record that had no use, its deletion
// for one whose last use the commit removes, shared with host-mode ports by the same count as
// plan_replace()'s; and the repair of the mismatched ones, as plan_replace() makes it.
void add_ingress_destinations(const TaskIndex& index, ruleset::Commit& commit);

}  // namespace warren::nft
