// SPDX-License-Identifier: Apache-2.0
// How the CLI prints the library's warnings on stderr: text lines, or with --json one JSON object
// per line (docs/cli.md). No change here can make the kernel refuse a conntrack cleanup on demand,
// so the loggers the commands hand the publisher are fed a warning directly.
#include "warnings.hpp"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using warren::cli::Warnings;
using warren::nft::LogLevel;

// What `action` writes to std::cerr.
template <typename Action>
std::string captured_stderr(Action action)
{
    std::ostringstream captured;
    auto* const original = std::cerr.rdbuf(captured.rdbuf());
    try {
        action();
    } catch (...) {
        std::cerr.rdbuf(original);
        throw;
    }
    std::cerr.rdbuf(original);
    return captured.str();
}

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// A warning with a byte that is not printable ASCII, which both forms escape.
const std::string stale_flows = "deleting the connection tracking entries failed (\x01)";

}  // namespace

TEST_CASE("with --json a committed change's warnings are JSON objects, one per line on stderr", "[cli][json]")
{
    const Warnings warnings(true);
    const auto logger = warnings.held();
    logger(LogLevel::info, "a repair");  // below warning level: never printed
    logger(LogLevel::warning, stale_flows);
    logger(LogLevel::error, "second");
    const auto err = captured_stderr([&] { warnings.print(); });
    const auto lines = lines_of(err);
    REQUIRE(lines.size() == 2);
    const auto first = nlohmann::json::parse(lines[0]);
    CHECK(first == nlohmann::json{{"warning", {{"message", "deleting the connection tracking entries failed (\\x01)"}}}});
    CHECK(nlohmann::json::parse(lines[1]).at("warning").at("message") == "second");
}

TEST_CASE("without --json a committed change's warnings are text lines", "[cli]")
{
    const Warnings warnings(false);
    warnings.held()(LogLevel::warning, stale_flows);
    CHECK(captured_stderr([&] { warnings.print(); }) == "warren-nft: deleting the connection tracking entries failed (\\x01)\n");
}

TEST_CASE("watch's warnings are written at once, as JSON with --json", "[cli][json]")
{
    const auto json = captured_stderr([] { Warnings::immediate(true)(LogLevel::warning, "lost"); });
    CHECK(json == "{\"warning\":{\"message\":\"lost\"}}\n");
    const auto text = captured_stderr([] { Warnings::immediate(false)(LogLevel::warning, "lost"); });
    CHECK(text == "warren-nft: lost\n");
    CHECK(captured_stderr([] { Warnings::immediate(true)(LogLevel::debug, "quiet"); }).empty());
}
