// SPDX-License-Identifier: Apache-2.0
// What the kernel holds, as the `nft` tool (not the library) reads it.
#pragma once

#include "netns.hpp"
#include "process.hpp"

#include <compare>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace kt {

// The tests' helpers build on tools/sandbox (namespaces, processes, traffic).
using namespace sandbox;

// `nft <args...>`; throws with nft's stderr on failure.
std::string nft(std::vector<std::string> args);
// nft's output for `args`, listed until two listings in a row agree (at most 6 times). nft lists
// what one dump holds, and a dump that spans a resize of a set's hash table (which the kernel
// makes after a commit) repeats some elements and leaves others out; two listings that agree are
// taken as made with no resize in between. Meant for listings of thousands of elements; the
// others are read once, as nft is slow in the emulated VM of tests/vm.
std::string settled_listing(const std::vector<std::string>& args);
// How many times `needle` occurs in map `map` of table `family` warren as nft lists it
// (settled_listing()): the elements it names.
std::size_t listed_elements(const std::string& family, const std::string& map, const std::string& needle);
// `nft -f -` with the script on stdin; throws with nft's stderr on failure.
void nft_script(const std::string& script);

std::string ruleset();       // nft list ruleset
std::string warren_table();  // nft list table ip warren
bool warren_table_exists();

// The handle of the rule of `chain` (in the family's warren table) whose comment is `comment`.
std::string rule_handle(const std::string& family, const std::string& chain, const std::string& comment);
// The `nft -f` script that turns a family's warren table, as this version writes it, into one
// written before ingress mode: without map ingress, set ingress_backends and the rules of
// prerouting and output that look the map up.
std::string without_ingress_script(const std::string& family);

// One element of map `ip warren ports` or `ip warren bound_ports`, from `nft -j list table ip warren`.
struct KernelPort {
    std::string protocol;  // "tcp", "udp", "sctp" (as nft names it)
    long host_port = 0;
    std::string container_ip;
    long container_port = 0;
    std::string comment;       // "" when the element has none
    std::string host_ip = {};  // "" in map ports (all addresses), the address in map bound_ports

    friend auto operator<=>(const KernelPort&, const KernelPort&) = default;
};
std::ostream& operator<<(std::ostream& out, const KernelPort& port);

// One element of set `ip warren backends`.
struct KernelBackend {
    std::string container_ip;
    std::string protocol;
    long port = 0;
    friend auto operator<=>(const KernelBackend&, const KernelBackend&) = default;
};
std::ostream& operator<<(std::ostream& out, const KernelBackend& backend);

// An element of set `ip warren backends` with its counter.
struct KernelBackendCounters {
    KernelBackend backend;
    long packets = 0;
    long bytes = 0;
    friend auto operator<=>(const KernelBackendCounters&, const KernelBackendCounters&) = default;
};

// Sorted. Throws when the map ports does not exist (bound_ports may be missing: an older layout).
std::vector<KernelPort> kernel_ports();
std::vector<KernelBackend> kernel_backends();
std::vector<KernelBackendCounters> kernel_backend_counters();
// Whether table ip warren holds a set backends (only a table that counts does).
bool kernel_has_backends();
// Whether nft shows the backends set with a counter statement: its elements count. False without one.
bool kernel_backends_counted();

// Tables `ip warren` and `ip6 warren` as one `nft -j list ruleset` shows them (one consistent read of
// both), by family ("ip", "ip6"); a table that does not exist is not in the map.
struct WarrenTable {
    std::vector<KernelPort> ports;  // sorted, as kernel_ports()
    bool has_backends = false;
    std::vector<KernelBackend> backends;  // sorted
};
std::map<std::string, WarrenTable> warren_tables();

// The chains of table ip warren with their hooks as nft reports them (name -> "type hook priority").
struct KernelChain {
    std::string name, type, hook;
    long priority = 0;
    friend auto operator<=>(const KernelChain&, const KernelChain&) = default;
};
std::ostream& operator<<(std::ostream& out, const KernelChain& chain);
std::vector<KernelChain> warren_chains();

// Every table as "family name", sorted.
std::vector<std::string> tables();

// Watches `nft monitor` and returns what it printed for the nf_tables transactions committed while
// `action` ran. Sentinel transactions (adding and deleting an unrelated table in one batch) mark the
// start and the end, so no event is missed or attributed to the wrong side.
struct MonitorLog {
    std::string text;     // the monitor's lines between the sentinels
    int generations = 0;  // "# new generation" lines: committed transactions
    std::vector<std::string> lines;
};
template <class F>
MonitorLog monitor_transactions(F&& action);

// Implementation detail of monitor_transactions.
class Monitor {
public:
    Monitor();
    MonitorLog finish();

private:
    void sentinel();
    bool wait_for_sentinel(std::size_t from);
    BackgroundCommand monitor_;
    std::size_t start_ = 0;
    int sentinels_ = 0;
};

template <class F>
MonitorLog monitor_transactions(F&& action)
{
    Monitor monitor;
    action();
    return monitor.finish();
}

}  // namespace kt
