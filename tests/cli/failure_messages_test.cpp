// SPDX-License-Identifier: Apache-2.0
// The messages of a command that cannot reach nf_tables, on their own. The one without CAP_NET_ADMIN
// is also run for real (options_test.cpp); a kernel without nf_tables cannot be made here without
// unloading the host's modules, so that message is checked from the error the library throws for it.
#include "failure_messages.hpp"

#include <warren/nft/error.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <string>

namespace {

using warren::cli::operator_message;
using warren::nft::errc;
using warren::nft::Error;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a kernel without nf_tables is named as such, with its fix, not as the failed step", "[cli][usage]")
{
    // What the library throws when nfnetlink is missing (the socket) or nf_tables is (the first batch).
    for (const auto& error :
         {Error(errc::kernel_unsupported, "open netlink socket (netfilter): Protocol not supported (errno 93)", EPROTONOSUPPORT,
                "open netlink socket (netfilter)"),
          Error(errc::kernel_unsupported, "probe nf_tables support: Operation not supported (errno 95)", EOPNOTSUPP,
                "probe nf_tables support")}) {
        const auto message = operator_message("list", error);
        INFO(message);
        CHECK(message.starts_with("list needs nf_tables, which this kernel does not offer"));
        CHECK(contains(message, "modprobe nf_tables"));
        CHECK(contains(message, "docs/kernels.md"));
        CHECK(contains(message, std::strerror(error.kernel_errno())));
        CHECK(!contains(message, "probe nf_tables support"));
        CHECK(!contains(message, "netlink socket"));
    }
}

TEST_CASE("without CAP_NET_ADMIN the capability and the ways to get it are named", "[cli][usage]")
{
    const Error error(errc::permission_denied, "probe nf_tables support: Operation not permitted (errno 1)", EPERM,
                      "probe nf_tables support");
    const auto message = operator_message("publish", error);
    CHECK(message ==
          "publish needs CAP_NET_ADMIN in this network namespace (run it as root, or with ip netns exec or nsenter in "
          "the namespace to change); the kernel answered Operation not permitted: permission denied");
}

TEST_CASE("other errors keep their own message", "[cli][usage]")
{
    const Error error(errc::port_conflict, "tcp port 8080 is published by task a", 0);
    CHECK(operator_message("publish", error) == error.what());
}
