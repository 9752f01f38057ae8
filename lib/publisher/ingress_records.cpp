// SPDX-License-Identifier: Apache-2.0
#include "publisher/ingress_records.hpp"

#include "publisher/schema.hpp"
#include "publisher/validation.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace warren::nft::ingress {

using layout::Address;
using layout::Family;
using layout::HostPort;
using ruleset::Bytes;
using ruleset::Element;

namespace {

constexpr std::string_view task_prefix = "task=";
constexpr std::string_view claim_suffix = " ingress";

// [address][port_hi port_lo 0 0]: a backend as a slot's value and a record key's tail hold it.
void append_backend(Bytes& bytes, const BackendKey& backend)
{
    const auto address = backend.address.view();
    bytes.insert(bytes.end(), address.begin(), address.end());
    bytes.push_back(static_cast<std::uint8_t>(backend.port >> 8));
    bytes.push_back(static_cast<std::uint8_t>(backend.port & 0xff));
    bytes.push_back(0);
    bytes.push_back(0);
}

std::optional<BackendKey> decode_backend(Family family, std::span<const std::uint8_t> bytes)
{
    const std::size_t length = layout::any_address(family).size();
    if (bytes.size() != length + 4 || bytes[length + 2] != 0 || bytes[length + 3] != 0)
        return std::nullopt;
    BackendKey backend{layout::address_from(family, bytes.first(length)),
                       static_cast<std::uint16_t>(bytes[length] << 8 | bytes[length + 1])};
    // Never a backend we write: validation refuses both.
    if (backend.address.unspecified() || backend.port == 0)
        return std::nullopt;
    return backend;
}

// A decimal number without sign or leading zeros, as we write it.
template <typename T>
std::optional<T> decimal(std::string_view text)
{
    T value{};
    if (text.empty() || (text.size() > 1 && text[0] == '0') || text[0] == '-' || text[0] == '+')
        return std::nullopt;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

// The port on every address of `family` whose ports key `bytes` starts with.
std::optional<HostPort> decode_port(Family family, std::span<const std::uint8_t> bytes)
{
    auto port = layout::decode_host_port_key(family, bytes, false);
    if (port)
        port->address = layout::any_address(family);
    return port;
}

}  // namespace

std::string claim_comment(std::string_view service)
{
    std::string comment(task_prefix);
    comment += service;
    comment += claim_suffix;
    return comment;
}

std::optional<std::string> parse_claim_comment(std::string_view comment)
{
    if (!comment.starts_with(task_prefix) || !comment.ends_with(claim_suffix) ||
        comment.size() < task_prefix.size() + claim_suffix.size())
        return std::nullopt;
    const auto service = comment.substr(task_prefix.size(), comment.size() - task_prefix.size() - claim_suffix.size());
    if (!validation::valid_task_id(service))
        return std::nullopt;
    return std::string(service);
}

std::string record_comment(std::string_view service, const Record& record)
{
    std::string comment(task_prefix);
    comment += service;
    comment += " weight=" + std::to_string(record.weight);
    if (record.draining) {
        comment += " draining";
        if (record.until)
            comment += " until=" + std::to_string(*record.until);
    }
    return comment;
}

std::optional<RecordComment> parse_record_comment(std::string_view comment)
{
    // Words separated by single spaces: task=SVC weight=W [draining [until=T]].
    std::vector<std::string_view> words;
    for (std::size_t at = 0; at <= comment.size();) {
        const auto end = std::min(comment.find(' ', at), comment.size());
        words.push_back(comment.substr(at, end - at));
        at = end + 1;
    }
    if (words.size() < 2 || words.size() > 4 || !words[0].starts_with(task_prefix) || !words[1].starts_with("weight="))
        return std::nullopt;
    RecordComment out;
    out.service = std::string(words[0].substr(task_prefix.size()));
    if (!validation::valid_task_id(out.service))
        return std::nullopt;
    const auto weight = decimal<std::uint32_t>(words[1].substr(7));
    if (!weight || *weight < 1 || *weight > max_weight)
        return std::nullopt;
    out.weight = *weight;
    if (words.size() >= 3) {
        if (words[2] != "draining")
            return std::nullopt;
        out.draining = true;
    }
    if (words.size() == 4) {
        if (!words[3].starts_with("until="))
            return std::nullopt;
        out.until = decimal<std::int64_t>(words[3].substr(6));
        if (!out.until)
            return std::nullopt;
    }
    return out;
}

Element claim_element(const HostPort& port, std::string_view service)
{
    return layout::port_element(port, layout::Destination{layout::any_address(port.family()), port.protocol, 0},
                                claim_comment(service));
}

bool claim_value(const layout::DecodedPort& decoded) noexcept { return claim_value(decoded.destination); }

bool claim_value(const layout::Destination& destination) noexcept
{
    return destination.address.unspecified() && destination.port == 0;
}

Element record_element(const HostPort& port, std::string_view service, const Record& record)
{
    Element element;
    element.set = layout::ingress_backends_set;
    element.key = layout::host_port_key(HostPort{port.protocol, port.port, layout::any_address(port.family())});
    append_backend(element.key, record.key);
    element.comment = record_comment(service, record);
    return element;
}

std::optional<DecodedRecordKey> decode_record_key(Family family, const Element& element)
{
    const std::span<const std::uint8_t> key(element.key);
    if (key.size() != 8 + layout::any_address(family).size() + 4 || !element.data.empty())
        return std::nullopt;
    const auto port = decode_port(family, key.first(8));
    const auto backend = decode_backend(family, key.subspan(8));
    if (!port || !backend)
        return std::nullopt;
    return DecodedRecordKey{*port, *backend};
}

Element slot_element(const HostPort& port, std::uint32_t slot, const BackendKey& backend)
{
    Element element;
    element.set = layout::ingress_map;
    element.key = layout::host_port_key(HostPort{port.protocol, port.port, layout::any_address(port.family())});
    // numgen writes the slot to its register in host byte order, and the lookup compares those bytes.
    element.key.resize(12);
    std::memcpy(element.key.data() + 8, &slot, sizeof slot);
    append_backend(element.data, backend);
    return element;
}

std::optional<DecodedSlot> decode_slot(Family family, const Element& element)
{
    const std::span<const std::uint8_t> key(element.key);
    if (key.size() != 12)
        return std::nullopt;
    const auto port = decode_port(family, key.first(8));
    if (!port)
        return std::nullopt;
    DecodedSlot out{*port, 0, decode_backend(family, element.data)};
    std::memcpy(&out.slot, key.data() + 8, sizeof out.slot);
    return out;
}

}  // namespace warren::nft::ingress
