// SPDX-License-Identifier: Apache-2.0
#include "kernel_error.hpp"

#include <warren/nft/ingress.hpp>
#include <warren/nft/port_mapping.hpp>

#include <warren/nft/error.hpp>

#include <cerrno>
#include <cstring>

namespace warren::nft {
namespace {

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "warren-nft"; }

    std::string message(int value) const override
    {
        switch (static_cast<errc>(value)) {
            case errc::invalid_argument: return "invalid argument";
            // what() ends with this label after the specific message, so keep it short.
            case errc::port_conflict: return "port conflict";
            case errc::permission_denied: return "permission denied";
            case errc::kernel_unsupported: return "not supported by this kernel";
            case errc::ruleset_changed: return "ruleset changed concurrently";
            case errc::kernel_error: return "kernel error";
        }
        return "unknown warren-nft error";
    }
};

}  // namespace

const std::error_category& error_category() noexcept
{
    static const Category category;
    return category;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

std::error_condition make_error_condition(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

Error::Error(errc condition, std::string message, int kernel_errno, std::string operation)
    : std::system_error(make_error_code(condition), message), kernel_errno_(kernel_errno), operation_(std::move(operation))
{
}

errc errc_from_kernel(int err) noexcept
{
    switch (err) {
        case EPERM:
        case EACCES: return errc::permission_denied;
        case EOPNOTSUPP:
        case EAFNOSUPPORT:
        case EPROTONOSUPPORT: return errc::kernel_unsupported;
        case ERESTART: return errc::ruleset_changed;
        default: return errc::kernel_error;
    }
}

Error kernel_error(int err, std::string_view operation, std::string_view detail)
{
    std::string message(operation);
    message += ": ";
    message += std::strerror(err);
    message += " (errno ";
    message += std::to_string(err);
    message += ')';
    if (!detail.empty()) {
        message += ", ";
        message += detail;
    }
    return Error(errc_from_kernel(err), std::move(message), err, std::string(operation));
}

std::string_view to_string(Protocol protocol) noexcept
{
    switch (protocol) {
        case Protocol::tcp: return "tcp";
        case Protocol::udp: return "udp";
        case Protocol::sctp: return "sctp";
    }
    return "unknown";
}

std::string_view to_string(PublishMode mode) noexcept
{
    switch (mode) {
        case PublishMode::host: return "host";
        case PublishMode::ingress: return "ingress";
    }
    return "unknown";
}

std::string_view to_string(AddressFamily family) noexcept
{
    switch (family) {
        case AddressFamily::ipv4: return "ipv4";
        case AddressFamily::ipv6: return "ipv6";
    }
    return "unknown";
}

std::string_view to_string(BackendState state) noexcept
{
    switch (state) {
        case BackendState::active: return "active";
        case BackendState::draining: return "draining";
    }
    return "unknown";
}

std::string_view to_string(RateUnit unit) noexcept
{
    switch (unit) {
        case RateUnit::second: return "second";
        case RateUnit::minute: return "minute";
        case RateUnit::hour: return "hour";
    }
    return "unknown";
}

}  // namespace warren::nft
