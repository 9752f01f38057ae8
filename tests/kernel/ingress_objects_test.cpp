// SPDX-License-Identifier: Apache-2.0
// The objects ingress mode is built from (docs/ingress.md), through KernelBackend: a map keyed by
// protocol . port . slot, and a DNAT rule that draws the slot with `numgen random`; read back as
// written. (Not listed with nft here: nft 1.0.6 aborts on a map with an `integer` key field that
// has no typeof user data, which the schema's map will carry; docs/ingress.md.)
#include "support.hpp"

#include "netlink/kernel_backend.hpp"

#include "../unit/policy_objects.hpp"

#include <algorithm>
#include <cstring>

using namespace kt;
using namespace warren::nft::test::policy;
using KernelBackendImpl = warren::nft::netlink::KernelBackend;  // kt::KernelBackend is a backends element

namespace {

constexpr std::uint32_t slot_map_id = 21;
constexpr std::uint32_t slots = 256;
// nft's `integer`, as it types numgen's result: 4 bytes in a register.
constexpr Field slot_field{4, 4};

Set slot_map(Family family)
{
    return Set{"ingress", {inet_proto, inet_service, slot_field}, {address_field(family), inet_service}, false, slot_map_id};
}

// meta l4proto . th dport . numgen random mod 256 -> address . port, DNATed to.
Rule slot_rule(Family family)
{
    auto match = load_service();
    match.push_back(expr::Numgen{slots, Reg::r32_02});
    match.push_back(expr::Lookup{"ingress", slot_map_id, Reg::r1, Reg::r1});
    const auto address_registers = static_cast<std::uint32_t>((family == Family::ip ? 4 : 16) / 4);
    match.push_back(expr::Dnat{family, Reg::r1, reg32(address_registers)});
    return Rule{"prerouting", std::move(match), "slots"};
}

Element slot_element(std::uint32_t slot, const Bytes& address, std::uint16_t port)
{
    auto key = service_key(l4_tcp, 8080);
    key.resize(12);
    std::memcpy(key.data() + 8, &slot, 4);  // numgen writes the register in host byte order
    Bytes value = address;
    value.resize(address.size() + 4, 0);
    value[address.size()] = static_cast<std::uint8_t>(port >> 8);
    value[address.size() + 1] = static_cast<std::uint8_t>(port);
    return Element{"ingress", std::move(key), std::move(value), {}};
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "a slot map and a numgen DNAT rule read back as written", "[ingress]")
{
    KernelBackendImpl backend;
    for (const Family family : {Family::ip, Family::ip6}) {
        INFO((family == Family::ip ? "ip" : "ip6"));
        const Bytes backend_address =
            family == Family::ip ? v4(10, 88, 0, 5) : v6_prefix({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5});
        Transaction tx(table(family));
        tx.add(table(family)).add(slot_map(family)).add(prerouting()).add(slot_rule(family));
        for (std::uint32_t slot = 0; slot < slots; ++slot)
            tx.create(slot_element(slot, backend_address, 80));
        backend.commit(tx, std::nullopt);

        const std::vector<std::string> chains{"prerouting"}, maps{"ingress"};
        const auto snap = backend.snapshot(table(family), chains, maps);
        REQUIRE(snap.exists);
        CHECK(snap.sets.at("ingress") == slot_map(family).shape());
        CHECK(snap.rules.at("prerouting") == std::vector<Rule>{as_reported(slot_rule(family))});
        CHECK(snap.elements.at("ingress").size() == slots);
        CHECK(std::count(snap.elements.at("ingress").begin(), snap.elements.at("ingress").end(),
                         slot_element(255, backend_address, 80)) == 1);
    }
}
