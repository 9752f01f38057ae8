// SPDX-License-Identifier: Apache-2.0
// Marks the public API: libwarren-nft is built with hidden symbol visibility, so only what carries
// WARREN_NFT_EXPORT is exported from the shared library (classes: their members, vtable and type
// info, so that consumers can call them and catch Error); WARREN_NFT_LOCAL hides a member of an
// exported class that only the library itself may call.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define WARREN_NFT_EXPORT __attribute__((visibility("default")))
#define WARREN_NFT_LOCAL __attribute__((visibility("hidden")))
#else
#define WARREN_NFT_EXPORT
#define WARREN_NFT_LOCAL
#endif
