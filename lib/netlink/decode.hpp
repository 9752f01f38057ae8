// SPDX-License-Identifier: Apache-2.0
// Decodes what the kernel reports about set elements and comments, for dumps and change
// announcements alike.
#pragma once

#include "ruleset/objects.hpp"

#include <libnftnl/set.h>

#include <cstdint>
#include <string>

namespace warren::nft::netlink {

// The comment in nftables userdata (a rule's or an element's, by `type`); empty if it has none.
std::string comment_of(const void* data, std::uint32_t length, std::uint8_t type);

// An element of set `set` as libnftnl parsed it: key, value, comment and counters.
ruleset::Element decode_element(nftnl_set_elem* element, const std::string& set);

}  // namespace warren::nft::netlink
