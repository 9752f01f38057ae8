// SPDX-License-Identifier: Apache-2.0
// Methods `iptables-fork` (Warren's original package: three `iptables -w` processes per port, one
// after the other) and `iptables-restore` (the same rules in one `iptables-restore --noflush`).
// Both fill the table with the same per-port rules, loaded in one iptables-restore.
#include "iptables_layout.hpp"
#include "method.hpp"
#include "tool_process.hpp"

namespace bench {
namespace {

// Warren's original package had no IPv6 rules: ip6tables rules of our own devising would measure
// a design nobody shipped, not the package warren-nft replaces.
const char* const original_is_ipv4_only = "Warren's original iptables package publishes IPv4 only";

void restore(std::span<const BenchPort> ports, RuleAction action)
{
    run_tool({"iptables-restore", "--noflush", "-w"}, iptables_restore_script(ports, action));
}

void restore_tasks(std::span<const Task> tasks)
{
    std::vector<BenchPort> ports;
    for (const auto& task : tasks)
        ports.insert(ports.end(), task.ports.begin(), task.ports.end());
    restore(ports, RuleAction::append);
}

class IptablesFork final : public Method {
public:
    void prepare(std::span<const Task> filler, AddressFamily) override { restore_tasks(filler); }
    void publish(const Task& service) override { fork_each(service, RuleAction::append); }
    void unpublish(const Task& service) override { fork_each(service, RuleAction::remove); }

private:
    static void fork_each(const Task& service, RuleAction action)
    {
        for (const auto& port : service.ports)
            for (auto& arguments : iptables_rule_arguments(port, action)) {
                arguments.insert(arguments.begin(), {"iptables", "-w"});
                run_tool(std::move(arguments));
            }
    }
};

class IptablesRestore final : public Method {
public:
    void prepare(std::span<const Task> filler, AddressFamily) override { restore_tasks(filler); }
    void publish(const Task& service) override { restore(service.ports, RuleAction::append); }
    void unpublish(const Task& service) override { restore(service.ports, RuleAction::remove); }
};

}  // namespace

MethodInfo iptables_fork_method()
{
    return {"iptables-fork", "3 forked `iptables -w` per port, as Warren's original package",
            [] {
                auto missing = missing_program("iptables");
                return missing ? missing : missing_program("iptables-restore");  // it fills the table
            },
            [] { return std::make_unique<IptablesFork>(); }, original_is_ipv4_only};
}

MethodInfo iptables_restore_method()
{
    return {"iptables-restore", "one `iptables-restore --noflush` process per publish",
            [] { return missing_program("iptables-restore"); }, [] { return std::make_unique<IptablesRestore>(); },
            original_is_ipv4_only};
}

}  // namespace bench
