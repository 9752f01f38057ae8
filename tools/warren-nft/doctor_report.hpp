// SPDX-License-Identifier: Apache-2.0
// What the checks of `warren-nft doctor` share: the report they print to, and running the read-only
// tools (nft, iptables-legacy-save) whose output they read.
#pragma once

#include "printable.hpp"

#include <warren/nft.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace warren::cli::doctor {

// The doctor's output: one line per finding, "OK: ...", "WARN: ..." or "FAIL: ...", each saying what
// to do about it. A finding quotes what other programs chose (names of tables and chains, rule
// comments, the output of nft and iptables-legacy-save), so each line is made printable as it is
// written: no control character or byte outside ASCII reaches the terminal, and a line stays one.
// With `json`, nothing is printed until finish(), which prints one JSON object:
// {"checks": [{"level": "OK"|"WARN"|"FAIL", "text": "...", "fix": "..."}], "failed": bool}, where
// "fix" is the words after the line's "; fix: " (absent on lines without one) and "text" those before.
class Report {
public:
    explicit Report(std::ostream& out, bool json = false) : out_(out), json_(json) {}
    void ok(const std::string& line) { write("OK: ", line); }
    void warn(const std::string& line) { write("WARN: ", line); }
    void fail(const std::string& line)
    {
        write("FAIL: ", line);
        failed_ = true;
    }
    bool failed() const { return failed_; }
    void finish()
    {
        if (json_)
            out_ << nlohmann::json{{"checks", checks_}, {"failed", failed_}}.dump(2) << "\n";
    }

private:
    // Backslashes are kept: a line may hold the library's messages, whose escapes start with one.
    void write(const char* label, const std::string& line)
    {
        const auto text = nft::printable(line, nft::Backslash::keep);
        if (!json_) {
            out_ << label << text << "\n";
            return;
        }
        std::string level(label);
        level.resize(level.size() - 2);  // "OK: " -> "OK"
        nlohmann::json check{{"level", level}};
        if (const auto at = text.find("; fix: "); at != std::string::npos) {
            check["text"] = text.substr(0, at);
            check["fix"] = text.substr(at + 7);
        } else {
            check["text"] = text;
        }
        checks_.push_back(std::move(check));
    }

    std::ostream& out_;
    bool json_;
    nlohmann::json checks_ = nlohmann::json::array();
    bool failed_ = false;
};

// Runs `program arguments` through the shell, with the sbin directories added to PATH (nft and
// iptables live there, and an unprivileged PATH often lacks them). Returns what it printed (stdout and
// stderr); nullopt when it could not be run or failed, with the reason in `error` ("PROGRAM is not
// installed", or its exit status and output). Only ever called with constant, read-only commands.
std::optional<std::string> run_tool(const std::string& program, const std::string& arguments, std::string& error);

// The first line of a file ("" when it cannot be read).
std::string read_first_line(const char* path);

// "a, b, c" (or with another separator).
std::string joined(const std::vector<std::string>& items, const std::string& separator = ", ");

// Who a published port is of, as the lines name it: "task web-1", "ingress service web", or "an
// element without a warren-nft owner".
std::string owner_of(const nft::PublishedPort& port);
// What to move to another host port to free one of `ports`, as a fix names it: "the task", "the
// ingress service", or "the task or ingress service" when they are of both.
std::string movable_owner(const std::vector<const nft::PublishedPort*>& ports);

}  // namespace warren::cli::doctor
