// SPDX-License-Identifier: Apache-2.0
#include "failure_messages.hpp"

#include <cerrno>
#include <cstring>

namespace warren::cli {
namespace {

// "the kernel answered Operation not permitted: permission denied": the errno's text and the errc's.
std::string kernel_answer(const nft::Error& error, int fallback_errno)
{
    return "the kernel answered " +
           std::string(std::strerror(error.kernel_errno() != 0 ? error.kernel_errno() : fallback_errno)) + ": " +
           error.code().message();
}

}  // namespace

std::string operator_message(std::string_view command, const nft::Error& error)
{
    if (error.code() == nft::errc::permission_denied)
        return std::string(command) +
               " needs CAP_NET_ADMIN in this network namespace (run it as root, or with ip netns exec or nsenter in "
               "the namespace to change); " +
               kernel_answer(error, EPERM);
    // The kernel answers EPROTONOSUPPORT, EAFNOSUPPORT or EOPNOTSUPP only where nfnetlink or
    // nf_tables (or a part of it) is not there: a module not loaded, or a kernel built without it.
    if (error.code() == nft::errc::kernel_unsupported)
        return std::string(command) +
               " needs nf_tables, which this kernel does not offer (load it with modprobe nf_tables, or use a "
               "kernel built with it; docs/kernels.md lists the parts warren-nft needs); " +
               kernel_answer(error, EOPNOTSUPP);
    return error.what();
}

}  // namespace warren::cli
