// SPDX-License-Identifier: Apache-2.0
#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace bench {
namespace {

double rank(const std::vector<double>& sorted, double fraction)
{
    const auto n = static_cast<double>(sorted.size());
    const auto index = static_cast<std::size_t>(std::max(1.0, std::ceil(fraction * n))) - 1;
    return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

Percentiles percentiles(std::vector<double> sample)
{
    if (sample.empty())
        throw std::invalid_argument("percentiles of an empty sample");
    std::sort(sample.begin(), sample.end());
    return {sample.front(), rank(sample, 0.50), rank(sample, 0.90), rank(sample, 0.99), sample.back()};
}

double median(std::vector<double> sample) { return percentiles(std::move(sample)).p50; }

}  // namespace bench
