// SPDX-License-Identifier: Apache-2.0
// How an ingress port (docs/ingress.md) becomes elements of its family's table, and back: its
// claim in the ports map, one record per backend in ingress_backends, its slots in the ingress map.
// Everything read back is untrusted: a decoder returns nullopt for anything it would not write.
#pragma once

#include "publisher/element_codec.hpp"
#include "publisher/ingress_slots.hpp"
#include "ruleset/objects.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace warren::nft::ingress {

// One backend of a port as its record holds it.
struct Record {
    BackendKey key;
    std::uint32_t weight = 1;
    bool draining = false;
    std::optional<std::int64_t> until;  // Unix seconds; only while draining
    friend bool operator==(const Record&, const Record&) = default;
};

// "task=SVC ingress", and back (nullopt unless exactly that, with an id validate_task_id() accepts).
std::string claim_comment(std::string_view service);
std::optional<std::string> parse_claim_comment(std::string_view comment);

// "task=SVC weight=W", "task=SVC weight=W draining", "task=SVC weight=W draining until=T", and back:
// the weight a decimal 1..max_weight without leading zeros, T decimal Unix seconds, nothing else.
std::string record_comment(std::string_view service, const Record& record);
struct RecordComment {
    std::string service;
    std::uint32_t weight = 1;
    bool draining = false;
    std::optional<std::int64_t> until;
};
std::optional<RecordComment> parse_record_comment(std::string_view comment);

// `port` is a port on every address of its family (its address the unspecified one).
ruleset::Element claim_element(const layout::HostPort& port, std::string_view service);
// Whether a ports map element decoded as `decoded` holds a claim's value: the unspecified address, port 0.
bool claim_value(const layout::DecodedPort& decoded) noexcept;
bool claim_value(const layout::Destination& destination) noexcept;

ruleset::Element record_element(const layout::HostPort& port, std::string_view service, const Record& record);
struct DecodedRecordKey {
    layout::HostPort port;
    BackendKey backend;
    // Where the record's backend is: the destination its connections are DNATed to.
    layout::Destination destination() const { return {backend.address, port.protocol, backend.port}; }
};
std::optional<DecodedRecordKey> decode_record_key(layout::Family family, const ruleset::Element& element);

ruleset::Element slot_element(const layout::HostPort& port, std::uint32_t slot, const BackendKey& backend);
struct DecodedSlot {
    layout::HostPort port;
    std::uint32_t slot = 0;             // as read: may be wide_slot_count or more
    std::optional<BackendKey> backend;  // nullopt: a value we never write
};
std::optional<DecodedSlot> decode_slot(layout::Family family, const ruleset::Element& element);

}  // namespace warren::nft::ingress
