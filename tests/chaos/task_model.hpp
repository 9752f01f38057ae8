// SPDX-License-Identifier: Apache-2.0
// The tasks the crash and chaos harnesses publish. Every version of a task is a different set of
// ports, derived from (publisher, task, version) alone, and every port carries the version in its
// name. So a state of the kernel describes itself: the elements of a task name the one version
// they belong to, and that version's ports must all be there. No harness needs to know what a
// killed process was doing to tell a complete task from a half-present one.
#pragma once

#include "nft_state.hpp"

#include <warren/nft.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chaos {

// The host addresses some ports of the model are published on (bound_ports): the harness adds them
// to the namespace, since a publisher refuses an address the host does not have.
inline constexpr const char* bound_host_ipv4 = "192.0.2.10";
inline constexpr const char* bound_host_ipv6 = "2001:db8::10";

struct TaskRef {
    int publisher = 0;  // which publishing process owns it (0-15)
    int task = 0;       // its number within that process (0-39)
    std::string id() const;
    friend auto operator<=>(const TaskRef&, const TaskRef&) = default;
};

// One version (>= 1) of a task, as publish_ports() and reconcile() take it.
struct TaskVersion {
    TaskRef ref;
    unsigned version = 1;
    warren::nft::ContainerAddresses addresses() const;
    std::vector<warren::nft::PortMapping> ports() const;
    warren::nft::TaskPorts task_ports() const;
};

// An element of map ports or bound_ports in table `family` warren.
struct Element {
    std::string family;  // "ip" or "ip6"
    kt::KernelPort port;
    friend auto operator<=>(const Element&, const Element&) = default;
};
std::string describe(const Element& element);
// The map it is in ("ports" or "bound_ports") and its key as nft writes it ("tcp . 20005").
std::string map_of(const Element& element);
std::string key_of(const Element& element);
// `nft delete element` of it, as another program would; throws when nft fails.
void delete_with_nft(const Element& element);

// One line per element of `want` not in `have` ("\n    <missing> element") and of `have` not in
// `want` ("\n    <extra> element"); both sorted.
std::string differences(const std::vector<Element>& want, const std::vector<Element>& have, const std::string& missing,
                        const std::string& extra);

// The elements the kernel holds for that version, sorted.
std::vector<Element> expected_elements(const TaskVersion& version);

// The elements of both tables as one `nft -j list ruleset` reads them, sorted (none for a table that
// does not exist).
using Tables = std::map<std::string, kt::WarrenTable>;
std::vector<Element> elements_of(const Tables& tables);
inline std::vector<Element> nft_elements() { return elements_of(kt::warren_tables()); }
// The same, as a publisher reads them (all_published_ports()).
std::vector<Element> library_elements(const warren::nft::HostPortPublisher& publisher);

// What a set of elements says about the harness's tasks.
struct Verdict {
    std::map<TaskRef, unsigned> versions;  // every task present, complete, in this version
    std::vector<Element> foreign;          // elements of no harness task (another program's)
    std::vector<std::string> problems;     // half-present or mixed tasks, unreadable comments
};
Verdict judge(const std::vector<Element>& elements);

// In a table that counts, set backends must hold exactly the destinations of its map elements.
// Returns what is wrong (nothing when every table that has the set agrees).
std::vector<std::string> check_backends(const Tables& tables);

}  // namespace chaos
