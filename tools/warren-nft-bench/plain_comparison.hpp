// SPDX-License-Identifier: Apache-2.0
// What an access policy on every port and the listening-socket check cost, beside plain warren-nft
// in the same run: the latency variants' p50s with their ratio to the plain method's for the same
// service and table size (goal: publish within 2x), and the data path's policy layout's connection
// rate with its ratio to the plain layout's at the same table size (goal: within 10%). Reported,
// never asserted.
#pragma once

#include "datapath.hpp"
#include "format.hpp"
#include "latency.hpp"

#include <nlohmann/json.hpp>

#include <ostream>
#include <vector>

namespace bench {

struct VariantComparison {
    std::string method;
    std::size_t ports = 0;
    std::size_t table_size = 0;
    double publish_us = 0, plain_publish_us = 0;
    double unpublish_us = 0, plain_unpublish_us = 0;
    double publish_ratio() const { return publish_us / plain_publish_us; }
    double unpublish_ratio() const { return unpublish_us / plain_unpublish_us; }
};

// Every measured cell of the variants whose plain cell was measured too, in the cells' order.
std::vector<VariantComparison> variant_comparisons(const std::vector<LatencyCell>& cells);
void print_variant_comparisons(std::ostream& out, const std::vector<LatencyCell>& cells);
nlohmann::json variant_comparisons_json(const std::vector<LatencyCell>& cells);

struct DatapathComparison {
    std::size_t table_size = 0;
    double policed = 0, plain = 0;  // median connections per second
    double ratio() const { return policed / plain; }
    bool met() const { return ratio() >= 0.9; }
};

// The policy layout beside the plain one at every table size both ran at.
std::vector<DatapathComparison> datapath_comparisons(const std::vector<DatapathResult>& results);
void print_datapath_comparisons(std::ostream& out, const std::vector<DatapathResult>& results);

// The goals of both, where the run has the figures: the policy and socket-check publish p50 of the
// 3-port service within 2x of plain at every table size, the policy layout within 10%.
std::vector<Target> plain_comparison_targets(const std::vector<LatencyCell>* cells, const std::vector<DatapathResult>* datapath);

}  // namespace bench
