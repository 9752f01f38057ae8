// SPDX-License-Identifier: Apache-2.0
#include "metrics/errc_name.hpp"

namespace warren::nft {

std::string_view errc_name(errc condition) noexcept
{
    switch (condition) {
        case errc::invalid_argument: return "invalid_argument";
        case errc::port_conflict: return "port_conflict";
        case errc::permission_denied: return "permission_denied";
        case errc::kernel_unsupported: return "kernel_unsupported";
        case errc::ruleset_changed: return "ruleset_changed";
        case errc::kernel_error: return "kernel_error";
    }
    return "unknown";
}

std::string_view error_label(const std::error_code& code) noexcept
{
    if (code.category() != error_category())
        return "other";
    return errc_name(static_cast<errc>(code.value()));
}

}  // namespace warren::nft
