// SPDX-License-Identifier: Apache-2.0
// The publisher's policy: validate, check conflicts against the view of the kernel's table (kept
// current from the kernel's change announcements, publisher/table_view), commit one transaction
// guarded by the ruleset generation id. When another writer got there first, its announcements say
// whether it touched our table: if not, the same transaction is committed again at once. All undo
// is the kernel's: a refused transaction changes nothing.
// Only a change of published ports writes: the table is created or repaired inside the transaction
// of the first change that finds it missing or incomplete, so reading never creates it. A
// self-healing publisher also repairs on its own thread (publisher/healer) as soon as others damage
// what it published.
#include <warren/nft/host_port_publisher.hpp>

#include "backoff.hpp"
#include "metrics/table_metrics.hpp"
#include "netlink/kernel_backend.hpp"
#include "printable.hpp"
#include "publisher/automatic_ports.hpp"
#include "publisher/batch_policy.hpp"
#include "publisher/flow_cleaner.hpp"
#include "publisher/log.hpp"
#include "publisher/metrics_recorder.hpp"
#include "publisher/observed_call.hpp"
#include "publisher/flow_cleanup.hpp"
#include "publisher/publisher_on.hpp"
#include "publisher/healer.hpp"
#include "publisher/ingress_deadlines.hpp"
#include "publisher/ingress_flows.hpp"
#include "publisher/ingress_service.hpp"
#include "publisher/inspection.hpp"
#include "publisher/layout.hpp"
#include "publisher/host_addresses.hpp"
#include "publisher/listening_sockets.hpp"
#include "publisher/table_view.hpp"
#include "publisher/task_index.hpp"
#include "publisher/validation.hpp"
#include "repair_text.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/metrics.hpp>
#include <warren/nft/validation.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <variant>

namespace warren::nft {

using layout::Family;
using Families = TableView::Families;

// The entries `ports` become for a container with `addresses`: a port on every address (empty
// host_ip) once per family the container has an address of, any other in its host address's
// family, which the container must have an address of.
std::vector<IndexEntry> wanted_entries(const validation::ContainerFamilies& addresses, std::span<const PortMapping> ports)
{
    std::vector<IndexEntry> wanted;
    // A task's ports usually share one policy: each family form is worked out once per request.
    struct FamilyForm {
        AccessPolicy policy;
        Family family;
        AccessPolicy form;
    };
    std::vector<FamilyForm> forms;
    const auto family_form = [&](const AccessPolicy& policy, const layout::HostPort& host_port) {
        for (const auto& known : forms)
            if (known.family == host_port.family() && known.policy == policy)
                return known.form;
        return forms
            .emplace_back(FamilyForm{policy, host_port.family(), layout::family_policy(policy, host_port.family(), host_port)})
            .form;
    };
    for (auto& port : validation::check_ports(ports)) {
        auto mapping = std::move(port.mapping);
        const auto entry = [&](const layout::Address& container, const layout::Address& host) {
            auto published = mapping;
            published.host_ip = host.unspecified() ? std::string() : layout::to_string(host);
            if (!mapping.access.empty())
                published.access = family_form(mapping.access, layout::HostPort{mapping.protocol, mapping.host_port, host});
            wanted.push_back(IndexEntry{std::move(published), container, host});
        };
        if (!port.host) {
            for (const auto& address : addresses)
                if (address)
                    entry(*address, layout::any_address(address->family));
            continue;
        }
        const auto& container = addresses[layout::family_index(port.host->family)];
        if (!container)
            throw Error(errc::invalid_argument,
                        "host port " + layout::describe(layout::HostPort{mapping.protocol, mapping.host_port, *port.host}) +
                            " is " + std::string(layout::family_name(port.host->family)) + ", but the task has no " +
                            std::string(layout::family_name(port.host->family)) +
                            " container address; give one, or publish the port on an address of the container's family");
        entry(*container, *port.host);
    }
    // In index order, as TaskIndex::entries() gives them back.
    std::sort(wanted.begin(), wanted.end(),
              [](const IndexEntry& a, const IndexEntry& b) { return a.host_port() < b.host_port(); });
    return wanted;
}

namespace {

// Commits refused only because another table changed are repeated at once; this bounds the run.
constexpr int max_prompt_retries = 64;

// A port published on a loopback address, or on every IPv4 address where those include loopback:
// connections from the host's 127.0.0.0/8 then need route_localnet towards the container.
bool reached_from_loopback(const IndexEntry& entry, bool wildcard_on_localhost)
{
    if (entry.address.family != Family::ip)
        return false;
    return entry.host_address.bytes[0] == 127 || (wildcard_on_localhost && !entry.host_port().bound());
}

// "10.88.0.5:80", "[fd00::5]:80"
std::string endpoint(const layout::Address& address, std::uint16_t port)
{
    return layout::display(address) + ":" + std::to_string(port);
}

Error contention()
{
    return Error(errc::ruleset_changed, "other writers kept changing the nftables ruleset; nothing was changed, retry later");
}

}  // namespace

class WARREN_NFT_LOCAL HostPortPublisher::Impl {
public:
    // Without `healing_thread`, a self-healing publisher repairs when on_announcements() is called.
    Impl(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options, bool healing_thread = true)
        : backend_(std::move(backend)),
          options_(std::move(options)),
          view_(*backend_, layout::RuleOptions{options_.counters, options_.masquerading, options_.wildcard_on_localhost},
                &recorder_, &log_)
    {
        if (options_.automatic_ports.first == 0 || options_.automatic_ports.last < options_.automatic_ports.first)
            throw Error(errc::invalid_argument, "automatic_ports " + std::to_string(options_.automatic_ports.first) + "-" +
                                                    std::to_string(options_.automatic_ports.last) +
                                                    " is not a range of ports; give first <= last, both 1-65535");
        // After the reads below: a due deadline starts the cleaner, whose check uses the view.
        if (!options_.self_heal) {
            adopt_deadlines();
            return;
        }
        view_.track_damage();
        bool damaged_at_start = false;
        {
            // What the table holds now is adopted: ours to keep from here on.
            std::lock_guard lock(mutex_);
            view_.catch_up();
            for (const auto& task : view_.index().task_ids())
                desired_.emplace(task, view_.index().entries(task));
            view_.take_damage();
            const auto ingress = read_ingress();
            for (const auto& service : ingress::services(ingress))
                keep_ingress(service.service, ingress::held_ports(ingress, service.service));
            // Damage done before we started (a chain deleted while no publisher watched) is repaired
            // at once, not at the next change of the table.
            damaged_at_start =
                (layout_needed() && !desired_.empty()) ||
                (!ingress_kept_.empty() && !ingress::plan_restore(services_ingress_state(ingress_kept_), ingress_kept_).empty());
            if (damaged_at_start)
                recheck_ = "found incomplete at start";
            // The drain deadlines of the tables' records came with the read of the tables.
            schedule_recorded();
        }
        if (!healing_thread)
            return;  // damage found at start is repaired by the first on_announcements()
        // From here on the healing thread owns recheck_ (under the lock): not read here again.
        healer_.emplace(view_.feed_fd(), wake_, [this] { return heal(); });
        if (damaged_at_start)
            wake_.signal();
    }

    ~Impl() { healer_.reset(); }

    // A member, so that it may call the publisher's private constructor.
    static HostPortPublisher publisher(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options)
    {
        return HostPortPublisher(std::make_unique<Impl>(std::move(backend), std::move(options)));
    }

    // `task_id` is checked already, before the addresses (its error comes first).
    std::vector<PortMapping> publish(std::string_view task_id, const validation::ContainerFamilies& addresses,
                                     std::span<const PortMapping> ports)
    {
        // Made once, before the lock is taken (bad input is refused then): `ports` is all there is.
        const auto entries = wanted_entries(addresses, ports);
        return change(task_id, [&] { return Asked{.addresses = addresses, .ports = {}, .given = ports, .entries = &entries}; });
    }

    // `ports` beside the task's published ones; one of them with the protocol, host port and host
    // address of a published port replaces it. The task's ports are read under the lock at each
    // attempt, so a change another writer commits in between is kept.
    std::vector<PortMapping> add(std::string_view task_id, const validation::ContainerFamilies& addresses,
                                 std::span<const PortMapping> ports)
    {
        wanted_entries(addresses, ports);
        return change(task_id, [&] {
            const auto entries = view_.index().entries(task_id);
            const auto families = task_families(entries);
            for (const auto family : layout::families) {
                const auto i = layout::family_index(family);
                const auto held = std::find_if(entries.begin(), entries.end(),
                                               [&](const IndexEntry& entry) { return entry.address.family == family; });
                // The task's ports in a family left out would be dropped, and ports on every
                // address would be published in a family added: the caller gives what the task has.
                if (held != entries.end() && (!addresses[i] || *addresses[i] != held->address))
                    throw Error(errc::invalid_argument,
                                "task \"" + printable(std::string(task_id)) + "\" publishes to container address " +
                                    layout::display(held->address) + ", not " +
                                    (addresses[i] ? layout::display(*addresses[i]) : std::string("none of its family")) +
                                    "; add ports with the task's own addresses, or publish the task anew with its new ones");
                if (!families[i] && addresses[i] && std::any_of(families.begin(), families.end(), [](bool has) { return has; }))
                    throw Error(errc::invalid_argument,
                                "task \"" + printable(std::string(task_id)) + "\" has no " +
                                    (family == Family::ip ? "IPv4" : "IPv6") + " container address, and " +
                                    layout::display(*addresses[i]) +
                                    " would publish its ports in that family too; publish the task anew with both addresses");
            }
            std::vector<PortMapping> merged;
            for (const auto& held : read_back(task_id)) {
                std::optional<PortMapping> left = held;
                for (const auto& port : ports) {
                    if (!left)
                        break;
                    // Asked for again with an automatic host port: the one it has is kept
                    // (choose_host_ports() finds it among the task's entries).
                    if (port.host_port == 0 && held.protocol == port.protocol && held.container_port == port.container_port &&
                        held.host_ip == port.host_ip)
                        left.reset();
                    else
                        left = without(*left, port, families);
                }
                if (left)
                    merged.push_back(std::move(*left));
            }
            merged.insert(merged.end(), ports.begin(), ports.end());
            return Asked{addresses, std::move(merged)};
        });
    }

    // The task's published ports but those named by `ports`; its last port removed, it has none.
    std::vector<PortMapping> remove(std::string_view task_id, std::span<const PortMapping> ports)
    {
        for (const auto& port : ports) {
            validate_host_ip(port.host_ip);
            if (port.protocol != Protocol::tcp && port.protocol != Protocol::udp && port.protocol != Protocol::sctp)
                throw Error(errc::invalid_argument, "a port to remove has no protocol of tcp, udp or sctp; nothing was changed");
            if (port.host_port == 0)
                throw Error(errc::invalid_argument,
                            "a port to remove names host port 0; name the host port; nothing was changed");
        }
        return change(task_id, [&] {
            Asked asked;
            const auto entries = view_.index().entries(task_id);
            for (const auto& entry : entries)
                asked.addresses[layout::family_index(entry.address.family)] = entry.address;
            const auto families = task_families(entries);
            bool changed = false;
            for (const auto& held : read_back(task_id)) {
                std::optional<PortMapping> left = held;
                for (const auto& port : ports)
                    if (left)
                        left = without(*left, port, families);
                changed = changed || left != held;
                if (left)
                    asked.ports.push_back(std::move(*left));
            }
            // Like an unpublish of a task without ports: nothing to change, nothing sent.
            asked.unchanged = !changed;
            return asked;
        });
    }

    // The families a task's entries are in, by layout::family_index.
    static std::array<bool, 2> task_families(const std::vector<IndexEntry>& entries)
    {
        std::array<bool, 2> out{};
        for (const auto& entry : entries)
            out[layout::family_index(entry.address.family)] = true;
        return out;
    }

    // The families a host address of a PortMapping covers when it names every address: "" those of
    // the task, 0.0.0.0 IPv4, :: IPv6; nullopt for one address.
    static std::optional<std::array<bool, 2>> every_address_families(const std::string& host_ip, const std::array<bool, 2>& task)
    {
        if (host_ip.empty())
            return task;
        const auto address = layout::parse_address(host_ip);
        if (!address || !address->unspecified())
            return std::nullopt;
        std::array<bool, 2> out{};
        out[layout::family_index(address->family)] = true;
        return out;
    }

    // What is left of `held` (as read_back() gives it) once the host port `named` is taken out:
    // nothing when `named` names all of it; `held` when it names another host port (protocol, host
    // port, host address); for a port on every address of both families that `named` names in one
    // family only (0.0.0.0 or ::), the other family's part, with that family's allowed sources.
    static std::optional<PortMapping> without(const PortMapping& held, const PortMapping& named, const std::array<bool, 2>& task)
    {
        if (held.protocol != named.protocol || held.host_port != named.host_port)
            return held;
        const auto held_on = every_address_families(held.host_ip, task);
        const auto named_on = every_address_families(named.host_ip, task);
        if (!held_on || !named_on) {
            const auto held_address = layout::parse_address(held.host_ip);
            const auto named_address = layout::parse_address(named.host_ip);
            const bool same = !held_on && !named_on && held_address && named_address && *held_address == *named_address;
            return same ? std::nullopt : std::optional(held);
        }
        std::array<bool, 2> left{};
        for (std::size_t i = 0; i < left.size(); ++i)
            left[i] = (*held_on)[i] && !(*named_on)[i];
        if (left == *held_on)
            return held;  // `named` takes none of it
        if (!left[0] && !left[1])
            return std::nullopt;
        const auto family = left[layout::family_index(Family::ip)] ? Family::ip : Family::ip6;
        auto part = held;
        part.host_ip = layout::to_string(layout::any_address(family));
        std::erase_if(part.access.allow, [&](const std::string& cidr) {
            const auto address = layout::parse_address(cidr.substr(0, cidr.find('/')));
            return address && address->family != family;
        });
        return part;
    }

    // The task's addresses and every port it is to publish, asked for under the lock at each attempt.
    struct Asked {
        validation::ContainerFamilies addresses{};
        std::vector<PortMapping> ports;
        // Instead of `ports`: the caller's ports, and the entries they become.
        std::span<const PortMapping> given{};
        const std::vector<IndexEntry>* entries = nullptr;
        // The task's ports stay as they are: nothing is sent, not even a repair.
        bool unchanged = false;
    };

    // Publishes what `ask` says the task's ports are to be, in one transaction (none: it has none).
    std::vector<PortMapping> change(std::string_view task_id, const std::function<Asked()>& ask)
    {
        std::lock_guard lock(mutex_);
        for (Backoff backoff; backoff.next();) {
            catch_up();
            const auto asked_now = ask();
            if (asked_now.unchanged)
                return read_back(task_id);
            if (auto refusal = ingress_id_error(task_id))
                throw std::move(*refusal);
            const auto& addresses = asked_now.addresses;
            const std::span<const PortMapping> ports = asked_now.entries ? asked_now.given : asked_now.ports;
            auto wanted = asked_now.entries ? *asked_now.entries
                          : ports.empty()   ? std::vector<IndexEntry>{}
                                            : wanted_entries(addresses, ports);
            const std::pair<std::string_view, const std::vector<IndexEntry>*> asked{task_id, &wanted};
            const auto sockets = sockets_for(std::span(&asked, 1));
            const auto absent = absent_addresses_for(std::span(&asked, 1));
            if (wants_automatic_ports(ports))
                wanted = wanted_entries(addresses, choose_ports(task_id, addresses, ports, sockets, {}));
            // Already published exactly like this (a table in need of repair is repaired even then:
            // a publish that succeeds must carry traffic).
            if (view_.index().entries(task_id) == wanted && !repair_due(families_of(wanted))) {
                allow_loopback(wanted);  // someone may have reset it since
                keep(task_id, std::move(wanted));
                return read_back(task_id);
            }
            if (auto conflict = find_conflict(task_id, wanted, [&](std::string_view owner) { return owner != task_id; }))
                throw std::move(*conflict);
            if (auto conflict = socket_conflict(task_id, wanted, sockets))
                throw std::move(*conflict);
            if (auto absent_address = address_error(task_id, wanted, absent))
                throw std::move(*absent_address);
            allow_loopback(wanted);
            const TaskChange change{task_id, &wanted};
            auto flows = stale_flows(view_.index(), std::span(&change, 1));
            if (commit_change(plan_replace(view_.index(), task_id, wanted))) {
                view_.index().replace(task_id, wanted);
                keep(task_id, std::move(wanted));
                forget(std::move(flows));
                return read_back(task_id);
            }
        }
        throw contention();
    }

    // An id is a task's or an ingress service's (ingress_id_error()); should a table hold both
    // anyway (written by two publishers at once), both go in the one transaction.
    void unpublish(std::string_view task_id)
    {
        validate_task_id(task_id);
        std::lock_guard lock(mutex_);
        static const std::vector<IndexEntry> none;
        for (Backoff backoff; backoff.next();) {
            catch_up();
            const bool host = !view_.index().entries(task_id).empty();
            const bool ingress = !view_.index().ingress_ports(task_id).empty();
            if (!host && !ingress) {
                keep(task_id, {});
                return;
            }
            const TaskChange change{task_id, &none};
            auto flows = stale_flows(view_.index(), std::span(&change, 1));
            auto commit = host ? plan_replace(view_.index(), task_id, {}) : ruleset::Commit{};
            const std::array services{task_id};
            const auto state = ingress ? ingress_state(services, {}) : ingress::TablesState{};
            auto ingress_commit = ingress ? ingress::plan_unpublish(state, task_id).commit : ruleset::Commit{};
            // plan_replace() repairs the mismatched backends elements already: only one of the two may.
            if (ingress && !host)
                add_ingress_destinations(view_.index(), ingress_commit);
            const auto departed = ingress::stale_flows(state, task_id, {});
            flows.insert(flows.end(), departed.begin(), departed.end());
            const auto claims = claim_changes(ingress_commit);
            commit.append(ingress_commit);
            // Empty when the tables no longer hold the claims the view showed: nothing to send.
            if (commit.empty() || commit_change(std::move(commit))) {
                view_.index().replace(task_id, {});
                apply_claims(claims);
                keep(task_id, {});
                keep_ingress(task_id, {});
                forget(std::move(flows));
                return;
            }
        }
        throw contention();
    }

    // invalid_argument when `task_id` is an ingress service's (its claims in the view): one id is
    // either a task's, with host-mode ports, or an ingress service's.
    std::optional<Error> ingress_id_error(std::string_view task_id) const
    {
        if (view_.index().ingress_ports(task_id).empty())
            return std::nullopt;
        return Error(errc::invalid_argument,
                     "\"" + printable(std::string(task_id)) +
                         "\" is an ingress service (publish_ingress()); an id is either a task's, with host-mode ports, or "
                         "an ingress service's: unpublish the service first or use another id; nothing was changed");
    }

    // Ingress mode (publisher/ingress_service): a change of the service planned from the view's
    // index and the ingress state of the service's ports and of `ports` (ingress_state()),
    // committed like any change.
    void change_ingress(std::string_view service, std::span<const layout::HostPort> ports,
                        const std::function<ingress::ServiceChange(const TaskIndex&, const ingress::TablesState&)>& plan,
                        std::span<const layout::HostPort> to_widen = {})
    {
        std::lock_guard lock(mutex_);
        const std::array services{service};
        for (Backoff backoff; backoff.next();) {
            catch_up();
            const auto state = ingress_state(services, ports, to_widen);
            auto change = plan(view_.index(), state);
            if (!change.commit.empty())
                add_ingress_destinations(view_.index(), change.commit);
            const auto claims = claim_changes(change.commit);
            auto flows = ingress::stale_flows(state, service, change.ports);
            if (change.commit.empty() || commit_change(std::move(change.commit))) {
                apply_claims(claims);
                schedule(ingress::deadlines(change.ports));
                keep_ingress(service, std::move(change.ports));
                forget(std::move(flows));
                return;
            }
        }
        throw contention();
    }

    // Records what the service should publish, for a self-healing publisher (none: forget it). Only
    // ports with an active backend can be put back.
    void keep_ingress(std::string_view service, std::vector<ingress::WantedPort> ports)
    {
        if (!options_.self_heal)
            return;
        std::erase_if(ports, [](const ingress::WantedPort& port) { return !ingress::has_active_backend(port); });
        if (ports.empty())
            ingress_kept_.erase(std::string(service));
        else
            ingress_kept_.insert_or_assign(std::string(service), std::move(ports));
    }

    // The ingress ports (protocol and host port, per family) an ingress commit writes elements of:
    // every element it writes is keyed by the port's ports-map key first.
    static std::size_t ports_written(const ruleset::Commit& commit)
    {
        const auto length = layout::host_port_key_length(Family::ip, false);
        // By family index, not Family: a standard container instantiated over an internal type
        // would be exported (tests/symbols).
        std::set<std::pair<std::size_t, ruleset::Bytes>> ports;
        for (const auto& part : commit.parts())
            for (const auto& operation : part.operations())
                if (const auto* element = std::get_if<ruleset::Element>(&operation.object))
                    ports.emplace(
                        layout::family_index(part.table().family),
                        ruleset::Bytes(element->key.begin(), element->key.begin() + std::min(length, element->key.size())));
        return ports.size();
    }

    // Who holds the host port of an ingress port of `service` instead, as a message names them; nullopt
    // when nobody or the service does.
    std::optional<std::string> ingress_owner(const ingress::TablesState& state, const layout::HostPort& port,
                                             std::string_view service) const
    {
        const auto& claims = state[layout::family_index(port.family())].ports;
        if (const auto held = claims.find(port); held != claims.end())
            return held->second.service == service ? std::nullopt
                                                   : std::optional("ingress service " + quote(held->second.service));
        const auto& index = view_.index();
        const auto clash = index.clash(port, [](std::string_view) { return true; });
        return clash ? std::optional(index.describe_owner(*clash)) : std::nullopt;
    }

    // For a self-healing publisher: puts back the kept ingress services' claims, records and slots
    // that others deleted or changed, and deletes the leftovers of both tables (slots and records of
    // no claim), in one transaction. A port another owner holds now stays theirs (in `skipped`).
    // Returns the number of ingress ports it changed.
    std::size_t restore_ingress(std::vector<std::string>& skipped) { return restore_services(ingress_kept_, skipped); }

    // Puts back what `services` want of their claims, records and slots, and deletes every
    // leftover, in one transaction; a port another owner holds now is left to it and named in
    // `skipped`. Returns the number of ports written to. The lock is held.
    std::size_t restore_services(const std::map<std::string, std::vector<ingress::WantedPort>, std::less<>>& services,
                                 std::vector<std::string>& skipped)
    {
        if (services.empty())
            return 0;
        for (Backoff backoff; backoff.next();) {
            const auto state = services_ingress_state(services);
            auto kept = services;
            for (auto& [service, ports] : kept)
                std::erase_if(ports, [&, &name = service](const ingress::WantedPort& port) {
                    const auto owner = ingress_owner(state, port.port, name);
                    if (owner)
                        skipped.push_back("ingress port " + layout::describe(port.port) + " of service " + quote(name) +
                                          " (held by " + *owner + ")");
                    return owner.has_value();
                });
            auto commit = ingress::plan_restore(state, kept);
            if (commit.empty())
                return 0;
            const auto ports = ports_written(commit);
            add_ingress_destinations(view_.index(), commit);
            const auto claims = claim_changes(commit);
            if (commit_change(std::move(commit))) {
                apply_claims(claims);
                return ports;
            }
            view_.catch_up();
        }
        throw contention();
    }

    // Claims are ports elements, which the index keeps (as elements without a task owner), and in a
    // table that counts it keeps the ingress records and backends elements too; the view leaves our
    // commit's announcements out. Applying an element twice changes nothing.
    void apply_claims(const std::vector<std::pair<Family, ruleset::Operation>>& claims)
    {
        std::vector<std::string> touched;
        for (const auto& [family, operation] : claims)
            view_.index().apply(family, std::get<ruleset::Element>(operation.object), operation.verb == ruleset::Verb::remove,
                                touched);
    }

    // The operations of `commit` on ports, ingress_backends and backends elements, with their family.
    static std::vector<std::pair<Family, ruleset::Operation>> claim_changes(const ruleset::Commit& commit)
    {
        std::vector<std::pair<Family, ruleset::Operation>> out;
        for (const auto& part : commit.parts())
            for (const auto& operation : part.operations())
                if (const auto* element = std::get_if<ruleset::Element>(&operation.object);
                    element && (element->set == layout::ports_map || element->set == layout::ingress_backends_set ||
                                element->set == layout::backends_set))
                    out.emplace_back(part.table().family, operation);
        return out;
    }

    std::vector<IngressService> ingress_services()
    {
        std::lock_guard lock(mutex_);
        return ingress::services(read_ingress());
    }

    // The ingress state of the ports the `services` claim, of `ports` and of those with leftovers,
    // from the view's ingress elements (ingress::View): its claims and records are read from the
    // kernel first when the view has none, and the slots of those ports when the view has not read
    // them yet, by their keys. A change costs the elements of the ports it concerns, not of every
    // service. The view is caught up; the lock is held.
    ingress::TablesState ingress_state(std::span<const std::string_view> services, std::span<const layout::HostPort> ports,
                                       std::span<const layout::HostPort> to_widen = {})
    {
        auto& elements = view_.ingress();
        if (!elements.loaded()) {
            std::array<ruleset::TableSnapshot, 2> snapshots;
            for (const auto family : layout::families)
                snapshots[layout::family_index(family)] =
                    backend_->snapshot(layout::table(family), {}, ingress::element_sets_without_slots());
            elements.load(snapshots);
        }
        for (const auto family : layout::families)
            elements.read_unread_slots(*backend_, family, services, ports, to_widen);
        return elements.state(services, ports);
    }

    // The ingress state of `wanted`'s services and ports, as restore_services() plans from it; the
    // lock is held.
    ingress::TablesState services_ingress_state(
        const std::map<std::string, std::vector<ingress::WantedPort>, std::less<>>& wanted)
    {
        std::vector<std::string_view> services;
        std::vector<layout::HostPort> ports, to_widen;
        for (const auto& [service, service_ports] : wanted) {
            services.push_back(service);
            for (const auto& port : service_ports)
                ports.push_back(port.port);
            const auto wide = ingress::wide_ports(service_ports);
            to_widen.insert(to_widen.end(), wide.begin(), wide.end());
        }
        return ingress_state(services, ports, to_widen);
    }

    // A repair that made the ingress map again (it had lost its typeof) took every slot with it:
    // the slots of every service the tables hold are written again from their records at once, in
    // a transaction of their own. The change that carried the repair stands whatever happens here.
    // The lock is held.
    void remake_slots()
    {
        try {
            const auto held = read_ingress();
            std::map<std::string, std::vector<ingress::WantedPort>, std::less<>> every;
            for (const auto& service : ingress::services(held)) {
                // A port without an active record (its records deleted by hand) is left to its
                // next change: it has no backend to give slots to.
                auto ports = ingress::held_ports(held, service.service);
                std::erase_if(ports, [](const ingress::WantedPort& port) { return !ingress::has_active_backend(port); });
                if (!ports.empty())
                    every.emplace(service.service, std::move(ports));
            }
            std::vector<std::string> skipped;
            restore_services(every, skipped);
        } catch (const Error& e) {
            warn("map ingress was made again (it had lost its typeof), but writing its services' slots again failed (" +
                 printable(e.what()) + "): each ingress port gets them with its next ingress change");
        }
    }

    static bool remakes_ingress_map(const ruleset::Commit& commit)
    {
        return std::any_of(commit.parts().begin(), commit.parts().end(), [](const ruleset::Transaction& part) {
            return std::any_of(part.operations().begin(), part.operations().end(), [](const ruleset::Operation& operation) {
                const auto* set = std::get_if<ruleset::Set>(&operation.object);
                return operation.verb == ruleset::Verb::remove && set && set->name == layout::ingress_map;
            });
        });
    }

    // Both tables' claims and records (no slots), read now; the lock is held.
    ingress::TablesState read_ingress()
    {
        ingress::TablesState state;
        for (const auto family : layout::families)
            state[layout::family_index(family)] =
                ingress::read_state(family, backend_->snapshot(layout::table(family), {}, ingress::element_sets_without_slots()));
        return state;
    }

    void reconcile(std::span<const TaskPorts> desired)
    {
        // Everything is checked before the lock is taken and anything is sent.
        std::map<std::string, std::vector<IndexEntry>, std::less<>> wanted;
        // The tasks with ports that ask for 0, and their addresses: their host ports are chosen
        // under the lock, at each attempt.
        std::vector<std::pair<const TaskPorts*, validation::ContainerFamilies>> automatic;
        for (const auto& task : desired) {
            validate_task_id(task.task_id);
            auto addresses = validation::parse_container_address(task.container_ip);
            if (!task.container_ipv6.empty()) {
                if (addresses[0] == std::nullopt)
                    throw Error(
                        errc::invalid_argument,
                        "task \"" + task.task_id + "\": container_ipv6 goes with an IPv4 container_ip; nothing was changed");
                addresses = validation::parse_container_addresses(ContainerAddresses{task.container_ip, task.container_ipv6});
            }
            auto entries = wanted_entries(addresses, task.ports);
            if (wants_automatic_ports(task.ports))
                automatic.emplace_back(&task, addresses);
            if (!wanted.emplace(task.task_id, std::move(entries)).second)
                throw Error(errc::invalid_argument,
                            "task \"" + task.task_id + "\" appears twice in the desired state; nothing was changed");
        }
        check_no_overlap(wanted);
        // As asked (with the ports that ask for 0): what the socket check reads at each attempt.
        std::vector<std::pair<std::string_view, const std::vector<IndexEntry>*>> asked;
        const auto initial = wanted;
        for (const auto& [task, entries] : initial)
            asked.emplace_back(task, &entries);

        std::lock_guard lock(mutex_);
        static const std::vector<IndexEntry> none;
        for (Backoff backoff; backoff.next();) {
            catch_up();
            const auto& index = view_.index();
            const auto sockets = sockets_for(asked);
            const auto absent = absent_addresses_for(asked);
            choose_desired_ports(automatic, wanted, sockets);
            std::vector<TaskChange> changes;
            const auto published = index.task_ids();  // TaskChange refers to these names
            for (const auto& task : published)
                if (!wanted.contains(task))
                    changes.push_back(TaskChange{task, &none});
            for (const auto& [task, entries] : wanted) {
                if (auto refusal = ingress_id_error(task))
                    throw std::move(*refusal);
                if (index.entries(task) == entries)
                    continue;
                // Every task that holds one of these host ports now gives it up in this transaction
                // (desired claims no port twice): only elements without an owner can be in the way.
                if (auto conflict =
                        find_conflict(task, entries, [](std::string_view owner) { return owner == TaskIndex::foreign_owner; }))
                    throw std::move(*conflict);
                if (auto conflict = socket_conflict(task, entries, sockets))
                    throw std::move(*conflict);
                if (auto absent_address = address_error(task, entries, absent))
                    throw std::move(*absent_address);
                changes.push_back(TaskChange{task, &entries});
            }
            const bool repair = incomplete_table() && !wanted.empty();
            for (const auto& change : changes)
                allow_loopback(*change.wanted);
            auto flows = stale_flows(index, changes);
            if ((changes.empty() && !repair) || commit_change(plan_replace(index, changes))) {
                forget(std::move(flows));
                for (const auto& change : changes)
                    view_.index().replace(change.task_id, *change.wanted);
                if (repair)
                    view_.index().mismatched_repaired();
                if (options_.self_heal) {
                    desired_.clear();
                    for (auto& [task, entries] : wanted)
                        if (!entries.empty())
                            desired_.emplace(task, std::move(entries));
                }
                return;
            }
        }
        throw contention();
    }

    std::vector<PortMapping> published(std::string_view task_id)
    {
        validate_task_id(task_id);
        std::lock_guard lock(mutex_);
        catch_up();
        auto out = read_back(task_id);
        if (out.empty())
            out = ingress_read_back(task_id);
        return out;
    }

    // An ingress service's ports as the view's claims show them: one mapping per protocol and host
    // port (on every address, as publish_ingress() takes them), PublishMode::ingress, container port
    // 0 (the claim names no container; ingress_services() has the backends).
    std::vector<PortMapping> ingress_read_back(std::string_view service) const
    {
        std::vector<PortMapping> out;
        for (const auto& port : view_.index().ingress_ports(service)) {
            PortMapping mapping;
            mapping.host_port = port.port;
            mapping.protocol = port.protocol;
            mapping.publish_mode = PublishMode::ingress;
            if (std::find(out.begin(), out.end(), mapping) == out.end())
                out.push_back(std::move(mapping));
        }
        std::sort(out.begin(), out.end(), [](const PortMapping& a, const PortMapping& b) {
            return std::tuple(a.protocol, a.host_port) < std::tuple(b.protocol, b.host_port);
        });
        return out;
    }

    // The task's ports as the view holds them; the lock is held.
    std::vector<PortMapping> read_back(std::string_view task_id) const
    {
        std::vector<PortMapping> out;
        const auto entries = view_.index().entries(task_id);
        const auto has = [&](Family family) {
            return std::any_of(entries.begin(), entries.end(), [&](const IndexEntry& e) { return e.address.family == family; });
        };
        const bool dual = has(Family::ip) && has(Family::ip6);
        for (const auto& entry : entries) {
            auto mapping = entry.mapping;
            auto allow = std::move(mapping.access.allow);
            if (!entry.host_port().bound() && dual) {
                // Both families' ports on every address read back as the one mapping they came
                // from (with both families' allowed sources); one family's alone as that family's
                // every-address spelling.
                auto twin = entry.host_port();
                twin.address = layout::any_address(entry.address.family == Family::ip ? Family::ip6 : Family::ip);
                const auto other = view_.index().entry(twin);
                const auto limits = [](AccessPolicy policy) {
                    policy.allow.clear();
                    return policy;
                };
                const bool paired = other && other->mapping.container_port == mapping.container_port &&
                                    other->mapping.name == mapping.name && *view_.index().owner(twin) == task_id &&
                                    limits(other->mapping.access) == limits(mapping.access) &&
                                    other->mapping.access.allow.empty() == allow.empty();
                if (paired && entry.address.family == Family::ip6)
                    continue;  // reported with its IPv4 twin
                if (paired)
                    allow.insert(allow.end(), other->mapping.access.allow.begin(), other->mapping.access.allow.end());
                else
                    mapping.host_ip = entry.address.family == Family::ip ? "0.0.0.0" : "::";
            }
            mapping.access = layout::caller_policy(std::move(allow), mapping.access);
            out.push_back(std::move(mapping));
        }
        return out;
    }

    std::vector<PublishedPort> all()
    {
        std::lock_guard lock(mutex_);
        catch_up();
        return view_.index().all();
    }

    std::vector<DestinationCounters> counters()
    {
        static const std::vector<std::string> backends{layout::backends_set};
        std::lock_guard lock(mutex_);
        std::vector<std::pair<layout::Destination, DestinationCounters>> found;
        for (const auto family : layout::families) {
            // Not from the view: counters move without the generation moving. The set's declaration
            // is read first, so that a table that does not count (the default) costs no dump of its
            // elements.
            recorder_.dump();
            const auto declared = backend_->snapshot(layout::table(family), {}, {}).sets;
            if (const auto set = declared.find(layout::backends_set); set == declared.end() || !set->second.counter)
                continue;
            recorder_.dump();
            const auto snapshot = backend_->snapshot(layout::table(family), {}, backends);
            // A set without counters reads back zeros for every element: nothing to report (the
            // table may have been replaced by one that does not count in between).
            const auto set = snapshot.sets.find(layout::backends_set);
            if (set == snapshot.sets.end() || !set->second.counter)
                continue;
            if (const auto elements = snapshot.elements.find(layout::backends_set); elements != snapshot.elements.end())
                for (const auto& element : elements->second)
                    if (const auto destination = layout::decode_destination_element(family, element))
                        found.emplace_back(*destination,
                                           DestinationCounters{layout::to_string(destination->address), destination->protocol,
                                                               destination->port, element.packets, element.bytes});
        }
        std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::vector<DestinationCounters> out;
        out.reserve(found.size());
        for (auto& [destination, counters] : found)
            out.push_back(std::move(counters));
        return out;
    }

    // A fresh read of each table, not the view: the view adopts only tables it can plan for, and
    // inspecting must also describe one the publisher refuses.
    TableInspection inspect()
    {
        std::lock_guard lock(mutex_);
        TableInspection out;
        out.kernel_features = backend_->features();
        for (const auto family : layout::families) {
            recorder_.dump();
            const auto snapshot = backend_->snapshot(layout::table(family), layout::chain_names(family), layout::element_sets());
            auto rules = layout::RuleOptions{options_.counters, options_.masquerading, options_.wildcard_on_localhost};
            // As the view decides it: a table that counts keeps counting (TableView::counting()).
            rules.counting = rules.counting || layout::counts(snapshot) || !backend_->features().map_lookups;
            out.families[layout::family_index(family)] = layout::inspect_table(family, snapshot, rules);
        }
        return out;
    }

    void remove_table()
    {
        std::lock_guard lock(mutex_);
        for (int attempt = 0; attempt < max_prompt_retries; ++attempt) {
            catch_up();
            ruleset::Commit removal;
            Families removed{};
            for (const auto family : layout::families) {
                if (!view_.table_exists(family))
                    continue;
                removal.part(layout::table(family)).remove(layout::table(family));
                removed[layout::family_index(family)] = true;
            }
            if (!removal.empty()) {
                try {
                    recorder_.batch();
                    backend_->commit(removal, view_.generation());
                } catch (const Error& e) {
                    if (e.code() != errc::ruleset_changed)
                        throw;
                    retried("remove the tables");
                    view_.catch_up_to_kernel();
                    continue;
                }
                view_.committed(removed, {});
            }
            // Every task went with the table; the next read finds it missing, the next publish creates it.
            view_.invalidate();
            desired_.clear();
            ingress_kept_.clear();
            return;
        }
        throw contention();
    }

    const KernelFeatures& features() const noexcept { return backend_->features(); }
    ruleset::Backend& backend() noexcept { return *backend_; }
    int feed_fd() const noexcept { return view_.feed_fd(); }

    // The requests of a batch decided one after the other against the view and the requests before
    // them: ports a task of the batch gives up are free for the tasks after it, ports a task of the
    // batch takes are taken for them.
    BatchPlan plan_batch(std::span<BatchRequest> requests)
    {
        std::lock_guard lock(mutex_);
        catch_up();
        const auto& index = view_.index();
        BatchPlan plan;
        // The host ports the batch's tasks hold after the requests so far, by protocol and port
        // (overlapping ports share both); a claim is void once its task's state no longer holds it.
        std::map<std::pair<Protocol, std::uint16_t>, std::vector<std::pair<layout::HostPort, std::string_view>>> claims;
        const auto holds = [&](std::string_view task, const layout::HostPort& port) {
            const auto& entries = plan.states.find(task)->second;
            return std::any_of(entries.begin(), entries.end(), [&](const IndexEntry& e) { return e.host_port() == port; });
        };
        // One read of the host's sockets for every publish of the batch, as asked.
        std::vector<std::vector<IndexEntry>> asked_entries;
        asked_entries.reserve(requests.size());
        std::vector<std::pair<std::string_view, const std::vector<IndexEntry>*>> asked;
        for (const auto& request : requests)
            if (!request.unpublish)
                asked_entries.push_back(request.automatic.empty() ? request.wanted
                                                                  : wanted_entries(request.addresses, request.automatic));
        for (std::size_t i = 0, at = 0; i < requests.size(); ++i)
            if (!requests[i].unpublish)
                asked.emplace_back(requests[i].task_id, &asked_entries[at++]);
        const auto sockets = sockets_for(asked);
        const auto absent = absent_addresses_for(asked);
        for (std::size_t i = 0; i < requests.size(); ++i) {
            auto& request = requests[i];
            try {
                const auto state = plan.states.find(request.task_id);
                const auto current = state != plan.states.end() ? state->second : index.entries(request.task_id);
                if (request.unpublish) {
                    if (!index.ingress_ports(request.task_id).empty())
                        throw Error(errc::invalid_argument,
                                    "\"" + printable(std::string(request.task_id)) +
                                        "\" is an ingress service; a PublisherEngine publishes and unpublishes tasks only: "
                                        "unpublish it with HostPortPublisher::unpublish_ports()");
                    if (!current.empty())
                        plan.states.insert_or_assign(request.task_id, std::vector<IndexEntry>{});
                    plan.members.push_back(i);
                    continue;
                }
                if (auto refusal = ingress_id_error(request.task_id))
                    throw std::move(*refusal);
                if (!request.automatic.empty()) {
                    // Not a port another request of the batch holds after the requests so far.
                    const auto claimed = [&](const layout::HostPort& port) {
                        for (const auto& claim : claims[{port.protocol, port.port}])
                            if (claim.second != request.task_id && layout::overlap(claim.first, port) &&
                                holds(claim.second, claim.first))
                                return true;
                        return false;
                    };
                    request.wanted = wanted_entries(
                        request.addresses, choose_ports(request.task_id, request.addresses, request.automatic, sockets, claimed));
                }
                if (current == request.wanted) {
                    allow_loopback(request.wanted);  // someone may have reset it since
                    plan.members.push_back(i);
                    continue;
                }
                for (const auto& entry : request.wanted) {
                    const auto port = entry.host_port();
                    // A task of the batch blocks with the ports it still holds after the requests so far.
                    const auto blocks = [&](std::string_view owner) {
                        if (owner == request.task_id)
                            return false;
                        const auto changed = plan.states.find(owner);
                        if (changed == plan.states.end())
                            return true;
                        return std::any_of(changed->second.begin(), changed->second.end(),
                                           [&](const IndexEntry& e) { return layout::overlap(e.host_port(), port); });
                    };
                    if (auto conflict = conflict_of(request.task_id, entry, blocks))
                        throw std::move(*conflict);
                    // Not a structured binding: clang 14 cannot capture one in the lambda below.
                    for (const auto& claim : claims[{port.protocol, port.port}]) {
                        const auto& claimed = claim.first;
                        const auto claimant = claim.second;
                        if (claimant == request.task_id || !layout::overlap(claimed, port) || !holds(claimant, claimed))
                            continue;
                        const auto& held = plan.states.find(claimant)->second;
                        const auto existing =
                            std::find_if(held.begin(), held.end(), [&](const IndexEntry& e) { return e.host_port() == claimed; });
                        throw port_conflict(request.task_id, entry, claimed,
                                            "task \"" + printable(std::string(claimant)) + "\" (asked for just before)",
                                            *existing);
                    }
                }
                if (auto conflict = socket_conflict(request.task_id, request.wanted, sockets))
                    throw std::move(*conflict);
                if (auto absent_address = address_error(request.task_id, request.wanted, absent))
                    throw std::move(*absent_address);
                allow_loopback(request.wanted);
                const auto [stored, inserted] = plan.states.insert_or_assign(request.task_id, request.wanted);
                for (const auto& entry : stored->second)
                    claims[{entry.mapping.protocol, entry.mapping.host_port}].emplace_back(entry.host_port(), stored->first);
                plan.members.push_back(i);
            } catch (...) {
                request.error = std::current_exception();
            }
        }
        // A task the batch changed back to what the kernel holds carries nothing: it leaves the plan,
        // so that only changed tasks are written and recorded.
        std::vector<TaskChange> changes;
        std::erase_if(plan.states, [&](const auto& state) { return index.entries(state.first) == state.second; });
        for (const auto& [task, entries] : plan.states)
            changes.push_back(TaskChange{task, &entries});
        plan.flows = stale_flows(index, changes);
        auto out = outgoing(plan_replace(index, changes));
        plan.commit = std::move(out.commit);
        plan.changed = out.changed;
        plan.repaired = out.repaired;
        return plan;
    }

    std::optional<std::uint32_t> send_guard(const BatchPlan& plan)
    {
        std::lock_guard lock(mutex_);
        return guard(plan.resends);
    }

    void batch_committed(const BatchPlan& plan, std::span<BatchRequest> requests)
    {
        std::lock_guard lock(mutex_);
        applied(plan.commit, plan.resends < max_prompt_retries, plan.changed, plan.repaired);
        for (const auto& [task, entries] : plan.states)
            view_.index().replace(task, entries);
        if (!plan.commit.empty())
            view_.index().mismatched_repaired();
        for (const auto i : plan.members) {
            keep(requests[i].task_id, requests[i].unpublish ? std::vector<IndexEntry>{} : requests[i].wanted);
            if (!requests[i].unpublish)
                requests[i].published = read_back(requests[i].task_id);
        }
        after_commit(plan.commit);
        forget(plan.flows);
    }

    AfterRefusal batch_refused(BatchPlan& plan, const Error& refusal)
    {
        std::lock_guard lock(mutex_);
        const auto next = after_refusal(refusal);
        if (next == AfterRefusal::resend)
            ++plan.resends;
        return next;
    }

    // For a publisher without a healing thread: reads the announcements, and repairs what they show
    // damaged when `repair`. Returns true when a repair failed.
    bool on_announcements(bool repair)
    {
        if (options_.self_heal && repair)
            return heal();
        std::lock_guard lock(mutex_);
        catch_up();
        return false;
    }

    // The gauges read from the table, with this publisher's counters and histograms.
    MetricsSnapshot metrics()
    {
        auto out = table_metrics(all(), counters());
        auto done = recorder_.snapshot();
        done.ports_published = std::move(out.ports_published);
        done.destinations = std::move(out.destinations);
        return done;
    }

    MetricsRecorder& recorder() noexcept { return recorder_; }
    void record(std::optional<MetricsRecorder::Operation> operation, std::chrono::steady_clock::duration took,
                const std::exception_ptr& error)
    {
        record_outcome(recorder_, log_, operation, took, error);
    }

    // A public call, counted in the metrics and its refusal by the kernel logged (observed_call()).
    template <typename Call>
    auto observed(std::optional<MetricsRecorder::Operation> operation, Call&& call)
    {
        return observed_call(recorder_, log_, operation, std::forward<Call>(call));
    }

private:
    // Brings the view up to date.
    void catch_up()
    {
        view_.catch_up();
        pass_damage_on();
        schedule_recorded();
    }

    // Damage that a read of the announcements off the healing thread came across is the healer's.
    void pass_damage_on() const
    {
        if (options_.self_heal && view_.damaged())
            wake_.signal();
    }

    // The families of tables that `entries` publish in.
    static Families families_of(const std::vector<IndexEntry>& entries)
    {
        Families out{};
        for (const auto& entry : entries)
            out[layout::family_index(entry.address.family)] = true;
        return out;
    }

    // Whether the family's table is repaired by any change: it holds published ports. A table that
    // holds none is only made or repaired by a change of its own (an IPv4-only host never gets an
    // IPv6 table, nor has one of another program's changed).
    bool kept_up(Family family) const { return view_.table_exists(family) && view_.index().has_family(family); }

    // Whether a change of the tables of `changing` would carry a repair.
    bool repair_due(const Families& changing) const
    {
        for (const auto family : layout::families)
            if (view_.repair(family) && (changing[layout::family_index(family)] || kept_up(family)))
                return true;
        return false;
    }

    // Whether a table that holds published ports lacks part of its layout.
    bool incomplete_table() const
    {
        return std::any_of(layout::families.begin(), layout::families.end(),
                           [&](Family family) { return view_.incomplete(family) && kept_up(family); });
    }

    // Whether a table lacks part of its layout that published ports, kept or in the kernel, need.
    bool layout_needed() const
    {
        Families kept{};
        for (const auto& [task, entries] : desired_)
            for (std::size_t i = 0; const bool has : families_of(entries))
                kept[i++] |= has;
        for (const auto family : layout::families)
            if (view_.incomplete(family) && (kept[layout::family_index(family)] || view_.index().has_family(family)))
                return true;
        return false;
    }

    // route_localnet towards the containers of ports that the host's loopback addresses reach, before
    // the commit: a port that commits must carry traffic. Throws Error.
    void allow_loopback(const std::vector<IndexEntry>& entries)
    {
        std::set<layout::Address> done;
        for (const auto& entry : entries)
            if (reached_from_loopback(entry, options_.wildcard_on_localhost) && done.insert(entry.address).second)
                backend_->route_localnet_towards(layout::ipv4_bytes(entry.address));
    }

    // The drain deadlines the tables hold are ours to act on (docs/ingress.md, "Draining"): those of
    // a publisher that ended before them, or of a process that did not wait for them. A failed read
    // leaves them to the next publisher. (A self-healing publisher takes them from its first read of
    // the tables instead.)
    void adopt_deadlines()
    {
        if (!options_.conntrack_cleanup)
            return;
        const std::array records{std::string(layout::ingress_backends_set)};
        // Scheduled once both are read: a due deadline starts the cleaner, whose check reads the
        // tables (under the lock, which the constructor does not hold yet).
        std::vector<ingress::Deadline> deadlines;
        for (const auto family : layout::families) {
            try {
                const auto read = ingress::recorded_deadlines(family, backend_->snapshot(layout::table(family), {}, records));
                deadlines.insert(deadlines.end(), read.begin(), read.end());
            } catch (const Error& e) {
                warn("could not read the drain deadlines of table " + display_name(layout::table(family)) + " (" +
                     printable(e.what()) + "): a later publisher acts on them");
            }
        }
        std::lock_guard lock(mutex_);
        schedule(deadlines);
    }

    // Asks the cleaner to delete each backend's connections at its deadline, and forgets the
    // deadlines of backends that have none now. The lock is held.
    void schedule(const std::vector<ingress::Deadline>& deadlines)
    {
        if (!options_.conntrack_cleanup)
            return;
        for (const auto& deadline : deadlines) {
            if (deadline.at) {
                cleaner_.forget_at(deadline.flows, *deadline.at);
                deadlines_asked_.insert_or_assign(deadline.flows, *deadline.at);
            } else {
                cleaner_.cancel(deadline.flows);
                deadlines_asked_.erase(deadline.flows);
            }
        }
    }

    // The same for the deadlines the view read or was announced since it was last asked, but those
    // already asked for: a deadline read again is not acted on twice. Those that have passed are
    // forgotten then, so that the backends drained over a long life do not pile up; a full read of
    // the tables (rare) may then ask for one again, which deletes what is left of its connections
    // once more. The lock is held.
    void schedule_recorded()
    {
        auto deadlines = view_.take_recorded_deadlines();
        std::erase_if(deadlines, [&](const ingress::Deadline& deadline) {
            const auto asked = deadlines_asked_.find(deadline.flows);
            return asked != deadlines_asked_.end() && asked->second == deadline.at;
        });
        schedule(deadlines);
        const auto now = std::chrono::system_clock::now();
        std::erase_if(deadlines_asked_, [&](const auto& asked) { return asked.second < now; });
    }

    // On the cleaner's thread, at a deadline: which connections are still due for deletion, from
    // what the tables hold now (another process may have made the backend active again).
    FlowCleaner::Due settle_deadlines(std::vector<ruleset::FlowMatch> due)
    {
        std::lock_guard lock(mutex_);
        catch_up();
        const auto state = ingress_state({}, ingress::ports_of(due));
        return ingress::settle_due(state, view_.index(), std::move(due), FlowCleaner::Clock::now());
    }

    // Has the connection tracking entries a committed change made stale deleted, on the cleaner's
    // thread. The change stands whatever happens there: a failure is reported, not thrown.
    void forget(std::vector<ruleset::FlowMatch> flows)
    {
        if (options_.conntrack_cleanup)
            cleaner_.forget(std::move(flows));
    }

public:
    void wait_for_conntrack_cleanup() { cleaner_.wait(); }

private:
    void warn(const std::string& message) const { log_(LogLevel::warning, message); }

    // A transaction refused for a stale generation goes again (or is planned again).
    void retried(std::string_view what)
    {
        recorder_.retry();
        log_(LogLevel::debug, "another writer committed first: " + std::string(what) + " again");
    }

    // What a change commits: the change preceded, in the same transaction, by the repair of each
    // table that needs one (of the tables the change touches, and of those that hold ports).
    struct Outgoing {
        ruleset::Commit commit;
        Families changed{}, repaired{};
    };

    Outgoing outgoing(ruleset::Commit change) const
    {
        Outgoing out;
        for (const auto family : layout::families) {
            const auto i = layout::family_index(family);
            const auto* part = change.find(layout::table(family));
            out.changed[i] = part && !part->empty();
            out.repaired[i] = view_.repair(family) && (out.changed[i] || kept_up(family));
        }
        // Usually nothing to repair: the change goes as it is.
        if (!out.repaired[0] && !out.repaired[1]) {
            out.commit = std::move(change);
            return out;
        }
        for (const auto family : layout::families) {
            const auto i = layout::family_index(family);
            if (out.repaired[i])
                out.commit.part(layout::table(family)).append(*view_.repair(family));
            if (out.changed[i])
                out.commit.part(layout::table(family)).append(*change.find(layout::table(family)));
            out.changed[i] = out.changed[i] || out.repaired[i];
        }
        return out;
    }

    // Commits a change of elements with its repairs (outgoing()), guarded by the view's generation.
    // Returns false when the view turned out to be stale and was brought up to date: decide again.
    // Throws Error for refusals.
    // A transaction too large for one batch sends its backends elements after it, in transactions
    // of their own (see commit_refills()); anything else of it is refused whole.
    bool commit_change(ruleset::Commit change)
    {
        const auto out = outgoing(std::move(change));
        try {
            if (!commit_guarded(out.commit, out.changed, out.repaired))
                return false;
        } catch (const ruleset::TransactionTooLarge&) {
            auto [core, refills] = split_refills(out.commit);
            if (refills.empty())
                throw;
            if (!commit_guarded(core, out.changed, out.repaired))
                return false;
            commit_refills(refills);
        }
        after_commit(out.commit);
        return true;
    }

    // What a committed change of ours asks for after it: the slots again, when its repair made the
    // ingress map again. Not again from within that: a repair made while writing them (another
    // program took the typeof away once more) is left to the next change.
    void after_commit(const ruleset::Commit& committed)
    {
        if (remaking_slots_ || !remakes_ingress_map(committed))
            return;
        remaking_slots_ = true;
        const std::unique_ptr<bool, void (*)(bool*)> done(&remaking_slots_, [](bool* flag) { *flag = false; });
        remake_slots();
    }

    // One backends element to add, split off a transaction too large for one batch.
    struct Refill {
        ruleset::Table table;
        ruleset::Object element;
    };

    // Splits the backends elements that `commit` adds off it. Each only makes connections to its
    // destination counted and masqueraded: DNAT, and so whether a port is published, is the ports
    // maps' alone. So these may follow the change in transactions of their own, at the cost of a
    // moment in which new connections to those destinations are not yet counted or masqueraded.
    static std::pair<ruleset::Commit, std::vector<Refill>> split_refills(const ruleset::Commit& commit)
    {
        std::pair<ruleset::Commit, std::vector<Refill>> out;
        for (const auto& part : commit.parts()) {
            auto& core = out.first.part(part.table());
            for (const auto& operation : part.operations()) {
                const auto* element = std::get_if<ruleset::Element>(&operation.object);
                if (operation.verb == ruleset::Verb::add && element && element->set == layout::backends_set)
                    out.second.push_back(Refill{part.table(), operation.object});
                else
                    core.append(operation);
            }
        }
        return out;
    }

    // Commits `refills` after the change they were split off, each batch guarded like any commit and
    // halved until it fits. The change stands whatever happens here: a refusal is reported (contention
    // silently), and the view read again, so that the destinations still missing are found and
    // restored by a later change, or at once by a self-healing publisher.
    bool commit_refills(std::span<const Refill> refills)
    {
        ruleset::Commit piece;
        Families changed{};
        for (const auto& refill : refills) {
            piece.part(refill.table).add(refill.element);
            changed[layout::family_index(refill.table.family)] = true;
        }
        try {
            if (commit_guarded(piece, changed, {}))
                return true;
        } catch (const ruleset::TransactionTooLarge& e) {
            if (refills.size() > 1) {
                const auto half = refills.size() / 2;
                return commit_refills(refills.first(half)) && commit_refills(refills.subspan(half));
            }
            warn(refill_failure(refills.size(), e));
        } catch (const Error& e) {
            warn(refill_failure(refills.size(), e));
        }
        view_.invalidate();
        return false;
    }

    static std::string refill_failure(std::size_t count, const Error& e)
    {
        return "the change was committed, but adding " + std::to_string(count) + " backends elements after it failed (" +
               printable(e.what()) + "): their destinations are not counted or masqueraded until a later change restores them";
    }

    // Commits `tx` guarded by the view's generation, again at once while others commit only to other
    // tables. Returns false when the view turned out to be stale: decide again. Throws Error.
    bool commit_guarded(const ruleset::Commit& tx, Families changed, const Families& repaired)
    {
        for (int attempt = 0; attempt <= max_prompt_retries; ++attempt) {
            const bool guarded = attempt < max_prompt_retries;
            try {
                if (!tx.empty())
                    recorder_.batch();
                backend_->commit(tx, guarded ? std::optional(view_.generation()) : std::nullopt);
                applied(tx, guarded, changed, repaired);
                return true;
            } catch (const Error& e) {
                const auto next = after_refusal(e);
                if (next == AfterRefusal::final)
                    throw;
                if (next == AfterRefusal::replan)
                    return false;
            }
        }
        return false;
    }

    // Another writer that commits to its own tables faster than one of our round trips would refuse
    // every guarded commit. Our view is exact then (the announcements said that only other tables
    // changed), so the last attempt goes without the guard: the kernel's own checks (EEXIST for a
    // taken port, ENOENT for a vanished element) still refuse it if our table changed in the moment
    // since.
    std::optional<std::uint32_t> guard(int resends) const
    {
        return resends < max_prompt_retries ? std::optional(view_.generation()) : std::nullopt;
    }

    // Our commit of `tx` was applied: the view moves on.
    void applied(const ruleset::Commit& tx, bool guarded, const Families& changed, const Families& repaired)
    {
        if (tx.empty())
            return;  // nothing was sent, nothing moved
        // Announcements leave our guarded commits out: the ingress elements follow them here.
        view_.ingress().committed(tx);
        if (guarded)
            view_.committed(changed, repaired);
        else
            view_.committed_unguarded(changed, repaired);
    }

    // What a refusal of our commit means for it.
    AfterRefusal after_refusal(const Error& e)
    {
        if (e.code() == errc::ruleset_changed) {
            // Someone committed since our view. If only to other tables, the transaction is still
            // exactly right: commit it again at the new generation, reading nothing.
            const bool untouched = view_.catch_up_to_kernel();
            pass_damage_on();
            retried(untouched ? "the transaction is sent" : "the change is planned");
            return untouched ? AfterRefusal::resend : AfterRefusal::replan;
        }
        if ((e.kernel_errno() == EEXIST || e.kernel_errno() == ENOENT) && view_.full_reads() != eexist_reads_) {
            // An element our view did not show, or showed although it was gone: read the table in
            // full and decide again. If a full read agrees, the kernel's answer is final.
            eexist_reads_ = view_.full_reads() + 1;
            view_.invalidate();
            return AfterRefusal::replan;
        }
        if (e.kernel_errno() == ENOBUFS || e.kernel_errno() == ETIMEDOUT)
            view_.invalidate();  // the outcome is unknown: read it back before trusting the view
        return AfterRefusal::final;
    }

    // The first of `wanted` that overlaps a port whose owner `blocks`, as the port_conflict to throw.
    std::optional<Error> find_conflict(std::string_view task_id, const std::vector<IndexEntry>& wanted,
                                       const std::function<bool(std::string_view)>& blocks) const
    {
        for (const auto& entry : wanted)
            if (auto conflict = conflict_of(task_id, entry, blocks))
                return conflict;
        return std::nullopt;
    }

    // The host ports of `wanted` that their tasks do not publish yet (automatic ones, 0, included):
    // those a publish adds, which the socket and address checks look at. An owner lookup each, not
    // the tasks' entries, whose policies would be rebuilt as text.
    std::vector<layout::HostPort> fresh_host_ports(
        std::span<const std::pair<std::string_view, const std::vector<IndexEntry>*>> wanted) const
    {
        std::vector<layout::HostPort> out;
        for (const auto& [task, entries] : wanted)
            for (const auto& entry : *entries) {
                const auto* owner = view_.index().owner(entry.host_port());
                if (!owner || *owner != task)
                    out.push_back(entry.host_port());
            }
        return out;
    }

    // The host's sockets that the ports of `wanted` the tasks do not publish yet would shadow (all
    // sockets of their protocols and families when one asks for 0, to choose it from the rest);
    // none read when nothing needs them.
    layout::ListeningSockets sockets_for(std::span<const std::pair<std::string_view, const std::vector<IndexEntry>*>> wanted)
    {
        const auto fresh = fresh_host_ports(wanted);
        const bool automatic =
            std::any_of(fresh.begin(), fresh.end(), [](const layout::HostPort& host_port) { return host_port.port == 0; });
        if (fresh.empty() || !(options_.check_listening_sockets || automatic))
            return {};
        return layout::ListeningSockets::read_for(
            [this](Protocol protocol, std::span<const Family> families, netlink::PortFilter ports) {
                return backend_->receiving_sockets(protocol, families, ports);
            },
            fresh);
    }

    // A port_conflict for the first port of `wanted` the task does not publish yet that a socket of
    // the host would receive instead (PublisherOptions::check_listening_sockets), if any.
    std::optional<Error> socket_conflict(std::string_view task_id, const std::vector<IndexEntry>& wanted,
                                         const layout::ListeningSockets& sockets) const
    {
        if (!options_.check_listening_sockets)
            return std::nullopt;
        for (const auto& entry : wanted) {
            const auto socket = sockets.blocking(entry.host_port());
            if (!socket || view_.index().owner(entry.host_port()) != nullptr)
                continue;
            const auto port = layout::describe(entry.host_port());
            return Error(errc::port_conflict,
                         "host port " + port +
                             " would take the connections of a socket of the host: " + layout::describe(*socket) +
                             "; stop it or publish another port (PublisherOptions::check_listening_sockets); nothing was "
                             "changed for task \"" +
                             std::string(task_id) + "\"",
                         EADDRINUSE, "publish " + port);
        }
        return std::nullopt;
    }

    // The bound host addresses of the ports of `wanted` the tasks do not publish yet that no
    // interface of the host has (PublisherOptions::check_host_addresses); nothing read when no such
    // port has an address that needs checking.
    std::vector<layout::Address> absent_addresses_for(
        std::span<const std::pair<std::string_view, const std::vector<IndexEntry>*>> wanted)
    {
        if (!options_.check_host_addresses)
            return {};
        std::vector<layout::Address> addresses;
        for (const auto& host_port : fresh_host_ports(wanted))
            if (layout::needs_interface_address(host_port.address) &&
                std::find(addresses.begin(), addresses.end(), host_port.address) == addresses.end())
                addresses.push_back(host_port.address);
        if (addresses.empty())
            return {};
        return layout::absent_addresses(addresses, backend_->host_addresses(addresses));
    }

    // An invalid_argument for the first port of `wanted` not published yet whose host address is
    // one of `absent`, if any.
    std::optional<Error> address_error(std::string_view task_id, const std::vector<IndexEntry>& wanted,
                                       std::span<const layout::Address> absent) const
    {
        for (const auto& entry : wanted) {
            const auto port = entry.host_port();
            if (std::find(absent.begin(), absent.end(), port.address) != absent.end() && view_.index().owner(port) == nullptr)
                return layout::absent_host_address(task_id, port);
        }
        return std::nullopt;
    }

    std::optional<Error> conflict_of(std::string_view task_id, const IndexEntry& entry,
                                     const std::function<bool(std::string_view)>& blocks) const
    {
        const auto& index = view_.index();
        const auto taken = index.clash(entry.host_port(), blocks);
        if (!taken)
            return std::nullopt;
        const auto existing = index.entry(*taken);
        return port_conflict(task_id, entry, *taken, index.describe_owner(*taken), *existing);
    }

    // The ports with a host port chosen for each that asks for 0 (choose_host_ports()), avoiding
    // every published port, those `also_taken` says are taken, and the host's sockets.
    std::vector<PortMapping> choose_ports(std::string_view task_id, const validation::ContainerFamilies& addresses,
                                          std::span<const PortMapping> ports, const layout::ListeningSockets& sockets,
                                          const std::function<bool(const layout::HostPort&)>& also_taken)
    {
        const auto& index = view_.index();
        const auto taken = [&](const layout::HostPort& port) {
            return index.clash(port, [](std::string_view) { return true; }).has_value() || sockets.blocking(port) ||
                   (also_taken && also_taken(port));
        };
        const std::uint32_t size = options_.automatic_ports.last - options_.automatic_ports.first + 1u;
        return choose_host_ports(ports, addresses, index.entries(task_id), options_.automatic_ports, taken,
                                 std::uniform_int_distribution<std::uint32_t>(0, size - 1)(random_));
    }

    static Error port_conflict(std::string_view task_id, const IndexEntry& wanted, const layout::HostPort& taken,
                               const std::string& owner, const IndexEntry& existing)
    {
        const auto wanted_port = layout::describe(wanted.host_port());
        std::string message = "host port " + wanted_port;
        if (taken != wanted.host_port())
            message +=
                " overlaps host port " + layout::describe(taken) + " (a port on all addresses includes every address), which";
        message += " is already published by " + owner;
        if (existing.mapping.publish_mode != PublishMode::ingress)  // a claim leads to no container
            message += " to " + endpoint(existing.address, existing.mapping.container_port);
        message += "; nothing was changed for task \"" + std::string(task_id) + "\"";
        return Error(errc::port_conflict, std::move(message), EEXIST, "publish " + wanted_port);
    }

    // Two tasks of a desired state may not claim overlapping host ports, nor one task the same port
    // twice (check_ports() already refused that).
    // The host ports of a desired state's ports that ask for 0, chosen apart from every port the
    // desired state names (and those chosen before).
    void choose_desired_ports(std::span<const std::pair<const TaskPorts*, validation::ContainerFamilies>> automatic,
                              std::map<std::string, std::vector<IndexEntry>, std::less<>>& wanted,
                              const layout::ListeningSockets& sockets)
    {
        for (const auto& [task, addresses] : automatic) {
            const auto claimed = [&, id = std::string_view(task->task_id)](const layout::HostPort& port) {
                for (const auto& [other, entries] : wanted)
                    if (other != id && std::any_of(entries.begin(), entries.end(), [&](const IndexEntry& entry) {
                            return entry.mapping.host_port != 0 && layout::overlap(entry.host_port(), port);
                        }))
                        return true;
                return false;
            };
            wanted[task->task_id] =
                wanted_entries(addresses, choose_ports(task->task_id, addresses, task->ports, sockets, claimed));
        }
    }

    // Ports asking for 0 are left out: they are chosen apart from the rest.
    static void check_no_overlap(const std::map<std::string, std::vector<IndexEntry>, std::less<>>& wanted)
    {
        std::vector<std::pair<layout::HostPort, const std::string*>> ports;
        for (const auto& [task, entries] : wanted)
            for (const auto& entry : entries)
                if (entry.mapping.host_port != 0)
                    ports.emplace_back(entry.host_port(), &task);
        std::sort(ports.begin(), ports.end());
        // Overlapping ports share protocol and port number: compare within each such run.
        for (std::size_t first = 0; first < ports.size();) {
            std::size_t end = first + 1;
            while (end < ports.size() && ports[end].first.protocol == ports[first].first.protocol &&
                   ports[end].first.port == ports[first].first.port)
                ++end;
            for (std::size_t a = first; a < end; ++a)
                for (std::size_t b = a + 1; b < end; ++b)
                    if (layout::overlap(ports[a].first, ports[b].first))
                        throw Error(errc::invalid_argument, "tasks \"" + *ports[a].second + "\" and \"" + *ports[b].second +
                                                                "\" of the desired state both claim host port " +
                                                                layout::describe(ports[b].first) + "; nothing was changed");
            first = end;
        }
    }

    // Records what the task should publish, for a self-healing publisher (none: forget it).
    void keep(std::string_view task_id, std::vector<IndexEntry> entries)
    {
        if (!options_.self_heal)
            return;
        restores_.erase(std::string(task_id));
        if (entries.empty())
            desired_.erase(std::string(task_id));
        else
            desired_.insert_or_assign(std::string(task_id), std::move(entries));
    }

    // What a self-healing publisher puts back: the kept tasks whose ports differ from the kernel's.
    struct Restoration {
        std::vector<std::string> tasks;
        std::vector<std::vector<IndexEntry>> ports;  // what each of `tasks` publishes again
        std::size_t missing = 0;                     // ports among them that the kernel lacks now
        std::vector<std::string> rivals;             // tasks the kernel holds in another version
    };

    // Compares the kept tasks (all of them, or those `touched`) with the kernel's. A port that another
    // owner took over in between stays theirs: it is left out and described in `skipped`, as is a
    // contested task, which is no longer kept.
    Restoration plan_restoration(bool all_tasks, const std::set<std::string, std::less<>>& touched,
                                 std::vector<std::string>& skipped)
    {
        const auto& index = view_.index();
        Restoration out;
        // Only the touched tasks, unless all of them may be damaged: a deleted element costs the
        // same at any number of kept tasks.
        std::vector<const std::pair<const std::string, std::vector<IndexEntry>>*> candidates;
        if (all_tasks) {
            for (const auto& kept : desired_)
                candidates.push_back(&kept);
        } else {
            for (const auto& task : touched)
                if (const auto kept = desired_.find(task); kept != desired_.end())
                    candidates.push_back(&*kept);
        }
        std::vector<std::string> given_up;
        for (const auto* candidate : candidates) {
            // Not a structured binding: clang 14 cannot capture one in the lambda below.
            const auto& task = candidate->first;
            const auto& entries = candidate->second;
            const auto current = index.entries(task);
            if (current == entries)
                continue;
            // Elements of the task that we did not publish: someone publishes it in another version.
            const bool rival = std::any_of(current.begin(), current.end(), [&](const IndexEntry& entry) {
                return std::find(entries.begin(), entries.end(), entry) == entries.end();
            });
            if (rival && contested(task)) {
                skipped.push_back("task " + printable(task) + " no longer kept: restored " + std::to_string(max_restores) +
                                  " times within " + std::to_string(restore_window.count()) +
                                  " s, and another writer keeps changing it (another self-healing publisher that owns it too?)");
                given_up.push_back(task);
                continue;
            }
            std::vector<IndexEntry> keepable;
            keepable.reserve(entries.size());
            for (const auto& entry : entries) {
                if (const auto taken = index.clash(entry.host_port(), task)) {
                    const auto* owner = index.owner(*taken);
                    skipped.push_back(layout::describe(entry.host_port()) + " of task " + printable(task) + " (held by " +
                                      (owner->empty() ? std::string("an element without owner") : "task " + printable(*owner)) +
                                      ")");
                    continue;
                }
                out.missing += std::find(current.begin(), current.end(), entry) == current.end();
                keepable.push_back(entry);
            }
            if (current != keepable) {
                out.tasks.push_back(task);
                out.ports.push_back(std::move(keepable));
                if (rival)
                    out.rivals.push_back(task);
            }
        }
        for (const auto& task : given_up) {
            desired_.erase(task);
            restores_.erase(task);
        }
        return out;
    }

    // On the healing thread, whenever the kernel announced something: puts back what others
    // damaged. Returns true when a repair failed and should be tried again soon.
    bool heal()
    {
        std::lock_guard lock(mutex_);
        const auto noticed = std::chrono::steady_clock::now();
        const auto since_noticed = [&] {
            return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - noticed);
        };
        RepairReport report;
        try {
            view_.catch_up();
            // Another process's drain deadlines are acted on by every publisher that follows the
            // tables: this one learns of them as they are made.
            schedule_recorded();
            auto damage = view_.take_damage();
            if (!damage.any && recheck_.empty())
                return false;
            report.damage = damage.any ? damage.description : recheck_;
            report.generation = damage.generation;
            report.pid = damage.pid;
            report.process = damage.process;
            bool all_tasks = damage.all_tasks || !recheck_.empty();
            std::set<std::string, std::less<>> touched(damage.tasks.begin(), damage.tasks.end());
            for (Backoff backoff; backoff.next();) {
                report.skipped.clear();
                auto restoration = plan_restoration(all_tasks, touched, report.skipped);
                // The layout is put back for ports to carry traffic, ours or others'; in a table that
                // counts, so are `backends` elements that disagree with the ports maps (masquerade
                // and forward look destinations up there).
                const bool layout = layout_needed();
                const bool backends = !view_.index().mismatched().empty();
                if (restoration.tasks.empty() && !layout && !backends) {
                    report.ports_restored = restore_ingress(report.skipped);
                    recheck_.clear();
                    if (report.ports_restored > 0)
                        recorder_.repair(since_noticed(), true);
                    if (!report.skipped.empty() || report.ports_restored > 0) {
                        report.duration = since_noticed();
                        tell(report);
                    }
                    return false;
                }
                std::vector<TaskChange> changes;
                changes.reserve(restoration.tasks.size());
                for (std::size_t i = 0; i < restoration.tasks.size(); ++i)
                    changes.push_back(TaskChange{restoration.tasks[i], &restoration.ports[i]});
                auto flows = stale_flows(view_.index(), changes);
                if (commit_restoration(changes)) {
                    forget(std::move(flows));
                    report.duration = since_noticed();
                    // A repair of backends elements alone (a port of another publisher's task was
                    // deleted) changed no task: the view must still learn that it was made.
                    view_.index().mismatched_repaired();
                    note_restored(restoration.rivals);
                    report.ports_restored = restoration.missing + restore_ingress(report.skipped);
                    report.layout_restored = layout || backends;
                    recheck_.clear();
                    recorder_.repair(report.duration, true);
                    tell(report);
                    return false;
                }
                // Someone changed the table meanwhile, or the view was wrong: look again.
                view_.catch_up();
                auto more = view_.take_damage();
                all_tasks = all_tasks || more.all_tasks;
                touched.insert(more.tasks.begin(), more.tasks.end());
            }
            throw contention();
        } catch (const std::exception& e) {
            try {
                report.error = printable(e.what());
                report.duration = since_noticed();
                recheck_ = "an earlier repair failed";
                recorder_.repair(report.duration, false);
                tell(report);
            } catch (...) {
                // Out of memory while reporting: the repair is retried all the same.
            }
            return true;
        }
    }

    // Commits the restoration of `changes` and records it in the index. One too large for one
    // batch goes in groups of whole tasks, halved until each fits: putting back what others removed
    // needs no atomicity across tasks, and each task's ports still come back together (the layout
    // with the first group). Returns false when the view turned out to be stale: decide again (the
    // groups committed so far stay restored).
    bool commit_restoration(std::span<const TaskChange> changes)
    {
        try {
            if (!commit_change(plan_replace(view_.index(), changes)))
                return false;
        } catch (const ruleset::TransactionTooLarge&) {
            if (changes.size() < 2)
                throw;
            const auto half = changes.size() / 2;
            return commit_restoration(changes.first(half)) && commit_restoration(changes.subspan(half));
        }
        for (const auto& change : changes)
            view_.index().replace(change.task_id, *change.wanted);
        return true;
    }

    // Another writer that publishes a task in its own version right after each repair (another
    // self-healing publisher that owns it too, as one that adopted the same table does) would make
    // the two commit against each other forever. A task put back over another version
    // `max_restores` times within `restore_window` is not put back again: this publisher stops
    // keeping it, says so, and the other version stands. Plain damage (ports deleted, however
    // often) never counts: only elements of the task that this publisher did not write.
    static constexpr std::size_t max_restores = 5;
    static constexpr auto restore_window = std::chrono::seconds(10);

    void note_restored(const std::vector<std::string>& tasks)
    {
        const auto now = std::chrono::steady_clock::now();
        for (const auto& task : tasks)
            restores_[task].push_back(now);
    }

    bool contested(const std::string& task)
    {
        const auto found = restores_.find(task);
        if (found == restores_.end())
            return false;
        auto& times = found->second;
        const auto now = std::chrono::steady_clock::now();
        while (!times.empty() && now - times.front() > restore_window)
            times.pop_front();
        return times.size() >= max_restores;
    }

    void tell(const RepairReport& report) const
    {
        if (log_.enabled())
            log_(report.error.empty() ? LogLevel::info : LogLevel::error, repair_text(report));
        if (!options_.on_repair)
            return;
        try {
            options_.on_repair(report);
        } catch (...) {
            // A logger's failure must not stop the healing.
        }
    }

    std::unique_ptr<ruleset::Backend> backend_;
    const PublisherOptions options_;
    MetricsRecorder recorder_;
    const Log log_{options_.logger};
    std::mutex mutex_;
    TableView view_;
    // Where in PublisherOptions::automatic_ports a choice starts: at random, so that publishers
    // racing for ports rarely choose the same one (the kernel refuses the second).
    std::minstd_rand random_{std::random_device{}()};
    // The full read after which an EEXIST or ENOENT for an element our view got wrong is final.
    std::uint64_t eexist_reads_ = 0;
    // What a self-healing publisher keeps published: the tasks it published or adopted.
    std::map<std::string, std::vector<IndexEntry>, std::less<>> desired_;
    // The ingress services it keeps published, with their ports and records.
    std::map<std::string, std::vector<ingress::WantedPort>, std::less<>> ingress_kept_;
    // Why every task must be compared with the kernel even without new damage (the last repair
    // failed, or the table was damaged before we started); empty when not.
    std::string recheck_;
    // When each kept task was restored recently (give_up_contested()).
    std::map<std::string, std::deque<std::chrono::steady_clock::time_point>, std::less<>> restores_;
    Event wake_;                   // asks the healing thread to look at damage another thread read
    bool remaking_slots_ = false;  // after_commit() is writing the slots of a remade ingress map
    // The deadline last asked of the cleaner for each backend's connections through a port.
    std::map<ruleset::FlowMatch, std::chrono::sys_seconds> deadlines_asked_;
    FlowCleaner cleaner_{*backend_, [this](const std::string& message) { warn(message); },
                         [this](std::vector<ruleset::FlowMatch> due) { return settle_deadlines(std::move(due)); }};
    std::optional<Healer> healer_;  // last: stopped before the members it uses go
};

HostPortPublisher::HostPortPublisher(PublisherOptions options)
    : impl_(std::make_unique<Impl>(std::make_unique<netlink::KernelBackend>(), std::move(options)))
{
}

HostPortPublisher::HostPortPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HostPortPublisher publisher_on(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options)
{
    return HostPortPublisher::Impl::publisher(std::move(backend), std::move(options));
}

void PolicyDeleter::operator()(HostPortPublisher::Impl* policy) const noexcept { delete policy; }

Policy driven_policy(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options)
{
    return Policy(new HostPortPublisher::Impl(std::move(backend), std::move(options), false));
}

ruleset::Backend& backend_of(HostPortPublisher::Impl& policy) { return policy.backend(); }

BatchPlan plan_batch(HostPortPublisher::Impl& policy, std::span<BatchRequest> requests) { return policy.plan_batch(requests); }

std::optional<std::uint32_t> send_guard(HostPortPublisher::Impl& policy, const BatchPlan& plan)
{
    return policy.send_guard(plan);
}

void batch_committed(HostPortPublisher::Impl& policy, const BatchPlan& plan, std::span<BatchRequest> requests)
{
    policy.batch_committed(plan, requests);
}

AfterRefusal batch_refused(HostPortPublisher::Impl& policy, BatchPlan& plan, const Error& refusal)
{
    return policy.batch_refused(plan, refusal);
}

Error contention_error() { return contention(); }

bool on_announcements(HostPortPublisher::Impl& policy, bool repair) { return policy.on_announcements(repair); }

std::vector<PortMapping> published_ports(HostPortPublisher::Impl& policy, std::string_view task_id)
{
    return policy.published(task_id);
}

void reconcile(HostPortPublisher::Impl& policy, std::span<const TaskPorts> desired) { policy.reconcile(desired); }

const KernelFeatures& kernel_features(const HostPortPublisher::Impl& policy) noexcept { return policy.features(); }

void wait_for_conntrack_cleanup(HostPortPublisher::Impl& policy) { policy.wait_for_conntrack_cleanup(); }

int feed_fd(const HostPortPublisher::Impl& policy) noexcept { return policy.feed_fd(); }

MetricsRecorder& recorder_of(HostPortPublisher::Impl& policy) { return policy.recorder(); }

MetricsSnapshot metrics_of(HostPortPublisher::Impl& policy) { return policy.metrics(); }

void record_outcome(HostPortPublisher::Impl& policy, std::optional<MetricsRecorder::Operation> operation,
                    std::chrono::steady_clock::duration took, const std::exception_ptr& error)
{
    policy.record(operation, took, error);
}

HostPortPublisher::~HostPortPublisher() = default;

std::vector<PortMapping> HostPortPublisher::publish_ports(std::string_view task_id, const ContainerAddresses& container,
                                                          std::span<const PortMapping> ports)
{
    std::vector<PortMapping> published;
    impl_->observed(MetricsRecorder::Operation::publish, [&] {
        validate_task_id(task_id);
        published = impl_->publish(task_id, validation::parse_container_addresses(container), ports);
    });
    return published;
}

std::vector<PortMapping> HostPortPublisher::publish_ports(std::string_view task_id, std::string_view container_ip,
                                                          std::span<const PortMapping> ports)
{
    std::vector<PortMapping> published;
    impl_->observed(MetricsRecorder::Operation::publish, [&] {
        validate_task_id(task_id);
        published = impl_->publish(task_id, validation::parse_container_address(container_ip), ports);
    });
    return published;
}

std::vector<PortMapping> HostPortPublisher::add_ports(std::string_view task_id, const ContainerAddresses& container,
                                                      std::span<const PortMapping> ports)
{
    std::vector<PortMapping> published;
    impl_->observed(MetricsRecorder::Operation::publish, [&] {
        validate_task_id(task_id);
        published = impl_->add(task_id, validation::parse_container_addresses(container), ports);
    });
    return published;
}

std::vector<PortMapping> HostPortPublisher::remove_ports(std::string_view task_id, std::span<const PortMapping> ports)
{
    std::vector<PortMapping> published;
    impl_->observed(MetricsRecorder::Operation::unpublish, [&] {
        validate_task_id(task_id);
        published = impl_->remove(task_id, ports);
    });
    return published;
}

void HostPortPublisher::unpublish_ports(std::string_view task_id)
{
    impl_->observed(MetricsRecorder::Operation::unpublish, [&] { impl_->unpublish(task_id); });
}

void HostPortPublisher::publish_ingress(std::string_view service, std::span<const PortMapping> ports,
                                        std::span<const IngressBackend> backends)
{
    impl_->observed(MetricsRecorder::Operation::publish, [&] {
        const auto wanted = ingress::checked_request(service, ports, backends);
        std::vector<layout::HostPort> wanted_ports;
        for (const auto& port : wanted)
            wanted_ports.push_back(port.port);
        impl_->change_ingress(
            service, wanted_ports,
            [&](const TaskIndex& index, const ingress::TablesState& state) {
                return ingress::plan_publish(index, state, service, wanted);
            },
            ingress::wide_ports(wanted));
    });
}

void HostPortPublisher::drain_backend(std::string_view service, std::string_view address, std::optional<std::uint16_t> port,
                                      std::optional<std::chrono::sys_seconds> deadline)
{
    impl_->observed(MetricsRecorder::Operation::publish, [&] {
        validate_task_id(service);
        const auto backend = validation::parse_container_ip(address);
        impl_->change_ingress(service, {}, [&](const TaskIndex&, const ingress::TablesState& state) {
            return ingress::plan_drain(state, service, backend, port, deadline);
        });
    });
}

std::vector<IngressService> HostPortPublisher::ingress_services() const
{
    return impl_->observed(std::nullopt, [&] { return impl_->ingress_services(); });
}

void HostPortPublisher::reconcile(std::span<const TaskPorts> desired)
{
    impl_->observed(std::nullopt, [&] { impl_->reconcile(desired); });
}

std::vector<PortMapping> HostPortPublisher::published_ports(std::string_view task_id) const
{
    return impl_->observed(std::nullopt, [&] { return impl_->published(task_id); });
}

std::vector<PublishedPort> HostPortPublisher::all_published_ports() const
{
    return impl_->observed(std::nullopt, [&] { return impl_->all(); });
}

std::vector<DestinationCounters> HostPortPublisher::destination_counters() const
{
    return impl_->observed(std::nullopt, [&] { return impl_->counters(); });
}

MetricsSnapshot HostPortPublisher::metrics() const
{
    return impl_->observed(std::nullopt, [&] { return impl_->metrics(); });
}

void HostPortPublisher::remove_table()
{
    impl_->observed(std::nullopt, [&] { impl_->remove_table(); });
}

TableInspection HostPortPublisher::inspect() const { return impl_->inspect(); }

const KernelFeatures& HostPortPublisher::kernel_features() const noexcept { return impl_->features(); }

void HostPortPublisher::wait_for_conntrack_cleanup() { impl_->wait_for_conntrack_cleanup(); }

}  // namespace warren::nft
