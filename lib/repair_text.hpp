// SPDX-License-Identifier: Apache-2.0
// A repair of a self-healing publisher as one line of text: what the publisher logs and what
// `warren-nft watch` prints. Header-only, like printable.hpp: the command line, which links only the
// library's public interface, uses it too.
#pragma once

#include "printable.hpp"

#include <warren/nft/host_port_publisher.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace warren::nft::repair_text_detail {

// Every string of a report goes through printable(): the process name is raw bytes, the rest is the
// library's prose, already escaped, checked again so that no byte of it can upset a terminal.
inline std::string prose(std::string_view text) { return printable(text, Backslash::keep); }

inline std::string milliseconds(std::chrono::microseconds duration)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.3f ms", static_cast<double>(duration.count()) / 1000.0);
    return text;
}

// "2 port(s) and the layout restored", "the layout restored", "nothing restored".
inline std::string restored(const RepairReport& report)
{
    if (report.ports_restored == 0)
        return report.layout_restored ? "the layout restored" : "nothing restored";
    return std::to_string(report.ports_restored) + " port(s)" + (report.layout_restored ? " and the layout" : "") + " restored";
}

// " (generation 13 by nft[4242])": the damaging commit, as far as the kernel told (a repair tried
// again after a failure has no commit of its own).
inline std::string commit(const RepairReport& report)
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

inline std::string skipped(const RepairReport& report)
{
    if (report.skipped.empty())
        return "";
    std::string text = "; skipped " + std::to_string(report.skipped.size()) + " port(s) held by another owner: ";
    for (std::size_t i = 0; i < report.skipped.size(); ++i)
        text += (i == 0 ? "" : ", ") + prose(report.skipped[i]);
    return text;
}

}  // namespace warren::nft::repair_text_detail

namespace warren::nft {

// "repaired in 1.234 ms: 2 port(s) restored; damage: table ip warren deleted (generation 13 by
// nft[4242])", or "repair failed after ...: <why>; damage: ...".
inline std::string repair_text(const RepairReport& report)
{
    using namespace repair_text_detail;
    const std::string outcome = report.error.empty() ? "repaired in " + milliseconds(report.duration) + ": " + restored(report)
                                                     : "repair failed after " + milliseconds(report.duration) +
                                                           ", retrying within a second: " + prose(report.error);
    return outcome + "; damage: " + prose(report.damage) + commit(report) + skipped(report);
}

}  // namespace warren::nft
