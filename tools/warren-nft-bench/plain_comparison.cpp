// SPDX-License-Identifier: Apache-2.0
#include "plain_comparison.hpp"

#include "method.hpp"

#include <cstdio>

namespace bench {
namespace {

constexpr double latency_goal = 2.0;

}  // namespace

std::vector<VariantComparison> variant_comparisons(const std::vector<LatencyCell>& cells)
{
    std::vector<VariantComparison> out;
    for (const auto& cell : cells) {
        if ((cell.method != policy_method_name && cell.method != socket_check_method_name &&
             cell.method != floor_policy_method_name) ||
            cell.skipped || cell.error)
            continue;
        const auto* plain = find_cell(cells, plain_method_name, cell.ports, cell.table_size);
        if (!plain)
            continue;
        out.push_back({cell.method, cell.ports, cell.table_size, cell.publish_us.p50, plain->publish_us.p50,
                       cell.unpublish_us.p50, plain->unpublish_us.p50});
    }
    return out;
}

void print_variant_comparisons(std::ostream& out, const std::vector<LatencyCell>& cells)
{
    const auto comparisons = variant_comparisons(cells);
    if (comparisons.empty())
        return;
    out << "\naccess policy on every port, listening-socket check: p50 in us beside plain warren-nft (goal: publish "
           "within 2x; floor-policy: the kernel's least for the policy's elements)\n";
    char line[200];
    std::snprintf(line, sizeof line, "%-24s %5s %7s | %9s %9s %7s | %9s %9s %7s\n", "method", "ports", "table", "publish",
                  "plain", "ratio", "unpublish", "plain", "ratio");
    out << line;
    for (const auto& c : comparisons) {
        std::snprintf(line, sizeof line, "%-24s %5zu %7s | %9.1f %9.1f %6.2fx | %9.1f %9.1f %6.2fx\n", c.method.c_str(), c.ports,
                      with_thousands(double(c.table_size)).c_str(), c.publish_us, c.plain_publish_us, c.publish_ratio(),
                      c.unpublish_us, c.plain_unpublish_us, c.unpublish_ratio());
        out << line;
    }
}

nlohmann::json variant_comparisons_json(const std::vector<LatencyCell>& cells)
{
    auto out = nlohmann::json::array();
    for (const auto& c : variant_comparisons(cells))
        out.push_back({{"method", c.method},
                       {"ports", c.ports},
                       {"table_size", c.table_size},
                       {"publish_p50_us", c.publish_us},
                       {"plain_publish_p50_us", c.plain_publish_us},
                       {"publish_p50_ratio_to_plain", c.publish_ratio()},
                       {"unpublish_p50_us", c.unpublish_us},
                       {"plain_unpublish_p50_us", c.plain_unpublish_us},
                       {"unpublish_p50_ratio_to_plain", c.unpublish_ratio()}});
    return out;
}

std::vector<DatapathComparison> datapath_comparisons(const std::vector<DatapathResult>& results)
{
    auto measured = [](const DatapathResult& d) { return !d.skipped && !d.connections_per_second.empty() && d.median > 0; };
    std::vector<DatapathComparison> out;
    for (const auto& policed : results) {
        if (policed.layout != datapath_policy_layout || !measured(policed))
            continue;
        for (const auto& plain : results)
            if (plain.layout == datapath_plain_layout && plain.table_size == policed.table_size && measured(plain))
                out.push_back({policed.table_size, policed.median, plain.median});
    }
    return out;
}

void print_datapath_comparisons(std::ostream& out, const std::vector<DatapathResult>& results)
{
    for (const auto& c : datapath_comparisons(results))
        out << datapath_policy_layout << " / " << datapath_plain_layout << " at table " << with_thousands(double(c.table_size))
            << ": " << with_thousands(c.policed) << " / " << with_thousands(c.plain) << " conn/s = " << format("%.3f", c.ratio())
            << " (goal: >= 0.900, " << (c.met() ? "met" : "MISSED") << ")\n";
}

std::vector<Target> plain_comparison_targets(const std::vector<LatencyCell>* cells, const std::vector<DatapathResult>* datapath)
{
    std::vector<Target> out;
    if (cells)
        for (const auto& c : variant_comparisons(*cells))
            if (c.ports == latency_target_ports && c.method != floor_policy_method_name)
                out.push_back(
                    {c.method + " publish p50 within 2x of warren-nft, 3 ports, N=" + with_thousands(double(c.table_size)),
                     format("%.1f", c.publish_us) + " vs " + format("%.1f", c.plain_publish_us) +
                         " us = " + format("%.2fx", c.publish_ratio()),
                     c.publish_ratio() <= latency_goal});
    if (datapath)
        for (const auto& c : datapath_comparisons(*datapath))
            out.push_back(
                {"data path: warren-nft-policy conn/s within 10% of warren-nft, N=" + with_thousands(double(c.table_size)),
                 with_thousands(c.policed) + " vs " + with_thousands(c.plain) + " = " + format("%.3f", c.ratio()), c.met()});
    return out;
}

}  // namespace bench
