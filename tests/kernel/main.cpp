// SPDX-License-Identifier: Apache-2.0
// The runner of the kernel and CLI test binaries: leaves the network namespace it was started in
// (with a user namespace when not root) before Catch starts any test, and skips (exit 77) when no
// namespace can be created.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "netns.hpp"

#include <csignal>
#include <cstdio>
#include <string_view>

int main(int argc, char* argv[])
{
    // Listing tests (--list-tests, --list-test-names-only, ...) needs no namespace.
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]).starts_with("--list"))
            return Catch::Session().run(argc, argv);
    // Still single-threaded here, as unshare(CLONE_NEWUSER) requires.
    if (const auto failure = sandbox::enter_sandbox()) {
        std::printf("SKIP: %s\n", failure->c_str());
        return 77;
    }
    // Writes to pipes of commands or sockets that went away must fail, not kill the run.
    std::signal(SIGPIPE, SIG_IGN);
    const std::string_view program = argv[0];
    std::fprintf(stderr, "%s: %s\n", program.substr(program.rfind('/') + 1).data(), sandbox::sandbox_description().c_str());
    return Catch::Session().run(argc, argv);
}
