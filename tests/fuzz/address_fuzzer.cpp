// SPDX-License-Identifier: Apache-2.0
// Address parsing on any bytes: the layout's parse_address (its text form reads back as the same
// address), the library's checks of container and host addresses, task ids and port names (a typed
// invalid_argument Error of one line, nothing else), and the CLI's --ip values (the input split at
// ','; a UsageError of one line, or addresses of distinct families).
#include "one_line.hpp"
#include "spec.hpp"

#include "publisher/address.hpp"
#include "publisher/validation.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace nft = warren::nft;
using warren::fuzz::check_message;
using warren::fuzz::fail;

namespace {

// Runs a library check: it passes or refuses with errc::invalid_argument and a one-line message.
bool accepted(const std::function<void()>& check)
{
    try {
        check();
        return true;
    } catch (const nft::Error& e) {
        if (e.code() != nft::errc::invalid_argument)
            fail("a check refused with another code than invalid_argument", e.what());
        check_message(e.what());
        return false;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    if (const auto address = nft::layout::parse_address(text)) {
        const auto written = nft::layout::to_string(*address);
        const auto again = nft::layout::parse_address(written);
        if (!again || *again != *address)
            fail("an address does not read back from its text", written);
    }
    accepted([&] { nft::validate_host_ip(text); });
    accepted([&] { nft::validate_task_id(text); });
    accepted([&] { nft::validate_port_name(text); });
    if (accepted([&] { nft::validate_container_ip(text); })) {
        const auto parsed = nft::validation::parse_container_ip(text);
        if (parsed.unspecified())
            fail("the unspecified address was accepted as a container's", text);
    }

    std::vector<std::string> ips;
    std::size_t start = 0;
    for (;;) {
        const auto comma = text.find(',', start);
        ips.emplace_back(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos)
            break;
        start = comma + 1;
    }
    try {
        const auto container = warren::cli::parse_container_addresses(ips);
        if (container.ipv4.empty() && container.ipv6.empty())
            fail("--ip values gave no address", text);
        if (!accepted([&] { nft::validate_container_addresses(container); }))
            fail("the library refuses --ip values the CLI accepted", text);
    } catch (const warren::cli::UsageError& e) {
        check_message(e.what());
    }
    return 0;
}
