// SPDX-License-Identifier: Apache-2.0
// A set's user data (NFTA_SET_USERDATA) in nft's form: the byte orders of its key and value and the
// typeof description of its expressions, which nft reads to print and parse the set.
#pragma once

#include "ruleset/objects.hpp"

#include <cstdint>
#include <optional>

namespace warren::nft::netlink {

// The user data nft 1.0.6 writes for `set` declared with its typeof, byte for byte; empty for a set
// without one. Throws Error(invalid_argument) when the typeof does not have one expression for each
// field of the key (and value), or names an expression whose byte order the model does not know.
ruleset::Bytes set_userdata(const ruleset::Set& set);

// The typeof description in a set's user data, read as untrusted bytes: none when there is none
// (nft's user data of a set declared with `type` has an empty one), and none when any part of it
// is cut short, malformed or an expression this model does not describe.
std::optional<ruleset::SetTypeof> typeof_of(const void* data, std::uint32_t length);

}  // namespace warren::nft::netlink
