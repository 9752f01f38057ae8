// SPDX-License-Identifier: Apache-2.0
// `warren-nft watch`: a self-healing publisher in the foreground that keeps the tasks of table
// ip warren published and logs each repair, until SIGINT or SIGTERM.
#pragma once

#include <ostream>

namespace warren::cli {

struct WatchOptions {
    bool counters = false;  // repairs make the table count, as publish --counters does
    bool json = false;      // one JSON object per line instead of text
};

// Adopts every task the table holds now (PublisherOptions::self_heal), prints the start line, one
// line per repair and, on SIGINT or SIGTERM, a stop line, each flushed at once; returns exit status
// 0. Must be called while the process has a single thread: it blocks both signals for every thread
// it starts. Throws nft::Error when the publisher cannot start (e.g. without CAP_NET_ADMIN).
int run_watch(const WatchOptions& options, std::ostream& out);

}  // namespace warren::cli
