// SPDX-License-Identifier: Apache-2.0
// Boost.Asio's C++20 coroutines (awaitable, co_spawn, use_awaitable) as Boost 1.74 ships them. Include
// this before any other Boost header.
#pragma once

// Boost 1.74 turns co_await support on for clang only with libc++'s <experimental/coroutine>; clang
// with libstdc++'s <coroutine> (Debian's clang 14) supports it as GCC does.
#if defined(__clang__) && defined(__cpp_impl_coroutine) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#endif

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
