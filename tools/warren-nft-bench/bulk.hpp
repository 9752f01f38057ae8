// SPDX-License-Identifier: Apache-2.0
// Bulk mode: how long a node agent takes to publish T tasks one after the other, and how long a
// restarted agent takes to adopt them all from the kernel.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace bench {

struct BulkShape {
    std::size_t tasks = 0;
    std::size_t ports_per_task = 0;
};

struct BulkResult {
    BulkShape shape;
    double publish_seconds = 0;  // T publish_ports calls on one publisher
    double adopt_seconds = 0;    // a new publisher, until all_published_ports() returned every port
    std::size_t adopted_ports = 0;
    long peak_rss_kib = 0;
    std::optional<std::string> error;
};

std::vector<BulkResult> run_bulk(const std::vector<BulkShape>& shapes);

}  // namespace bench
