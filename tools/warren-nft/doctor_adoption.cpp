// SPDX-License-Identifier: Apache-2.0
#include "doctor_adoption.hpp"

#include <algorithm>
#include <map>
#include <sstream>
#include <string_view>

namespace warren::cli::doctor {

namespace {

// The sets and chains warren-nft writes: only theirs matter to a publisher.
const std::vector<std::string> our_sets{"ports", "bound_ports", "backends"};
const std::vector<std::string> our_chains{"prerouting", "output", "postrouting", "forward"};

bool contains(const std::vector<std::string>& names, const std::string& name)
{
    return std::find(names.begin(), names.end(), name) != names.end();
}

// Table ip warren as `nft -t list table ip warren` prints it: its own flags, for each set or map
// the settings nft prints between its type and its elements, and the base chains with policy drop.
struct Listing {
    struct Set {
        std::string kind;  // "set" or "map"
        std::string name;
        std::vector<std::string> flags;
        std::string size;
        std::string timeout;
    };
    struct DropChain {
        std::string name;
        std::string hook;
    };
    std::vector<std::string> flags;
    std::string program;  // "# progname NAME" after the table of an owned table
    std::vector<Set> sets;
    std::vector<DropChain> dropping;
};

// The word after `key ` in `text` ("" when there is none).
std::string word_after(std::string_view text, std::string_view key)
{
    const auto at = text.find(key);
    if (at == std::string_view::npos)
        return {};
    const auto start = at + key.size();
    return std::string(text.substr(start, text.find_first_of(" ;", start) - start));
}

std::vector<std::string> split_commas(std::string_view list)
{
    std::vector<std::string> out;
    std::istringstream items{std::string(list)};
    for (std::string item; std::getline(items, item, ',');)
        out.push_back(item);
    return out;
}

// nft indents by nesting with tabs: the table's own settings and its sets' and chains' headers are
// one tab deep, a set's settings and a chain's hook and rules two.
Listing parse_listing(const std::string& text)
{
    Listing out;
    Listing::Set* set = nullptr;
    std::string chain;  // the base chain being read
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        const auto depth = line.find_first_not_of('\t');
        if (depth == std::string::npos)
            continue;
        std::string_view content(line);
        content.remove_prefix(depth);
        const auto value = [&](std::string_view key) { return content.substr(key.size()); };
        if (depth == 0) {
            constexpr std::string_view progname = "# progname ";
            if (const auto at = content.find(progname); at != std::string_view::npos)
                out.program = content.substr(at + progname.size());
        } else if (depth == 1) {
            set = nullptr;
            chain = content.starts_with("chain ") ? word_after(content, "chain ") : std::string();
            if (content.starts_with("flags "))
                out.flags = split_commas(value("flags "));
            else if (content.starts_with("set ") || content.starts_with("map ")) {
                out.sets.push_back({std::string(content.substr(0, 3)), word_after(content.substr(3), " "), {}, {}, {}});
                set = &out.sets.back();
            }
        } else if (depth == 2 && !chain.empty()) {
            if (content.starts_with("type ") && content.find(" policy drop;") != std::string_view::npos)
                out.dropping.push_back({chain, word_after(content, " hook ")});
        } else if (depth == 2 && set) {
            if (content.starts_with("flags "))
                set->flags = split_commas(value("flags "));
            else if (content.starts_with("size "))
                set->size = value("size ");
            else if (content.starts_with("timeout "))
                set->timeout = value("timeout ");
        }
    }
    return out;
}

const std::string delete_table =
    "; fix: nft delete table ip warren (which deletes every port published in it), then "
    "publish every task's ports again";

void check_table(const Listing& listing, std::vector<AdoptionProblem>& out)
{
    const auto& flags = listing.flags;
    if (contains(flags, "owner")) {
        out.push_back({"table ip warren is owned by another process" +
                           (listing.program.empty() ? std::string() : " (" + listing.program + ")") +
                           ", and the kernel lets only that process change it, so warren-nft cannot publish; fix: stop "
                           "that process or have it delete the table (the kernel deletes it when the process closes "
                           "its netlink socket; ss -f netlink -p shows the process), then publish again",
                       true});
    } else if (contains(flags, "dormant")) {
        out.push_back(
            {"table ip warren is dormant (flags dormant), so none of its chains sees a packet and published "
             "ports do not work; fix: nft add table ip warren (which wakes it; so does the next warren-nft "
             "publish)",
             false});
    }
}

void check_sets(const Listing& listing, std::vector<AdoptionProblem>& out)
{
    static const std::map<std::string, std::string> refused_flags{
        {"timeout", "its elements would expire"},
        {"interval", "its elements are ranges of keys, not the single ports warren-nft writes"},
        {"dynamic", "rules may add elements to it that no task published"},
        {"constant", "the kernel refuses to add or delete its elements"},
    };
    for (const auto& set : listing.sets) {
        if (!contains(our_sets, set.name))
            continue;
        const std::string name = set.kind + " ip warren " + set.name;
        auto flags = set.flags;
        if (!set.timeout.empty() && !contains(flags, "timeout"))  // nft prints a default timeout instead of the flag
            flags.push_back("timeout");
        for (const auto& flag : flags)
            if (const auto refused = refused_flags.find(flag); refused != refused_flags.end())
                out.push_back({name + " has flags " + flag + ": " + refused->second +
                                   ", so warren-nft refuses to "
                                   "publish into it" +
                                   delete_table,
                               true});
        if (!set.size.empty())
            out.push_back({name + " has size " + set.size + ": the kernel takes no more than " + set.size +
                               " elements, so warren-nft refuses to publish into it" + delete_table,
                           true});
    }
}

void check_policies(const Listing& listing, std::vector<AdoptionProblem>& out)
{
    for (const auto& chain : listing.dropping)
        if (contains(our_chains, chain.name))
            out.push_back({"chain ip warren " + chain.name + " has policy drop, so it drops every packet on hook " + chain.hook +
                               " that its rules do not accept, not only traffic of published ports; fix: "
                               "publish again (the next warren-nft publish sets it back to accept), or nft chain ip "
                               "warren " +
                               chain.name + " '{ policy accept; }'",
                           false});
}

}  // namespace

std::vector<AdoptionProblem> adoption_problems(const std::string& listing)
{
    const auto parsed = parse_listing(listing);
    std::vector<AdoptionProblem> out;
    check_table(parsed, out);
    check_sets(parsed, out);
    check_policies(parsed, out);
    return out;
}

}  // namespace warren::cli::doctor
