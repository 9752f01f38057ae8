// SPDX-License-Identifier: Apache-2.0
// A fuzz input as the library gets a datagram from the kernel: in a buffer of its own, aligned for
// nlmsghdr, of exactly the input's size (so that AddressSanitizer sees any read past its end).
#pragma once

#include "netlink/socket.hpp"

#include <libmnl/libmnl.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace warren::fuzz {

class Datagram {
public:
    Datagram(const std::uint8_t* data, std::size_t size) : bytes_(std::make_unique<std::uint8_t[]>(size ? size : 1)), size_(size)
    {
        if (size)
            std::memcpy(bytes_.get(), data, size);
    }

    std::span<const std::uint8_t> bytes() const noexcept { return {bytes_.get(), size_}; }

    // Calls f(nlh) for each whole message, as the library walks a datagram.
    template <typename F>
    void for_each_message(F&& f) const
    {
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes_.get());
        int remaining = static_cast<int>(size_);
        for (; warren::nft::netlink::message_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining))
            f(nlh);
    }

private:
    std::unique_ptr<std::uint8_t[]> bytes_;  // new[] is aligned for any fundamental type
    std::size_t size_;
};

}  // namespace warren::fuzz
