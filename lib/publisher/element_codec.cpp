// SPDX-License-Identifier: Apache-2.0
#include "publisher/element_codec.hpp"

#include "publisher/validation.hpp"

#include <netinet/in.h>

#include <algorithm>

namespace warren::nft::layout {

using namespace ruleset;

namespace {

void put_u16(Bytes& bytes, std::size_t at, std::uint16_t value)
{
    bytes[at] = static_cast<std::uint8_t>(value >> 8);
    bytes[at + 1] = static_cast<std::uint8_t>(value & 0xff);
}

std::uint16_t get_u16(const Bytes& bytes, std::size_t at) { return static_cast<std::uint16_t>(bytes[at] << 8 | bytes[at + 1]); }

// Whether the padding of a field is zero, as we write it: a key with other padding is another key
// to the kernel, and no packet's lookup ever builds it.
bool zero_padding(const Bytes& bytes, std::size_t at, std::size_t count)
{
    return std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(at), bytes.begin() + static_cast<std::ptrdiff_t>(at + count),
                       [](std::uint8_t b) { return b == 0; });
}

// [proto 0 0 0][port_hi port_lo 0 0] at `at`, with zero padding.
bool protocol_port_padded(std::span<const std::uint8_t> key, std::size_t at)
{
    const auto zero = [](std::span<const std::uint8_t> bytes) {
        return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
    };
    return zero(key.subspan(at + 1, 3)) && zero(key.subspan(at + 6, 2));
}

// [address][proto 0 0 0][port_hi port_lo 0 0]: a bound_ports or backends key.
Bytes address_protocol_port(const Address& address, Protocol protocol, std::uint16_t port)
{
    const std::size_t at = address.size();
    Bytes key(at + 8, 0);
    std::copy_n(address.bytes.begin(), at, key.begin());
    key[at] = ip_protocol(protocol);
    put_u16(key, at + 4, port);
    return key;
}

}  // namespace

std::optional<Protocol> protocol_of(std::uint8_t number)
{
    switch (number) {
        case IPPROTO_TCP: return Protocol::tcp;
        case IPPROTO_UDP: return Protocol::udp;
        case IPPROTO_SCTP: return Protocol::sctp;
        default: return std::nullopt;
    }
}

std::string describe(const HostPort& host_port)
{
    std::string text = std::to_string(host_port.port) + "/" + std::string(nft::to_string(host_port.protocol));
    if (host_port.bound() || host_port.family() == Family::ip6)
        text += " on " + display(host_port.address);
    return text;
}

bool overlap(const HostPort& a, const HostPort& b) noexcept
{
    return a.protocol == b.protocol && a.port == b.port && a.family() == b.family() &&
           (a.address == b.address || !a.bound() || !b.bound());
}

std::string owner_comment(std::string_view task_id, std::string_view name)
{
    std::string comment = "task=";
    comment += task_id;
    if (!name.empty()) {
        comment += " name=";
        comment += name;
    }
    return comment;
}

std::optional<Owner> parse_owner_comment(std::string_view comment)
{
    // Only what owner_comment() writes, with a task id and a name that validation accepts: a task
    // adopted under any other id could be listed but never unpublished or published again.
    constexpr std::string_view task_prefix = "task=", name_prefix = " name=";
    if (!comment.starts_with(task_prefix))
        return std::nullopt;
    comment.remove_prefix(task_prefix.size());
    const auto name_at = comment.find(name_prefix);
    const auto task_id = comment.substr(0, name_at);
    const auto name = name_at == std::string_view::npos ? std::string_view() : comment.substr(name_at + name_prefix.size());
    if (!validation::valid_task_id(task_id) || !validation::valid_port_name(name) ||
        (name_at != std::string_view::npos && name.empty()))
        return std::nullopt;
    return Owner{std::string(task_id), std::string(name)};
}

// Keys and values are laid out field by field, each padded to 4 bytes (an address is 4 or 16):
//   ports key        [proto 0 0 0][port_hi port_lo 0 0]
//   bound_ports key  [host address][proto 0 0 0][port_hi port_lo 0 0]
//   ports value      [container address][port_hi port_lo 0 0]   (both maps)
//   backends         [container address][proto 0 0 0][port_hi port_lo 0 0]
Bytes host_port_key(const HostPort& key)
{
    if (key.bound())
        return address_protocol_port(key.address, key.protocol, key.port);
    Bytes bytes(8, 0);
    bytes[0] = ip_protocol(key.protocol);
    put_u16(bytes, 4, key.port);
    return bytes;
}

std::size_t host_port_key_length(Family family, bool bound) { return (bound ? any_address(family).size() : 0) + 8; }

std::optional<HostPort> decode_host_port_key(Family family, std::span<const std::uint8_t> bytes, bool bound)
{
    const std::size_t at = bound ? any_address(family).size() : 0;
    if (bytes.size() < at + 8 || !protocol_port_padded(bytes, at))
        return std::nullopt;
    const auto protocol = protocol_of(bytes[at]);
    if (!protocol)
        return std::nullopt;
    HostPort key{*protocol, static_cast<std::uint16_t>(bytes[at + 4] << 8 | bytes[at + 5]),
                 address_from(family, bytes.first(at))};
    // The unspecified address would read back as a port on every address; we never write it, so
    // it is not ours.
    if (bound && !key.bound())
        return std::nullopt;
    return key;
}

Element port_element(const HostPort& key, const Destination& destination, std::string comment)
{
    Element element;
    element.set = key.bound() ? bound_ports_map : ports_map;
    element.key = host_port_key(key);
    const std::size_t at = destination.address.size();
    element.data.assign(at + 4, 0);
    std::copy_n(destination.address.bytes.begin(), at, element.data.begin());
    put_u16(element.data, at, destination.port);
    element.comment = std::move(comment);
    return element;
}

Element destination_element(const Destination& destination)
{
    Element element;
    element.set = backends_set;
    element.key = address_protocol_port(destination.address, destination.protocol, destination.port);
    return element;
}

std::optional<DecodedPort> decode_port_element(Family family, const Element& element)
{
    const std::size_t length = any_address(family).size();
    const bool bound = element.set == bound_ports_map;
    if (element.key.size() != host_port_key_length(family, bound) || element.data.size() != length + 4 ||
        !zero_padding(element.data, length + 2, 2))
        return std::nullopt;
    const auto key = decode_host_port_key(family, element.key, bound);
    if (!key)
        return std::nullopt;
    return DecodedPort{*key, {address_from(family, {element.data.data(), length}), key->protocol, get_u16(element.data, length)}};
}

std::optional<Destination> decode_destination_element(Family family, const Element& element)
{
    const std::size_t length = any_address(family).size();
    if (element.key.size() != length + 8 || !protocol_port_padded(element.key, length))
        return std::nullopt;
    const auto protocol = protocol_of(element.key[length]);
    if (!protocol)
        return std::nullopt;
    return Destination{address_from(family, {element.key.data(), length}), *protocol, get_u16(element.key, length + 4)};
}

}  // namespace warren::nft::layout
