// SPDX-License-Identifier: Apache-2.0
#include "doctor.hpp"

#include <warren/nft.hpp>

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace warren::cli {

namespace {

using nlohmann::json;

// `nft -j list ruleset`, parsed; nullopt (with the reason in `error`) when it cannot be had.
std::optional<json> read_ruleset(std::string& error)
{
    // nft lives in sbin, which an unprivileged PATH often lacks.
    FILE* pipe = popen("PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\" nft -j list ruleset 2>&1", "r");
    if (pipe == nullptr) {
        error = "could not run nft";
        return std::nullopt;
    }
    std::string output;
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
        output.append(buffer.data(), n);
    const int status = pclose(pipe);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        while (!output.empty() && (output.back() == '\n' || output.back() == ' '))
            output.pop_back();
        error = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? std::string("nft is not installed")
                                                               : "nft -j list ruleset failed: " + output;
        return std::nullopt;
    }
    try {
        return json::parse(output);
    } catch (const json::exception& e) {
        error = std::string("nft -j list ruleset printed no valid JSON: ") + e.what();
        return std::nullopt;
    }
}

std::string text(const json& object, const char* key)
{
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct Chain {
    std::string family, table, name, type, hook, policy;
};

std::vector<Chain> chains(const json& ruleset)
{
    std::vector<Chain> out;
    const auto list = ruleset.find("nftables");
    if (list == ruleset.end() || !list->is_array())
        return out;
    for (const auto& object : *list) {
        const auto chain = object.find("chain");
        if (chain == object.end() || !chain->is_object())
            continue;
        out.push_back(Chain{text(*chain, "family"), text(*chain, "table"), text(*chain, "name"), text(*chain, "type"),
                            text(*chain, "hook"), text(*chain, "policy")});
    }
    return out;
}

bool table_exists(const json& ruleset)
{
    const auto list = ruleset.find("nftables");
    if (list == ruleset.end() || !list->is_array())
        return false;
    for (const auto& object : *list)
        if (const auto table = object.find("table"); table != object.end() && table->is_object())
            if (text(*table, "family") == "ip" && text(*table, "name") == "warren")
                return true;
    return false;
}

std::string read_first_line(const char* path)
{
    std::ifstream file(path);
    std::string line;
    std::getline(file, line);
    return line;
}

bool module_loaded(const std::string& module)
{
    std::ifstream modules("/proc/modules");
    std::string line;
    while (std::getline(modules, line))
        if (line.starts_with(module + " "))
            return true;
    return false;
}

}  // namespace

int run_doctor(std::ostream& out)
{
    bool failed = false;
    const auto ok = [&](const std::string& line) { out << "OK: " << line << "\n"; };
    const auto warn = [&](const std::string& line) { out << "WARN: " << line << "\n"; };
    const auto fail = [&](const std::string& line) {
        out << "FAIL: " << line << "\n";
        failed = true;
    };

    std::string ruleset_error;
    const auto ruleset = read_ruleset(ruleset_error);
    const bool have_table = ruleset && table_exists(*ruleset);

    // Table ip warren as nft shows it: "" when absent or fine, else the base chains it lacks.
    std::string missing;
    if (ruleset && have_table) {
        std::map<std::string, std::string> hooks;
        for (const auto& chain : chains(*ruleset))
            if (chain.family == "ip" && chain.table == "warren")
                hooks[chain.name] = chain.hook;
        for (const char* name : {"prerouting", "output", "postrouting", "forward"})
            if (const auto it = hooks.find(name); it == hooks.end() || it->second != name)
                missing += (missing.empty() ? "" : ", ") + std::string(name);
    }

    // nf_tables: the library's own netlink socket, but only where that changes nothing (a new publisher
    // creates the table when it is missing and restores missing chains).
    if (!ruleset)
        warn("cannot read the ruleset (" + ruleset_error + "); the checks of the ruleset are skipped");
    if ((have_table && missing.empty()) || !ruleset) {
        try {
            nft::HostPortPublisher publisher;
            ok("nf_tables answers warren-nft over netlink; " + std::to_string(publisher.all_published_ports().size()) +
               " port(s) published");
        } catch (const nft::Error& e) {
            fail(std::string("nf_tables cannot be used: ") + e.what());
        }
    } else {
        ok("nf_tables answers (nft lists the ruleset)");
    }

    if (ruleset) {
        if (!have_table)
            ok("table ip warren does not exist yet: nothing is published; the first publish creates it");
        else if (missing.empty())
            ok("table ip warren has its chains prerouting, output, postrouting and forward");
        else
            fail("table ip warren lacks the base chain(s) " + missing +
                 "; any warren-nft publish, unpublish or list restores them");
    }

    const auto forward = read_first_line("/proc/sys/net/ipv4/ip_forward");
    if (forward == "1")
        ok("net.ipv4.ip_forward is 1");
    else
        fail("net.ipv4.ip_forward is " + (forward.empty() ? std::string("unreadable") : forward) +
             ", so the host does not forward traffic to containers; fix: sysctl -w net.ipv4.ip_forward=1 "
             "(and set it in /etc/sysctl.d/ to keep it)");

    if (module_loaded("br_netfilter"))
        ok("br_netfilter is loaded");
    else
        warn("br_netfilter is not loaded, so a container may not reach a port published by another container on "
             "the same bridge; fix: modprobe br_netfilter");

    if (ruleset) {
        bool found = false;
        for (const auto& chain : chains(*ruleset)) {
            if (chain.hook != "forward" || chain.policy != "drop" || (chain.family != "ip" && chain.family != "inet"))
                continue;
            found = true;
            warn("chain " + chain.family + " " + chain.table + " " + chain.name +
                 " (hook forward, policy drop) drops forwarded traffic its own rules do not accept, including "
                 "traffic to published ports; fix: add 'ct status dnat accept' to it, or set its policy to accept");
        }
        if (!found)
            ok("no other forward chain of nftables or iptables-nft has policy drop (iptables-legacy is not checked)");
    }
    return failed ? 1 : 0;
}

}  // namespace warren::cli
