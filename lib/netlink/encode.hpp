// SPDX-License-Identifier: Apache-2.0
// Encodes transactions into nf_tables netlink messages with libnftnl: the one place that knows
// which attribute and which expression each typed object becomes.
#pragma once

#include "netlink/batch.hpp"
#include "ruleset/transaction.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>

namespace warren::nft::netlink {

// Appends one message per operation, except that consecutive element operations with the same verb
// on the same set share one NEWSETELEM/DELSETELEM message (up to a size that keeps the kernel's
// 16-bit attribute length safe).
// Messages record the operations they carry as first_index + their index in the transaction.
void encode(Batch& batch, const ruleset::Transaction& transaction, std::size_t first_index = 0);

// The payload of a GETSETELEM request for the elements of `set` with `keys`: the set and table
// named, and each key as an element, as encode() names an element it removes.
void put_element_keys(nlmsghdr* nlh, const ruleset::Table& table, const std::string& set, std::span<const ruleset::Bytes> keys);

// Which element of a multi-element message the kernel's ext-ack offset points into.
std::optional<std::size_t> element_at_offset(const nlmsghdr* message, std::uint32_t offset);

}  // namespace warren::nft::netlink
