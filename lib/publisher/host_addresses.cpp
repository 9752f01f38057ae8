// SPDX-License-Identifier: Apache-2.0
#include "publisher/host_addresses.hpp"

#include "printable.hpp"

#include <algorithm>
#include <cerrno>
#include <string>

namespace warren::nft::layout {

bool needs_interface_address(const Address& address) noexcept
{
    if (address.unspecified())
        return false;
    if (address.family == Family::ip)
        return address.bytes[0] != 127;
    return !std::all_of(address.bytes.begin(), address.bytes.begin() + 15, [](std::uint8_t b) { return b == 0; }) ||
           address.bytes[15] != 1;
}

std::vector<Address> absent_addresses(std::span<const Address> wanted, std::span<const Address> present)
{
    std::vector<Address> absent;
    for (const auto& address : wanted)
        if (needs_interface_address(address) && std::find(present.begin(), present.end(), address) == present.end() &&
            std::find(absent.begin(), absent.end(), address) == absent.end())
            absent.push_back(address);
    return absent;
}

Error absent_host_address(std::string_view task_id, const HostPort& port)
{
    const auto address = to_string(port.address);
    return Error(errc::invalid_argument,
                 "host port " + describe(port) + ": " + address +
                     " is not an address of this host (no interface of the publisher's network namespace has it), so "
                     "nothing would arrive there; add the address first, or publish anyway with the check off "
                     "(PublisherOptions::check_host_addresses, warren-nft publish --skip-address-check); nothing was "
                     "changed for task \"" +
                     printable(std::string(task_id)) + "\"",
                 EADDRNOTAVAIL, "publish " + describe(port));
}

}  // namespace warren::nft::layout
