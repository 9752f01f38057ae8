// SPDX-License-Identifier: Apache-2.0
#include "watch_output.hpp"

#include "printable.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace warren::cli {

namespace {

using nft::printable;
using nlohmann::ordered_json;

// Every string of a report goes through printable(): the process name is raw bytes, the rest is the
// library's prose, already escaped, checked again so that no byte of it can upset a terminal.
std::string prose(std::string_view text) { return printable(text, nft::Backslash::keep); }

std::string milliseconds(std::chrono::microseconds duration)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.3f ms", static_cast<double>(duration.count()) / 1000.0);
    return text;
}

// "2 port(s) and the layout restored", "the layout restored", "nothing restored".
std::string restored(const nft::RepairReport& report)
{
    if (report.ports_restored == 0)
        return report.layout_restored ? "the layout restored" : "nothing restored";
    return std::to_string(report.ports_restored) + " port(s)" + (report.layout_restored ? " and the layout" : "") + " restored";
}

// " (generation 13 by nft[4242])": the damaging commit, as far as the kernel told (a repair tried
// again after a failure has no commit of its own).
std::string commit(const nft::RepairReport& report)
{
    std::string who;
    if (!report.process.empty())
        who = printable(report.process) + "[" + std::to_string(report.pid) + "]";
    else if (report.pid != 0)
        who = "pid " + std::to_string(report.pid);
    if (report.generation == 0)
        return who.empty() ? "" : " (by " + who + ")";
    return " (generation " + std::to_string(report.generation) + (who.empty() ? "" : " by " + who) + ")";
}

std::string skipped(const nft::RepairReport& report)
{
    if (report.skipped.empty())
        return "";
    std::string text = "; skipped " + std::to_string(report.skipped.size()) + " port(s) held by another owner: ";
    for (std::size_t i = 0; i < report.skipped.size(); ++i)
        text += (i == 0 ? "" : ", ") + prose(report.skipped[i]);
    return text;
}

std::string repair_text(const nft::RepairReport& report)
{
    const std::string outcome = report.error.empty() ? "repaired in " + milliseconds(report.duration) + ": " + restored(report)
                                                     : "repair failed after " + milliseconds(report.duration) +
                                                           ", retrying within a second: " + prose(report.error);
    return outcome + "; damage: " + prose(report.damage) + commit(report) + skipped(report);
}

ordered_json repair_json(const nft::RepairReport& report)
{
    auto skipped = ordered_json::array();
    for (const auto& port : report.skipped)
        skipped.push_back(prose(port));
    return {{"event", "repair"},
            {"damage", prose(report.damage)},
            {"generation", report.generation},
            {"pid", report.pid},
            {"process", printable(report.process)},
            {"ports_restored", report.ports_restored},
            {"layout_restored", report.layout_restored},
            {"duration_us", report.duration.count()},
            {"error", prose(report.error)},
            {"skipped", std::move(skipped)}};
}

}  // namespace

std::string format_watch_start(std::size_t tasks, std::size_t ports, bool json)
{
    if (json)
        return ordered_json{{"event", "start"}, {"tasks", tasks}, {"ports", ports}}.dump();
    // Only what the table held at the start is kept: an empty table leaves nothing to repair.
    return "watching table ip warren: keeping " + std::to_string(tasks) + " task(s) with " + std::to_string(ports) +
           " port(s) published" + (tasks == 0 ? " (only tasks in the table when watch starts are kept)" : "") +
           "; stop with SIGINT or SIGTERM";
}

std::string format_repair(const nft::RepairReport& report, bool json)
{
    return json ? repair_json(report).dump() : repair_text(report);
}

std::string format_watch_stop(std::string_view signal, bool json)
{
    if (json)
        return ordered_json{{"event", "stop"}, {"signal", signal}}.dump();
    return "stopped on " + std::string(signal) + "; table ip warren and its ports stay as they are";
}

}  // namespace warren::cli
