// SPDX-License-Identifier: Apache-2.0
// The Error a call must throw, for tests that check its code and message.
#pragma once

#include <warren/nft/error.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <utility>

namespace warren::nft::test {

// Runs f, which must throw Error; returns it. Fails the test otherwise.
template <typename F>
Error error_of(F&& f)
{
    try {
        std::forward<F>(f)();
    } catch (const Error& e) {
        return e;
    }
    FAIL("no error was raised");
    throw std::logic_error("unreachable");
}

}  // namespace warren::nft::test
