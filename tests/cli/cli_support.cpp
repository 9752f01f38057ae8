// SPDX-License-Identifier: Apache-2.0
#include "cli_support.hpp"

#include "netns.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <sstream>

namespace kt {

std::string warren_nft_path()
{
    const char* exe = std::getenv("WARREN_NFT");
    if (exe == nullptr || *exe == '\0')
        FAIL("WARREN_NFT is not set to the path of the warren-nft binary (meson test sets it)");
    return exe;
}

sandbox::CommandResult cli(std::vector<std::string> args)
{
    sandbox::ensure_not_in_original_netns();
    args.insert(args.begin(), warren_nft_path());
    sandbox::Command cmd;
    cmd.argv = std::move(args);
    return sandbox::run(cmd);
}

std::string cli_ok(std::vector<std::string> args)
{
    const auto result = cli(args);
    INFO(result.describe(args));
    REQUIRE(result.exit_code == 0);
    CHECK(result.err.empty());
    return result.out;
}

nlohmann::json list_json(std::vector<std::string> extra)
{
    std::vector<std::string> args{"list", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto out = cli_ok(args);
    INFO(out);
    auto parsed = nlohmann::json::parse(out);
    REQUIRE(parsed.is_array());
    return parsed;
}

void require_refused(const std::vector<std::string>& args, int status, const std::vector<std::string>& words)
{
    const auto result = cli(args);
    INFO(result.describe(args));
    CHECK(result.exit_code == status);
    CHECK(result.out.empty());
    REQUIRE(!result.err.empty());
    CHECK(result.err.starts_with("warren-nft: "));
    CHECK(result.err.back() == '\n');
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    for (const auto& word : words)
        CHECK(result.err.find(word) != std::string::npos);
}

std::vector<std::string> line_words(const std::string& text, const std::string& needle)
{
    const auto at = text.find(needle);
    if (at == std::string::npos)
        return {};
    const auto start = text.rfind('\n', at);
    const auto from = start == std::string::npos ? 0 : start + 1;
    std::istringstream line(text.substr(from, text.find('\n', at) - from));
    return {std::istream_iterator<std::string>(line), {}};
}

std::string answer(const sandbox::Topology& net, std::uint16_t port, const std::string& payload)
{
    const auto reply =
        sandbox::exchange(net.client, sandbox::Transport::tcp, sandbox::Topology::host_client_side_ip, port, payload);
    return reply.replied ? reply.reply : "no reply: " + reply.error;
}

}  // namespace kt
