// SPDX-License-Identifier: Apache-2.0
#include "watch_output.hpp"

#include "printable.hpp"
#include "repair_text.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace warren::cli {

namespace {

using nft::printable;
using nlohmann::ordered_json;

// Every string of a report goes through printable(): the process name is raw bytes, the rest is the
// library's prose, already escaped, checked again so that no byte of it can upset a terminal.
using nft::repair_text_detail::prose;

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
    return json ? repair_json(report).dump() : nft::repair_text(report);
}

std::string format_watch_stop(std::string_view signal, bool json)
{
    if (json)
        return ordered_json{{"event", "stop"}, {"signal", signal}}.dump();
    return "stopped on " + std::string(signal) + "; table ip warren and its ports stay as they are";
}

}  // namespace warren::cli
