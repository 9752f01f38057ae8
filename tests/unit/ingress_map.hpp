// SPDX-License-Identifier: Apache-2.0
// The slot map of ingress mode (docs/ingress.md), for the unit tests of its user data and the kernel
// tests that write it: protocol . port . slot -> address . port, declared with nft's typeof.
#pragma once

#include "policy_objects.hpp"

#include "ruleset/objects.hpp"

#include <linux/netfilter/nf_tables.h>

namespace warren::nft::test::ingress {

using namespace ruleset;

constexpr std::uint32_t slot_map_id = 21;
constexpr std::uint32_t slots = 256;
// nft's `integer`, as it types numgen's result: 4 bytes in a register.
constexpr Field slot_field{4, 4};

// typeof meta l4proto . th dport . numgen random mod 256 : ip[6] daddr . th dport
inline SetTypeof slot_map_typeof(Family family)
{
    return SetTypeof{{typeof_expr::Meta{NFT_META_L4PROTO}, th_dport, typeof_expr::Numgen{slots}},
                     {family == Family::ip ? ip_daddr : ip6_daddr, th_dport}};
}

inline Set slot_map(Family family)
{
    Set map{"ingress",
            {policy::inet_proto, policy::inet_service, slot_field},
            {policy::address_field(family), policy::inet_service},
            false,
            slot_map_id};
    map.nft_typeof = slot_map_typeof(family);
    return map;
}

}  // namespace warren::nft::test::ingress
