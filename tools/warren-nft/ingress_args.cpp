// SPDX-License-Identifier: Apache-2.0
#include "ingress_args.hpp"

#include "printable.hpp"
#include "spec.hpp"

#include <warren/nft/validation.hpp>

#include <algorithm>

namespace warren::cli {

namespace {

using nft::quote;

constexpr std::string_view backend_form =
    "use ADDRESS[:PORT][,weight=W], e.g. 10.88.0.5, 10.88.0.5:8080,weight=2 or [fd00::5]:8080,weight=3";

constexpr std::uint32_t max_weight = 256;
constexpr std::chrono::hours max_deadline{8760};

bool all_digits(std::string_view text)
{
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Digits only, at most `limit`; nullopt otherwise (too long to be a number of that size too).
std::optional<std::uint64_t> parse_number(std::string_view text, std::uint64_t limit)
{
    if (!all_digits(text))
        return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : text) {
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
        if (value > limit)
            return std::nullopt;
    }
    return value;
}

[[noreturn]] void refuse(std::string_view option, std::string_view text, const std::string& problem)
{
    throw UsageError(std::string(option) + " " + quote(text) + ": " + problem);
}

std::uint16_t parse_backend_port(std::string_view option, std::string_view text, std::string_view port)
{
    const auto value = parse_number(port, 65535);
    if (!value || *value == 0)
        refuse(option, text, "port " + quote(port) + " is no port; use a number from 1 to 65535");
    return static_cast<std::uint16_t>(*value);
}

}  // namespace

BackendAddress parse_backend_address(std::string_view option, std::string_view text)
{
    BackendAddress out;
    std::string_view address = text;
    std::string_view port;
    bool has_port = false;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            refuse(option, text, "the '[' of the address has no ']'; " + std::string(backend_form));
        address = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (!rest.starts_with(':'))
                refuse(option, text, "a bracketed address must be followed by ':PORT' or nothing; " + std::string(backend_form));
            port = rest.substr(1);
            has_port = true;
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        // One ':' is an IPv4 address with a port; more are an IPv6 address, whose port needs brackets.
        const auto colon = text.find(':');
        address = text.substr(0, colon);
        port = text.substr(colon + 1);
        has_port = true;
    }
    check_argument(std::string(option) + " " + quote(text), [&] { nft::validate_container_ip(address); });
    out.address = address;
    if (has_port)
        out.port = parse_backend_port(option, text, port);
    return out;
}

nft::IngressBackend parse_backend(std::string_view text)
{
    constexpr std::string_view option = "--backend";
    const auto comma = text.find(',');
    const auto location = parse_backend_address(option, text.substr(0, comma));
    nft::IngressBackend backend{.address = location.address, .port = location.port};
    if (comma == std::string_view::npos)
        return backend;
    bool weighted = false;
    auto rest = text.substr(comma + 1);
    for (;;) {
        const auto next = rest.find(',');
        const auto item = rest.substr(0, next);
        const auto equals = item.find('=');
        const auto key = item.substr(0, equals);
        if (item.empty())
            refuse(option, text, "an empty option after ','; " + std::string(backend_form));
        if (key != "weight")
            refuse(option, text, "unknown option " + quote(key) + "; a backend takes only weight=W (1 to 256)");
        if (weighted)
            refuse(option, text, "weight is given twice; give it once");
        const auto value = equals == std::string_view::npos ? std::string_view() : item.substr(equals + 1);
        const auto weight = parse_number(value, max_weight);
        if (!weight || *weight == 0)
            refuse(option, text,
                   "weight " + quote(value) + " is no weight; use a number from 1 to 256 (its share of the new connections)");
        backend.weight = static_cast<std::uint32_t>(*weight);
        weighted = true;
        if (next == std::string_view::npos)
            return backend;
        rest = rest.substr(next + 1);
    }
}

std::chrono::seconds parse_duration(std::string_view text)
{
    const auto fail = [&](std::string_view problem) {
        throw UsageError("--deadline: " + quote(text) + " " + std::string(problem) +
                         "; use a number with its unit, s, m or h (30s, 5m, 2h), from 1s to 8760h");
    };
    if (text.empty())
        fail("is empty");
    const char unit = text.back();
    const std::chrono::seconds per_unit = unit == 's'   ? std::chrono::seconds(1)
                                          : unit == 'm' ? std::chrono::minutes(1)
                                          : unit == 'h' ? std::chrono::hours(1)
                                                        : std::chrono::seconds(0);
    if (per_unit.count() == 0)
        fail("has no unit");
    const auto count = text.substr(0, text.size() - 1);
    if (!all_digits(count))
        fail("is not a number of seconds, minutes or hours");
    const auto value = parse_number(count, static_cast<std::uint64_t>(max_deadline / per_unit));
    if (!value)
        fail("is out of range");
    if (*value == 0)
        fail("is no time at all");
    return per_unit * static_cast<std::int64_t>(*value);
}

}  // namespace warren::cli
