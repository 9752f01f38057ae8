// SPDX-License-Identifier: Apache-2.0
// The CLI's -p parsing (tools/warren-nft/spec.cpp) on any bytes: either a UsageError of one line, or
// mappings that the library accepts and that read back the same from their own spec.
#include "one_line.hpp"
#include "spec.hpp"

#include <warren/nft/error.hpp>
#include <warren/nft/validation.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using warren::fuzz::check_message;
using warren::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view spec(reinterpret_cast<const char*>(data), size);
    std::vector<warren::nft::PortMapping> mappings;
    try {
        mappings = warren::cli::parse_port_spec(spec);
    } catch (const warren::cli::UsageError& e) {
        check_message(e.what());
        return 0;
    }
    if (mappings.empty())
        fail("a spec parsed into no mapping", spec);
    try {
        warren::nft::validate_ports(mappings);
    } catch (const warren::nft::Error& e) {
        fail("a parsed spec is refused by the library", e.what());
    }
    for (const auto& mapping : mappings) {
        const auto again = warren::cli::parse_port_spec(warren::cli::format_port_spec(mapping));
        if (again.size() != 1 || again.front() != mapping)
            fail("a mapping does not read back from its own spec", warren::cli::format_port_spec(mapping));
    }
    return 0;
}
