// SPDX-License-Identifier: Apache-2.0
// The one exception type of warren-nft and the error conditions it reports.
#pragma once

#include <warren/nft/export.hpp>

#include <string>
#include <system_error>

namespace warren::nft {

// What went wrong, from the caller's point of view. Error::code() compares equal to one of these.
enum class errc {
    invalid_argument = 1,  // bad task id, IP, port, protocol, or an unsupported request; nothing was sent
    port_conflict,         // another task already publishes this protocol and host port
    permission_denied,     // no CAP_NET_ADMIN in this network namespace
    kernel_unsupported,    // the kernel lacks nf_tables or a feature we need
    ruleset_changed,       // concurrent writers kept changing the ruleset; retry later
    kernel_error,          // anything else the kernel refused; what() names the operation and errno
};

WARREN_NFT_EXPORT const std::error_category& error_category() noexcept;
WARREN_NFT_EXPORT std::error_code make_error_code(errc e) noexcept;
WARREN_NFT_EXPORT std::error_condition make_error_condition(errc e) noexcept;

class WARREN_NFT_EXPORT Error : public std::system_error {
public:
    // kernel_errno is the errno the kernel answered with (0 when the error was found before sending);
    // operation names what was being done ("add element tcp 8080 to map ip warren ports").
    Error(errc condition, std::string message, int kernel_errno = 0, std::string operation = {});

    int kernel_errno() const noexcept { return kernel_errno_; }
    const std::string& operation() const noexcept { return operation_; }

private:
    int kernel_errno_;
    std::string operation_;
};

}  // namespace warren::nft

template <>
struct std::is_error_code_enum<warren::nft::errc> : std::true_type {
};
