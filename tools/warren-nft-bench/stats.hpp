// SPDX-License-Identifier: Apache-2.0
// Order statistics of a sample of latencies.
#pragma once

#include <vector>

namespace bench {

struct Percentiles {
    double min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Nearest-rank percentiles (a value that was actually measured) of a non-empty sample.
Percentiles percentiles(std::vector<double> sample);

double median(std::vector<double> sample);

}  // namespace bench
