// SPDX-License-Identifier: Apache-2.0
#include "cli_support.hpp"

#include "netns.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

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

std::string answer(const sandbox::Topology& net, std::uint16_t port, const std::string& payload)
{
    const auto reply =
        sandbox::exchange(net.client, sandbox::Transport::tcp, sandbox::Topology::host_client_side_ip, port, payload);
    return reply.replied ? reply.reply : "no reply: " + reply.error;
}

}  // namespace kt
