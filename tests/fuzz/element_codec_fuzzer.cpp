// SPDX-License-Identifier: Apache-2.0
// The layout's decoding of elements read back from the kernel (publisher/element_codec.cpp): any
// key, value and comment of a ports, bound_ports or backends element of either family. What decodes
// must be what the publisher itself would write for it, byte for byte: adoption takes such an element
// as its own, and removing it later sends the key as the publisher writes it.
//
// Input: [family byte: even IPv4, odd IPv6][set byte: ports, bound_ports, backends modulo 3]
//        [key length byte][key][value length byte][value][comment...], cut short where it ends.
#include "one_line.hpp"

#include "publisher/element_codec.hpp"
#include "publisher/schema.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace layout = warren::nft::layout;
using warren::fuzz::fail;
using warren::nft::ruleset::Element;
using warren::nft::ruleset::Family;

namespace {

// Takes the input from its front; what is not there reads as zero bytes.
struct Reader {
    std::span<const std::uint8_t> rest;

    std::uint8_t byte()
    {
        if (rest.empty())
            return 0;
        const auto b = rest.front();
        rest = rest.subspan(1);
        return b;
    }
    std::vector<std::uint8_t> bytes(std::size_t n)
    {
        n = std::min(n, rest.size());
        std::vector<std::uint8_t> out(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n));
        rest = rest.subspan(n);
        return out;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    Reader input{{data, size}};
    const Family family = input.byte() % 2 ? Family::ip6 : Family::ip;
    static constexpr const char* sets[] = {layout::ports_map, layout::bound_ports_map, layout::backends_set};
    Element element;
    element.set = sets[input.byte() % 3];
    element.key = input.bytes(input.byte());
    element.data = input.bytes(input.byte());
    const auto comment = input.bytes(input.rest.size());
    element.comment.assign(comment.begin(), comment.end());

    if (element.set == layout::backends_set) {
        if (const auto destination = layout::decode_destination_element(family, element)) {
            if (destination->address.family != family)
                fail("a backend decoded into another family");
            if (layout::destination_element(*destination).key != element.key)
                fail("a backend decoded from a key the publisher would not write");
        }
    } else if (const auto port = layout::decode_port_element(family, element)) {
        if (port->key.family() != family || port->destination.address.family != family)
            fail("a port decoded into another family");
        const auto written = layout::port_element(port->key, port->destination, element.comment);
        if (written.set != element.set || written.key != element.key || written.data != element.data)
            fail("a port decoded from an element the publisher would not write", layout::describe(port->key));
    }
    if (const auto owner = layout::parse_owner_comment(element.comment)) {
        if (owner->task_id.empty())
            fail("an owner comment decoded with an empty task id", element.comment);
    }
    return 0;
}
