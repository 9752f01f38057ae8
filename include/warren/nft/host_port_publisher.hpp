// SPDX-License-Identifier: Apache-2.0
// Publishes container ports on the host through the nftables tables `ip warren` (IPv4) and
// `ip6 warren` (IPv6), changed together in one transaction when a task has both.
#pragma once

#include <warren/nft/export.hpp>
#include <warren/nft/ingress.hpp>
#include <warren/nft/kernel_features.hpp>
#include <warren/nft/port_mapping.hpp>
#include <warren/nft/validation.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace warren::nft {

// One published port of one address family together with the task that owns it and where it
// leads. container_ip is of that family; mapping.host_ip is empty for a port on every address of
// that family, or the one host address the port is bound to. A port published on every address of
// a dual-stack task is two PublishedPorts, one per family. An element another program added (its
// comment is not one a publisher writes, docs/errors.md) has an empty task_id, and its comment as
// mapping.name with every byte outside printable ASCII, and the backslash, written as \xNN. A port
// of an ingress service (docs/ingress.md) has the service as task_id, PublishMode::ingress, the
// family's unspecified address as container_ip, container port 0 and no name: its backends are in
// HostPortPublisher::ingress_services().
struct PublishedPort {
    std::string task_id;
    std::string container_ip;
    PortMapping mapping;

    friend bool operator==(const PublishedPort&, const PublishedPort&) = default;
};

// The traffic counters of one destination of published ports: a container IP, protocol and
// container port, an element of the counting `backends` set. Only a table that counts has that set
// (one that a publisher with PublisherOptions::counters created or made count); a table that does
// not count has no `backends` set and no counters. They count the packets and bytes of connections
// DNATed to that destination that the host forwarded, in both directions, plus the first packet of
// each connection (where it is masqueraded); traffic from the host itself is counted by that first
// packet only. Host ports that lead to the same destination share its counters, which start at 0
// when the destination's first port is published (or when the table starts counting) and go with
// its last.
struct DestinationCounters {
    std::string container_ip;
    Protocol protocol = Protocol::tcp;
    std::uint16_t container_port = 0;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;

    friend bool operator==(const DestinationCounters&, const DestinationCounters&) = default;
};

// One task's ports as an agent wants them published: an element of reconcile()'s desired state,
// the same arguments publish_ports() takes.
struct TaskPorts {
    std::string task_id;
    std::string container_ip;  // IPv4 or IPv6
    std::vector<PortMapping> ports;
    // The task's IPv6 address when container_ip is its IPv4 address (a dual-stack task); else empty.
    std::string container_ipv6 = {};

    friend bool operator==(const TaskPorts&, const TaskPorts&) = default;
};

// What a self-healing publisher found damaged and how it repaired it (PublisherOptions::on_repair).
struct RepairReport {
    // What the damaging commits did to table ip warren, e.g. "table ip warren deleted" or "element
    // deleted from set ports (x3)", built from the kernel's announcements; "found incomplete at start"
    // for damage done before the publisher started, "an earlier repair failed" for a retry. Names read
    // from the kernel are escaped (bytes outside printable ASCII as \xNN), as in `error` and `skipped`.
    std::string damage;
    // The last damaging commit as the kernel announced it: its ruleset generation, and the pid and
    // name of the thread that committed it (0 and "" when the kernel did not say). The name is
    // whatever that process calls itself, not escaped: escape it before printing.
    std::uint32_t generation = 0;
    std::uint32_t pid = 0;
    std::string process;
    // Published ports the repair put back (with the ingress ports whose claims, records or slots it
    // wrote, or whose leftovers it deleted: docs/ingress.md), and whether it also rebuilt part of
    // the fixed layout.
    std::size_t ports_restored = 0;
    bool layout_restored = false;
    // From reading the damaging commit's notifications to the kernel's acknowledgement of the repair.
    std::chrono::microseconds duration{0};
    // Empty when the repair committed. Otherwise why it failed; nothing was changed, and the
    // publisher tries again a second later, and then at every further change of the table.
    std::string error;
    // Ports it could not restore because another owner holds their host port now, as "8080/tcp of
    // task web-1 (held by task other)": restoring them would take that port away from its owner. And
    // tasks it stopped keeping because another writer changed them back after each of 5 repairs in
    // 10 seconds ("task web-1 no longer kept: ..."), as another self-healing publisher would.
    std::vector<std::string> skipped;
};

// Which connections to published ports are masqueraded (their source address replaced by the
// host's address on the way to the container).
enum class Masquerading {
    // Every connection: the container sees the host's address as the client's (the behaviour of
    // the original package and of docker with its userland proxy).
    always,
    // Only where the reply would otherwise not come back through the host: connections from the
    // host itself (its own addresses and loopback), and hairpin connections, whose client is on the
    // network the container is reached through (a container calling its own or a neighbour's
    // published port through a host address). Clients from elsewhere keep their address.
    when_needed,
};

// How much a message passed to PublisherOptions::logger matters.
enum class LogLevel { debug, info, warning, error };

// How a publisher lays out table ip warren when its changes create or complete it.
struct PublisherOptions {
    // Count packets and bytes per destination, for destination_counters() and `warren-nft list`.
    // Off by default: a table that does not count has no `backends` set, and a publish writes only
    // its ports (one map element each). Counting needs a `backends` element per destination too,
    // for which the kernel allocates per-CPU memory when it is published (docs/performance.md).
    // On: a table this publisher creates counts. A table without counters gets them with this
    // publisher's first change, in that change's transaction: it creates a counting `backends` set,
    // fills it with every destination of every published port, and rewrites the masquerade and
    // forward rules to look it up (counting starts then, at 0).
    // Off: a table this publisher creates does not count, except on kernels that cannot look a key
    // up in a map without its value (KernelFeatures::map_lookups; Debian 12's 6.1): there the
    // masquerade and forward rules need the `backends` set, so every table counts. A publisher without counters never
    // removes them: a table that counts keeps counting (another publisher asked for it), and this
    // publisher keeps its destinations in `backends`. To stop counting, remove the table
    // (remove_table()) and publish again.
    bool counters = false;
    // Keep what this publisher published in the kernel. On: a thread of the publisher follows the
    // kernel's change notifications and, as soon as anyone else removes or alters table ip warren
    // (`nft flush ruleset`, `nft delete table`, a flushed chain, a deleted element or rule), puts back
    // in one transaction the fixed layout and every port this publisher published or adopted and
    // has not unpublished, and the ingress services it published or adopted (claims, backends, slots:
    // docs/ingress.md). Such a publisher owns those tasks: unpublish them through it, since an
    // unpublish by any other program (another process, `warren-nft unpublish`) is undone like any
    // other damage. Ports another owner took over in between are left to it (RepairReport::skipped).
    // Every self-healing publisher adopts the whole table: run one per host (docs/architecture.md).
    // Off (the default): damage stays until the next publish_ports() of this publisher repairs the
    // layout (ports deleted behind its back stay deleted).
    bool self_heal = false;
    // Called after each repair attempt of a self-healing publisher, on its healing thread, with the
    // publisher's lock held: log it, do not call the publisher from it.
    std::function<void(const RepairReport&)> on_repair = {};
    // Which connections are masqueraded. Like `counters` it is a property of the tables' fixed
    // rules: the first change of a publisher (or a repair) writes the rules of its own setting, so
    // every publisher of a host should use the same.
    Masquerading masquerading = Masquerading::always;
    // Also publish ports that are on every IPv4 address (host_ip empty or 0.0.0.0) on 127.0.0.1 and
    // the rest of 127.0.0.0/8, for the host's own processes. Off by default: a host service listening
    // on 127.0.0.1:<port> stays reachable there; on, connections to 127.0.0.1:<port> reach the
    // container instead (docs/user-guide.md). A table property, like `masquerading`. Ports bound to
    // a 127.0.0.0/8 address are published there whatever this says.
    bool wildcard_on_localhost = false;
    // After a commit that removes or re-targets a UDP or SCTP host port, delete the kernel's
    // connection tracking entries of connections to it (so that a client's next datagram reaches
    // the new container instead of following the old entry's NAT); after one that publishes such a
    // port, delete the unreplied entries to it made before it existed. Done on a thread of the
    // publisher, after the commit, so that no call waits for it (the kernel walks its whole
    // conntrack table to find them): wait_for_conntrack_cleanup() waits. Its failure does not undo
    // or fail the change; it is logged (a warning). It also ends the connections of drained ingress
    // backends at their deadlines (drain_backend()); off, deadlines are only recorded.
    bool conntrack_cleanup = true;
    // Called with one line of plain ASCII for what the publisher does that an agent may want to
    // see: retries after another writer's commit (debug), repairs of a self-healing publisher (info,
    // or error when one failed), tables read again in full because the kernel's change
    // announcements were lost, commits the kernel refused, with its reason, and what failed after a
    // change had committed (conntrack cleanup, counters added after a large change) (warning).
    // Called from whichever thread did it (the caller's, the healing or the cleanup thread),
    // sometimes with the publisher's lock held: do not call the publisher from it. What it throws is
    // ignored. Empty (the default): nothing is logged; the library never prints.
    using Logger = std::function<void(LogLevel level, std::string_view message)>;
    Logger logger = {};
    // Refuse to publish a host port that a socket of the host (of the publisher's network namespace)
    // would otherwise receive connections for: a listening TCP or SCTP socket, or a bound UDP
    // socket, on that port and protocol, of the port's family (or an IPv6 socket that also takes
    // IPv4), on the port's host address or on every address, or on any address for a port on every
    // address. Such a publish fails with errc::port_conflict naming the socket and, where /proc says,
    // its process. Ports a task already publishes are not checked again. Off: not checked.
    bool check_listening_sockets = true;
    // Refuse to publish a port on a host address (PortMapping::host_ip) that no interface of the
    // host (of the publisher's network namespace) has: nothing would ever arrive there. Such a
    // publish fails with errc::invalid_argument naming the address and the port. Every 127.0.0.0/8
    // address counts as the host's (loopback takes the whole /8 when it is up). Ports a task
    // already publishes are not checked again. Off: an agent may publish on an address it is about
    // to add.
    bool check_host_addresses = true;
    // Where host ports asked for as 0 are chosen from (inclusive): a port no published port and no
    // socket (as above, whatever check_listening_sockets says) uses. The default is the kernel's
    // default ephemeral range.
    struct PortRange {
        std::uint16_t first = 32768;
        std::uint16_t last = 60999;
        friend bool operator==(const PortRange&, const PortRange&) = default;
    };
    PortRange automatic_ports = {};
};

struct MetricsSnapshot;
struct TableInspection;

class WARREN_NFT_EXPORT HostPortPublisher {
public:
    // Limits enforced on every request, before anything is sent to the kernel (validation.hpp).
    static constexpr std::size_t max_task_id_length = nft::max_task_id_length;
    static constexpr std::size_t max_name_length = nft::max_name_length;
    static constexpr std::size_t max_ports_per_request = nft::max_ports_per_request;

    // Opens two netlink sockets, one for transactions and one that follows the kernel's change
    // announcements, and probes the kernel; the ruleset is neither read nor changed yet (a
    // self-healing publisher reads it at once, and adopts every task in it). Table `ip warren` is
    // adopted as it is: the first call reads it, and from then on the announcements keep the view
    // current; commits to other tables cost nothing. Only a call that changes published ports writes, and its transaction also
    // creates the table (or completes it, after `nft flush ruleset` or a deleted chain) when it is
    // missing or incomplete; the first such transaction of a publisher also rewrites the fixed rules,
    // repairing rules edited behind its back. Reading, unpublishing and remove_table() never create
    // the table (a task can only have ports in a table that exists).
    explicit HostPortPublisher(PublisherOptions options = {});
    ~HostPortPublisher();
    HostPortPublisher(const HostPortPublisher&) = delete;
    HostPortPublisher& operator=(const HostPortPublisher&) = delete;

    // Publishes all `ports` of a task in one atomic transaction, which creates or repairs the tables
    // first if needed (`ip6 warren` only once an IPv6 port is published). If the task already has
    // published ports, they are replaced by `ports` in the same transaction; publishing exactly what
    // is published sends nothing (unless a table needs a repair). Throws Error; on error nothing
    // changed. Each port is published for every family the task has an address of, on the host
    // addresses its host_ip names (validate_host_ip()): empty, every address of each of those
    // families; 0.0.0.0 or ::, every address of that family only; one address, that address. A
    // dual-stack task is one transaction over both tables.
    // The arguments are checked first with validate_task_id(), validate_container_addresses() and
    // validate_ports(); the other calls check their task id with validate_task_id(). The id of an
    // ingress service (publish_ingress()) is invalid_argument here, in add_ports() and in reconcile().
    // Returns the task's ports as published_ports() would read them back right after: with the host
    // ports chosen for those asked for as 0 (a port the task already publishes for the same
    // container port, protocol and host address is kept, else a free one of
    // PublisherOptions::automatic_ports; none free: errc::port_conflict) and allow-lists in
    // canonical form.
    std::vector<PortMapping> publish_ports(std::string_view task_id, const ContainerAddresses& container,
                                           std::span<const PortMapping> ports);
    // The same for a task with one address, IPv4 or IPv6.
    std::vector<PortMapping> publish_ports(std::string_view task_id, std::string_view container_ip,
                                           std::span<const PortMapping> ports);
    // Publishes `ports` beside the ports the task publishes already, in one transaction: a port of
    // `ports` with the protocol, host port and host address of a published port of the task
    // replaces it, the task's other ports stay as they are. The task's ports are read again at each
    // attempt of the transaction, so a change another writer commits meanwhile is kept, never
    // undone. `container` must hold the addresses the task publishes to, one per family it
    // publishes in and none of another (invalid_argument names the one that differs or is missing).
    // A port on 0.0.0.0 or :: replaces only that family's half of a port the task publishes on every
    // address of both families. Checks and returns as publish_ports() does: every port of the task;
    // a port asked for again with host port 0 keeps the host port it has.
    std::vector<PortMapping> add_ports(std::string_view task_id, const ContainerAddresses& container,
                                       std::span<const PortMapping> ports);
    // Removes the task's ports that `ports` names by protocol, host port and host address (empty
    // names a port on every address, in each family the task publishes in; 0.0.0.0 or :: that
    // family's part of it only; the container port is not looked at), in one transaction, read as
    // add_ports() reads them; the others stay. Names the task does not publish are not an error; a
    // bad host address, protocol or host port 0 is invalid_argument, before anything is read or
    // sent. Returns the ports the task still publishes.
    std::vector<PortMapping> remove_ports(std::string_view task_id, std::span<const PortMapping> ports);
    // Removes every port of the task, or of the ingress service of that id (its claims, backends and
    // slots), in one transaction. Unknown ids are not an error, and send nothing.
    void unpublish_ports(std::string_view task_id);

    // Ingress mode (ingress.hpp, docs/ingress.md): each new connection to one of the service's
    // host ports goes to one of its backends, in proportion to their weights.
    // Publishes `ports` (PublishMode::ingress, a host port, host_ip empty: every address of each
    // family the backends have addresses of; no name or access policy) for `backends` in one
    // transaction. Publishing the service again replaces its ports and backends: only the slots of
    // backends removed or reweighted move, established connections keep their backend. Checked
    // first (invalid_argument, nothing sent): the service id as validate_task_id(), the ports as
    // validate_ports() plus the above, backend addresses as validate_container_ip(), ports 1-65535,
    // weights 1-256, no backend twice, at most 4,096 backends per port and family. A host port
    // another owner holds (a host-mode task, another program, another service) is port_conflict;
    // an id that publishes host-mode ports is invalid_argument.
    void publish_ingress(std::string_view service, std::span<const PortMapping> ports, std::span<const IngressBackend> backends);
    // Marks the service's backend at `address` (with `port`, or every port of that address) as
    // draining, with the deadline if given, and moves its slots to the active backends, in one
    // transaction: it gets no new connections, and its established ones keep going. With a
    // deadline (recorded in the tables, read back by ingress_services()), the connections the
    // backend still has through those ports at the deadline, of every protocol, are deleted from
    // connection tracking (PublisherOptions::conntrack_cleanup), once a check of the tables then
    // shows the backend still draining with that deadline, or gone from the port. This publisher
    // does it if it still exists then; otherwise the first publisher made after the deadline does
    // (a publisher takes over the deadlines the tables hold when it is made). Draining the backend
    // again replaces its deadline (without one: none), publishing it as active again cancels it,
    // and removing it from the service keeps it. A deadline that has passed ends the connections at
    // once. Draining the last active backend of a port, an unknown service and an unknown backend
    // are invalid_argument, and change nothing.
    void drain_backend(std::string_view service, std::string_view address, std::optional<std::uint16_t> port = std::nullopt,
                       std::optional<std::chrono::sys_seconds> deadline = std::nullopt);
    // Every ingress service in the tables with its backends, their weights and state, read from the
    // kernel now (a restarted publisher sees what an earlier one published). Reads only.
    std::vector<IngressService> ingress_services() const;
    // Makes the table publish exactly `desired`, in one transaction: tasks the table publishes that
    // `desired` lacks are unpublished, missing or different ones published, identical ones left
    // alone (when everything already matches, nothing is sent). For an agent that restarts and
    // knows which tasks it runs. Elements without a warren-nft owner are not tasks and are left
    // alone; a host port they hold is a port_conflict. Every task and port is validated first, and
    // two tasks (or one task twice) in `desired` that claim the same host port are invalid_argument;
    // on any error nothing changed.
    void reconcile(std::span<const TaskPorts> desired);
    // The ports the kernel currently publishes for the task (empty if none), ordered by protocol,
    // then host port. For an ingress service: one mapping per protocol and host port, with
    // PublishMode::ingress, host_ip empty and container port 0 (its backends: ingress_services()).
    // A port published on every address of both families of a dual-stack task reads back as one
    // mapping with an empty host_ip; one on every address of one family only reads back as 0.0.0.0
    // or :: when the task has ports of the other family too, else empty.
    // Reads only: changes nothing, not even a missing or damaged table.
    std::vector<PortMapping> published_ports(std::string_view task_id) const;
    // Every published port of every task, one per family, ordered by protocol, host port, then family
    // and host address.
    // Reads only.
    std::vector<PublishedPort> all_published_ports() const;
    // The counters of every destination in the kernel's `backends` set, ordered by container IP,
    // protocol and container port; empty when the table does not exist or does not count
    // (PublisherOptions::counters). Counters change with every
    // packet but the ruleset generation does not, so each call reads them from the kernel anew.
    // Match them to ports by (container_ip, protocol, container_port). Reads only.
    std::vector<DestinationCounters> destination_counters() const;

    // Deletes tables `ip warren` and `ip6 warren` with everything in them, in one transaction: every
    // published port of every task is gone. Nothing else is touched. Not an error if the table is already gone. The
    // next publish_ports() of this or any publisher creates the table again.
    void remove_table();

    const KernelFeatures& kernel_features() const noexcept;

    // Tables ip warren and ip6 warren as this publisher sees them (inspection.hpp): whether each
    // exists, is dormant or counts, why the publisher would refuse it, what its next change would
    // repair and every port it publishes, ownerless elements included, with a one-line fix for each
    // problem. Each table is read anew, in one snapshot, and judged by the repair planner a change
    // uses, with this publisher's options. Reads only: changes nothing, not even a missing, damaged
    // or refused table.
    TableInspection inspect() const;

    // What this publisher has done since it was made (counters and histograms), with the ports the
    // table publishes now (its view, every owner's) and the destination counters (read from the
    // kernel, as destination_counters()). Reads only. metrics.hpp prints it for Prometheus.
    MetricsSnapshot metrics() const;

    // Waits until the connection tracking cleanups of the changes made so far, and those of drain
    // deadlines passed by now, are done (PublisherOptions::conntrack_cleanup): from then on no
    // client's packet follows an entry those changes made stale.
    void wait_for_conntrack_cleanup();

    // The implementation: opaque outside the library, which also builds publishers over other
    // backends (the in-memory fake of its unit tests) with it.
    class Impl;

private:
    WARREN_NFT_LOCAL explicit HostPortPublisher(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace warren::nft
