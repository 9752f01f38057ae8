// SPDX-License-Identifier: Apache-2.0
// The Prometheus text exposition format, version 0.0.4: for each metric a HELP and a TYPE line, then
// its samples, one per line, label values in double quotes with backslash, quote and newline escaped.
#include "metrics/errc_name.hpp"

#include <warren/nft/metrics.hpp>

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace warren::nft {
namespace {

constexpr std::string_view prefix = "warren_nft_";

std::string number(double value)
{
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    if (std::isnan(value))
        return "NaN";
    char buffer[64];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    return ec == std::errc() ? std::string(buffer, end) : "NaN";
}

std::string label_value(std::string_view value)
{
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

using Labels = std::vector<std::pair<std::string_view, std::string>>;

class Writer {
public:
    void header(std::string_view name, std::string_view type, std::string_view help)
    {
        out_ += "# HELP ";
        out_ += prefix;
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += prefix;
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }

    void sample(std::string_view name, const Labels& labels, std::string_view value)
    {
        out_ += prefix;
        out_ += name;
        if (!labels.empty()) {
            out_ += '{';
            for (bool first = true; const auto& [label, text] : labels) {
                out_ += first ? "" : ",";
                first = false;
                out_ += label;
                out_ += "=\"";
                out_ += label_value(text);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }

    void counter(std::string_view name, std::string_view help, std::uint64_t value)
    {
        header(name, "counter", help);
        sample(name, {}, std::to_string(value));
    }

    void histogram(std::string_view name, std::string_view help, const DurationHistogram& histogram)
    {
        header(name, "histogram", help);
        const std::string base(name);
        for (std::size_t i = 0; i < histogram.bounds.size() && i < histogram.cumulative.size(); ++i)
            sample(base + "_bucket", {{"le", number(histogram.bounds[i])}}, std::to_string(histogram.cumulative[i]));
        sample(base + "_bucket", {{"le", "+Inf"}}, std::to_string(histogram.count));
        sample(base + "_sum", {}, number(histogram.sum));
        sample(base + "_count", {}, std::to_string(histogram.count));
    }

    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

void write_table(Writer& out, const MetricsSnapshot& snapshot)
{
    out.header("ports_published", "gauge",
               "Ports published in tables ip warren and ip6 warren (every owner's), by address family and protocol.");
    for (const auto& count : snapshot.ports_published)
        out.sample("ports_published", {{"family", count.family}, {"protocol", std::string(to_string(count.protocol))}},
                   std::to_string(count.ports));
    const auto destinations = [&](std::string_view name, std::string_view help, auto value) {
        out.header(name, "counter", help);
        for (const auto& destination : snapshot.destinations)
            out.sample(name,
                       {{"container_ip", destination.container_ip},
                        {"protocol", std::string(to_string(destination.protocol))},
                        {"container_port", std::to_string(destination.container_port)}},
                       std::to_string(value(destination)));
    };
    destinations("destination_packets_total",
                 "Packets of connections DNATed to a destination of published ports, where the table counts.",
                 [](const DestinationCounters& d) { return d.packets; });
    destinations("destination_bytes_total",
                 "Bytes of connections DNATed to a destination of published ports, where the table counts.",
                 [](const DestinationCounters& d) { return d.bytes; });
}

void write_publisher(Writer& out, const MetricsSnapshot& snapshot)
{
    out.histogram("publish_duration_seconds", "Time a publish request took, from its call to its result, failed ones included.",
                  snapshot.publish_duration);
    out.histogram("unpublish_duration_seconds",
                  "Time an unpublish request took, from its call to its result, failed ones included.",
                  snapshot.unpublish_duration);
    out.header("errors_total", "counter", "Failed requests, by error condition.");
    auto errors = snapshot.errors;
    for (auto condition = errc::invalid_argument; condition <= errc::kernel_error;
         condition = static_cast<errc>(static_cast<int>(condition) + 1))
        errors.try_emplace(std::string(errc_name(condition)), 0);
    for (const auto& [name, count] : errors)
        out.sample("errors_total", {{"errc", name}}, std::to_string(count));
    out.counter("batches_total", "Transactions sent to the kernel.", snapshot.batches);
    out.counter("retries_total", "Transactions sent or planned again after another writer's commit.", snapshot.retries);
    out.counter("repairs_total", "Repairs of a self-healing publisher that committed.", snapshot.repairs);
    out.histogram("repair_duration_seconds",
                  "Time a repair attempt took, from reading the damage to the kernel's answer, failed ones included.",
                  snapshot.repair_duration);
    out.counter("dumps_total", "Reads of a table from the kernel.", snapshot.dumps);
}

}  // namespace

std::string prometheus_text(const MetricsSnapshot& snapshot)
{
    Writer out;
    write_table(out, snapshot);
    write_publisher(out, snapshot);
    return out.take();
}

std::string prometheus_table_text(const MetricsSnapshot& snapshot)
{
    Writer out;
    write_table(out, snapshot);
    return out.take();
}

}  // namespace warren::nft
