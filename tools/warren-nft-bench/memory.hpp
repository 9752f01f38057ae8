// SPDX-License-Identifier: Apache-2.0
// Memory mode: what warren-nft's own bookkeeping costs per published port, from the resident set of
// a process before and after publishing P ports (tasks of one port: the most bookkeeping per port),
// and before and after a new publisher adopted them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace bench {

struct MemoryResult {
    std::size_t ports = 0;
    std::size_t ports_per_task = 1;
    std::size_t rss_before_publish = 0;  // bytes; the tasks to publish already built
    std::size_t rss_after_publish = 0;
    std::size_t rss_before_adopt = 0;  // the publishing publisher gone
    std::size_t rss_after_adopt = 0;   // a new publisher that read the whole table
    double publish_bytes_per_port() const;
    double adopt_bytes_per_port() const;
    std::optional<std::string> error;
};

MemoryResult run_memory(std::size_t ports, std::size_t ports_per_task);

}  // namespace bench
