// SPDX-License-Identifier: Apache-2.0
// What HostPortPublisher::inspect() reports: tables ip warren and ip6 warren as the publisher sees
// them, read in one snapshot per family and judged by the same repair planner its changes use.
// Reading changes nothing.
#pragma once

#include <warren/nft/host_port_publisher.hpp>
#include <warren/nft/kernel_features.hpp>

#include <array>
#include <string>
#include <vector>

namespace warren::nft {

// What is wrong with a table, or what the next change of published ports would change in it.
enum class TableProblemKind {
    // Owned by another process (NFT_TABLE_F_OWNER): no publisher may change it.
    owned_by_another_process,
    // A table, set or chain no transaction can make ours (another type, flags, size, hook or
    // priority): the publisher refuses the table.
    other_layout,
    // The table's flags make it dormant: its chains hook nothing, so no published port works.
    dormant,
    // A set or map of the layout is missing.
    missing_set,
    // A base chain of the layout is missing.
    missing_chain,
    // A chain lacks its fixed rules, or holds others (flushed, or edited by hand).
    chain_rules,
    // A chain of ours has policy drop: it drops every packet of its hook that no rule accepts.
    chain_policy_drop,
    // The fixed rules are complete but written for other PublisherOptions (counters, masquerading,
    // wildcard_on_localhost): the next change of published ports rewrites them.
    rules_of_other_options,
    // The backends set is to be created, or to be replaced by one that counts (or removed).
    backends_set_changes,
    // A published port leads to a destination the backends set lacks: its connections are neither
    // masqueraded nor forwarded by the rules that look the set up.
    missing_backends_element,
    // The backends set holds a destination no published port leads to.
    stale_backends_element,
    // An element of a ports map whose comment names no task: added by hand or by another program.
    // It holds its host port, and no publisher removes it.
    ownerless_element,
    // The table has the layout of an earlier version: the access-policy one (sets restricted and
    // bound_restricted), or one written before ingress mode (without map ingress, set
    // ingress_backends and the rules that look the map up). It works, and the next change of
    // published ports converts it.
    earlier_layout,
    // The ingress map lacks warren-nft's typeof user data (without one nft cannot list the table):
    // the next change of published ports deletes it and creates it again, with the rules that look
    // it up (it holds nothing the publisher cannot write again).
    ingress_typeof_lost,
};

// How much a problem matters to traffic.
enum class Severity {
    note,     // nothing is broken; the next change of published ports changes it
    warning,  // traffic works, but something is not as the publisher keeps it
    failure,  // published ports do not work (or not all), or the publisher refuses the table
};

struct TableProblem {
    TableProblemKind kind;
    Severity severity;
    // What it is about, as nft names it: "table ip warren", "chain ip warren forward",
    // "set ip warren backends", "element ip warren ports tcp . 8080". Escaped (printable ASCII).
    std::string object;
    // What is wrong and what it does to traffic, one line, printable ASCII.
    std::string description;
    // How to fix it, one line: a command or what to do.
    std::string fix;

    friend bool operator==(const TableProblem&, const TableProblem&) = default;
};

// One family's table.
struct FamilyInspection {
    std::string table;  // "ip warren", "ip6 warren"
    bool exists = false;
    bool dormant = false;
    // It holds a backends set with counters (PublisherOptions::counters).
    bool counting = false;
    // Why the publisher refuses the table (the Error text a change of published ports would throw);
    // empty when it adopts it. A refused table's problems hold the reason too, and may be fewer than
    // it has: the planner stops at the first reason to refuse.
    std::string refusal;
    // In the order the planner finds them; empty for a complete table (or one that does not exist).
    std::vector<TableProblem> problems;
    // Every port the table publishes, ownerless elements (empty task_id) included, ordered as
    // all_published_ports() orders them.
    std::vector<PublishedPort> ports;
    // The operations the next change of published ports would add to its transaction to repair
    // the table (0: none, the table is complete).
    std::size_t repair_operations = 0;
};

struct TableInspection {
    // By family: [0] ip warren, [1] ip6 warren.
    std::array<FamilyInspection, 2> families;
    KernelFeatures kernel_features;
};

}  // namespace warren::nft
