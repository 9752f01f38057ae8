// SPDX-License-Identifier: Apache-2.0
// KernelBackend::elements_of against the kernel: the slot elements of some ports of an ingress map
// (docs/ingress.md), read by key with GETSETELEM requests, are those a dump of the map holds, with
// the keys the map does not hold left out, over more keys than one request carries.
#include "support.hpp"

#include "netlink/encode.hpp"
#include "netlink/kernel_backend.hpp"
#include "netlink/socket.hpp"

#include <libnftnl/common.h>

#include <linux/netfilter/nfnetlink.h>

#include "../unit/ingress_map.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <tuple>

using namespace kt;
using namespace warren::nft::test::policy;
using namespace warren::nft::test::ingress;
using KernelBackendImpl = warren::nft::netlink::KernelBackend;  // kt::KernelBackend is a backends element

namespace {

Table warren(Family family) { return Table{family, "warren"}; }

// tcp . port . slot, as the slot rule looks it up (numgen writes the slot in host byte order).
Bytes slot_key(std::uint16_t port, std::uint32_t slot)
{
    auto key = service_key(l4_tcp, port);
    key.resize(12);
    std::memcpy(key.data() + 8, &slot, 4);
    return key;
}

// Each slot of a port to its own container address, so that a wrong element's value shows.
Element slot_element(Family family, std::uint16_t port, std::uint32_t slot)
{
    const auto low = static_cast<std::uint8_t>(slot);
    Bytes value = family == Family::ip
                      ? v4(10, 88, static_cast<std::uint8_t>(port & 0xff), low)
                      : v6_prefix({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(port & 0xff), low});
    value.push_back(0x1f);
    value.push_back(0x90);  // container port 8080
    value.push_back(0);
    value.push_back(0);
    return Element{"ingress", slot_key(port, slot), std::move(value), {}};
}

constexpr std::uint16_t first_port = 8080, second_port = 8081, unpublished_port = 9999;

// The table with the ingress map, all slots of two ports filled.
void create_map(KernelBackendImpl& backend, Family family)
{
    Transaction tx(warren(family));
    tx.add(warren(family)).add(slot_map(family));
    for (const auto port : {first_port, second_port})
        for (std::uint32_t slot = 0; slot < slots; ++slot)
            tx.create(slot_element(family, port, slot));
    backend.commit(tx, std::nullopt);
}

// What a dump of the map holds for `keys`.
std::vector<Element> dumped(KernelBackendImpl& backend, Family family, const std::vector<Bytes>& keys)
{
    const std::vector<std::string> maps{"ingress"};
    const auto snap = backend.snapshot(warren(family), {}, maps);
    std::vector<Element> found;
    for (const auto& element : snap.elements.at("ingress"))
        if (std::find(keys.begin(), keys.end(), element.key) != keys.end())
            found.push_back(element);
    return found;
}

bool same_elements(const std::vector<Element>& a, const std::vector<Element>& b)
{
    return a.size() == b.size() && std::is_permutation(a.begin(), a.end(), b.begin());
}

std::vector<Element> expected(Family family, std::uint16_t port, std::uint32_t first, std::uint32_t count)
{
    std::vector<Element> elements;
    for (std::uint32_t slot = first; slot < first + count; ++slot)
        elements.push_back(slot_element(family, port, slot));
    return elements;
}

std::vector<Bytes> keys_of(const std::vector<Element>& elements)
{
    std::vector<Bytes> keys;
    for (const auto& element : elements)
        keys.push_back(element.key);
    return keys;
}

const char* family_name(Family family) { return family == Family::ip ? "ip" : "ip6"; }

}  // namespace

TEST_CASE_METHOD(FreshNetns, "elements_of reads the slot elements of the keys asked for, as a dump holds them",
                 "[elements_of][ingress]")
{
    // Each family and section runs in a namespace of its own.
    const Family family = GENERATE(Family::ip, Family::ip6);
    INFO(family_name(family));
    KernelBackendImpl backend;
    create_map(backend, family);
    SECTION("all keys present")
    {
        const auto want = expected(family, first_port, 10, 20);
        const auto keys = keys_of(want);
        const auto got = backend.elements_of(warren(family), "ingress", keys);
        CHECK(same_elements(got, want));
        CHECK(same_elements(got, dumped(backend, family, keys)));
    }

    SECTION("missing keys are left out, wherever they are")
    {
        const auto present = expected(family, second_port, 0, 4);
        const Bytes missing = slot_key(unpublished_port, 0);
        const Bytes other_missing = slot_key(first_port, slots);  // a slot beyond the map's
        const std::vector<std::vector<Bytes>> asked{
            {missing, present[0].key, present[1].key},                                            // first
            {present[0].key, missing, present[1].key, other_missing, present[2].key},             // middle
            {present[0].key, present[1].key, missing},                                            // last
            {missing, other_missing, slot_key(unpublished_port, 7)},                              // all
            {missing, missing, present[3].key, other_missing, present[0].key, missing, missing},  // in runs
        };
        for (const auto& keys : asked) {
            const auto got = backend.elements_of(warren(family), "ingress", keys);
            CHECK(same_elements(got, dumped(backend, family, keys)));
            for (const auto& element : got)
                CHECK(std::count(keys.begin(), keys.end(), element.key) > 0);
        }
        CHECK(backend.elements_of(warren(family), "ingress", std::vector<Bytes>{missing}).empty());
        CHECK(backend.elements_of(warren(family), "ingress", std::vector<Bytes>{}).empty());
    }

    SECTION("more keys than one request carries, across two ports, some missing at request boundaries")
    {
        auto want = expected(family, first_port, 0, slots);
        const auto more = expected(family, second_port, 0, 44);
        want.insert(want.end(), more.begin(), more.end());
        auto keys = keys_of(want);
        REQUIRE(keys.size() == 300);
        const auto all = backend.elements_of(warren(family), "ingress", keys);
        CHECK(same_elements(all, want));
        CHECK(same_elements(all, dumped(backend, family, keys)));

        // Missing keys where one request ends and the next starts, and at the very end.
        for (const std::size_t at : {300u, 128u, 64u, 63u, 0u})
            keys.insert(keys.begin() + static_cast<std::ptrdiff_t>(at),
                        slot_key(unpublished_port, static_cast<std::uint32_t>(at)));
        CHECK(same_elements(backend.elements_of(warren(family), "ingress", keys), want));
    }

    SECTION("a missing set or table reads as no elements")
    {
        const auto keys = keys_of(expected(family, first_port, 0, 200));
        CHECK(backend.elements_of(warren(family), "no-such-map", keys).empty());
        CHECK(backend.elements_of(Table{family, "no-such-table"}, "ingress", keys).empty());
    }

    SECTION("a key of another length is refused with a typed error, and nothing changes")
    {
        const std::vector<std::string> maps{"ingress"};
        const auto before = backend.snapshot(warren(family), {}, maps);
        auto shorter = slot_key(first_port, 1);
        shorter.pop_back();
        auto longer = slot_key(first_port, 1);
        longer.push_back(0);
        for (const auto& bad : {shorter, longer, Bytes(65, 1), Bytes{}}) {
            INFO(bad.size() << " bytes");
            const std::vector<Bytes> keys{slot_key(first_port, 0), bad, slot_key(first_port, 2)};
            try {
                backend.elements_of(warren(family), "ingress", keys);
                FAIL("a key of " << bad.size() << " bytes was taken");
            } catch (const Error& e) {
                CHECK(e.code() == errc::invalid_argument);
                CHECK_THAT(e.what(), Catch::Contains("read elements of set ingress of table"));
            }
        }
        const auto after = backend.snapshot(warren(family), {}, maps);
        CHECK(after.generation == before.generation);
        CHECK(after.elements == before.elements);
    }
}

// The kernel behaviour elements_of relies on, asked for directly: the GETSETELEM requests of one
// datagram are each answered on their own, in order, a key found with a NEWSETELEM message and an
// ack, a missing one (or any key of a missing set or table) with ENOENT, and the requests after a
// refused one are answered all the same.
TEST_CASE_METHOD(FreshNetns, "the GETSETELEM requests of one datagram are answered each on its own", "[elements_of][ingress]")
{
    namespace netlink = warren::nft::netlink;
    const Family family = GENERATE(Family::ip, Family::ip6);
    INFO(family_name(family));
    KernelBackendImpl backend;
    create_map(backend, family);
    netlink::Socket socket;
    const auto present = keys_of(expected(family, first_port, 0, 2));
    const Bytes missing = slot_key(unpublished_port, 0);
    const std::vector<std::tuple<Table, std::string, Bytes>> requests{{warren(family), "ingress", present[0]},
                                                                      {warren(family), "ingress", missing},
                                                                      {warren(family), "ingress", present[1]},
                                                                      {warren(family), "no-such-map", present[0]},
                                                                      {Table{family, "no-such-table"}, "ingress", present[0]},
                                                                      {warren(family), "ingress", present[0]}};
    std::vector<std::uint8_t> buffer(16 * 1024);
    std::size_t used = 0;
    const std::uint32_t first_seq = socket.next_seq();
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const auto& [table, set, key] = requests[i];
        auto* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buffer.data() + used), NFT_MSG_GETSETELEM,
                                          static_cast<std::uint16_t>(family), NLM_F_ACK, i == 0 ? first_seq : socket.next_seq());
        netlink::put_element_keys(nlh, table, set, std::span(&key, 1));
        used += MNL_ALIGN(nlh->nlmsg_len);
    }
    socket.send({buffer.data(), used});
    std::vector<std::size_t> answers(requests.size());
    const auto acks =
        netlink::receive_acks(socket, first_seq, requests.size(), [&](std::size_t index, const nlmsghdr*) { ++answers[index]; });
    std::vector<int> errors;
    for (const auto& ack : acks)
        errors.push_back(ack.error);
    CHECK(errors == std::vector{0, ENOENT, 0, ENOENT, ENOENT, 0});
    CHECK(answers == std::vector<std::size_t>{1, 0, 1, 0, 0, 1});
}
