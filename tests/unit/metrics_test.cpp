// SPDX-License-Identifier: Apache-2.0
// The metrics recorder and the Prometheus text it is printed in (the kernel and CLI tests parse
// that text with Prometheus' own parser).
#include "metrics/errc_name.hpp"
#include "metrics/table_metrics.hpp"
#include "publisher/metrics_recorder.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace warren::nft;
using namespace std::chrono_literals;
using Operation = MetricsRecorder::Operation;

namespace {

std::vector<std::string> lines(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

bool has_line(const std::string& text, const std::string& line)
{
    const auto all = lines(text);
    return std::find(all.begin(), all.end(), line) != all.end();
}

}  // namespace

TEST_CASE("errc names are the enumerators' names", "[metrics]")
{
    CHECK(errc_name(errc::invalid_argument) == "invalid_argument");
    CHECK(errc_name(errc::port_conflict) == "port_conflict");
    CHECK(errc_name(errc::permission_denied) == "permission_denied");
    CHECK(errc_name(errc::kernel_unsupported) == "kernel_unsupported");
    CHECK(errc_name(errc::ruleset_changed) == "ruleset_changed");
    CHECK(errc_name(errc::kernel_error) == "kernel_error");
    CHECK(errc_name(static_cast<errc>(99)) == "unknown");
    CHECK(error_label(make_error_code(errc::port_conflict)) == "port_conflict");
    CHECK(error_label(std::make_error_code(std::errc::not_enough_memory)) == "other");
}

TEST_CASE("the recorder counts each kind of event and fills cumulative histograms", "[metrics]")
{
    MetricsRecorder recorder;
    const auto conflict = make_error_code(errc::port_conflict);
    recorder.finished(Operation::publish, 50us, nullptr);     // first bucket (0.0001)
    recorder.finished(Operation::publish, 100us, nullptr);    // on a bound: in that bucket
    recorder.finished(Operation::publish, 3ms, &conflict);    // 0.005
    recorder.finished(Operation::publish, 20s, nullptr);      // above the last bound: +Inf only
    recorder.finished(Operation::unpublish, 700us, nullptr);  // 0.001
    recorder.error(make_error_code(errc::invalid_argument));
    recorder.batch();
    recorder.batch();
    recorder.retry();
    recorder.repair(2ms, true);
    recorder.repair(30ms, false);
    recorder.dump();

    const auto snapshot = recorder.snapshot();
    const auto& publish = snapshot.publish_duration;
    REQUIRE(publish.bounds.size() == duration_buckets.size());
    REQUIRE(publish.cumulative.size() == publish.bounds.size());
    CHECK(publish.bounds.front() == 0.0001);
    CHECK(publish.bounds.back() == 10);
    CHECK(std::is_sorted(publish.bounds.begin(), publish.bounds.end()));
    CHECK(publish.count == 4);
    CHECK(publish.cumulative[0] == 2);      // le 0.0001
    CHECK(publish.cumulative[4] == 2);      // le 0.0025
    CHECK(publish.cumulative[5] == 3);      // le 0.005
    CHECK(publish.cumulative.back() == 3);  // le 10: the 20 s one is above
    CHECK(publish.sum == Approx(0.00005 + 0.0001 + 0.003 + 20));
    CHECK(snapshot.unpublish_duration.count == 1);
    CHECK(snapshot.unpublish_duration.cumulative[2] == 0);  // le 0.0005
    CHECK(snapshot.unpublish_duration.cumulative[3] == 1);  // le 0.001
    CHECK(snapshot.errors == std::map<std::string, std::uint64_t>{{"invalid_argument", 1}, {"port_conflict", 1}});
    CHECK(snapshot.batches == 2);
    CHECK(snapshot.retries == 1);
    CHECK(snapshot.repairs == 1);  // the one that committed
    CHECK(snapshot.repair_duration.count == 2);
    CHECK(snapshot.dumps == 1);
    CHECK(snapshot.ports_published.empty());
    CHECK(snapshot.destinations.empty());
}

TEST_CASE("the recorder loses nothing when several threads record at once", "[metrics]")
{
    MetricsRecorder recorder;
    constexpr int threads = 4, each = 2000;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&] {
            for (int i = 0; i < each; ++i) {
                recorder.finished(Operation::publish, 1ms, nullptr);
                recorder.batch();
            }
        });
    for (auto& worker : workers)
        worker.join();
    const auto snapshot = recorder.snapshot();
    CHECK(snapshot.publish_duration.count == threads * each);
    CHECK(snapshot.batches == threads * each);
}

TEST_CASE("table metrics count every family and protocol, 0 where none is published", "[metrics]")
{
    std::vector<PublishedPort> ports;
    const auto published = [&](std::string task, std::string ip, Protocol protocol) {
        PortMapping mapping;
        mapping.protocol = protocol;
        ports.push_back(PublishedPort{std::move(task), std::move(ip), mapping});
    };
    published("a", "10.88.0.2", Protocol::tcp);
    published("a", "10.88.0.2", Protocol::tcp);
    published("a", "fd00::2", Protocol::tcp);
    published("", "10.88.0.9", Protocol::udp);  // an element of another program counts too
    published("b", "fd00::3", Protocol::sctp);
    const std::vector<DestinationCounters> counters{{"10.88.0.2", Protocol::tcp, 80, 5, 300}};
    const auto snapshot = table_metrics(ports, counters);
    CHECK(snapshot.ports_published == std::vector<PortCount>{{"ipv4", Protocol::tcp, 2},
                                                             {"ipv4", Protocol::udp, 1},
                                                             {"ipv4", Protocol::sctp, 0},
                                                             {"ipv6", Protocol::tcp, 1},
                                                             {"ipv6", Protocol::udp, 0},
                                                             {"ipv6", Protocol::sctp, 1}});
    CHECK(snapshot.destinations == counters);
}

TEST_CASE("prometheus_text writes HELP, TYPE and samples of every metric", "[metrics]")
{
    MetricsRecorder recorder;
    const auto conflict = make_error_code(errc::port_conflict);
    recorder.finished(Operation::publish, 3ms, &conflict);
    recorder.batch();
    auto snapshot = recorder.snapshot();
    snapshot.ports_published = {{"ipv4", Protocol::udp, 3}};
    snapshot.destinations = {{"10.88.0.2", Protocol::tcp, 80, 5, 300}};
    const auto text = prometheus_text(snapshot);

    CHECK(text.back() == '\n');
    CHECK(has_line(text, "# TYPE warren_nft_ports_published gauge"));
    CHECK(has_line(text, "warren_nft_ports_published{family=\"ipv4\",protocol=\"udp\"} 3"));
    CHECK(has_line(text, "# TYPE warren_nft_destination_packets_total counter"));
    CHECK(has_line(text,
                   "warren_nft_destination_packets_total{container_ip=\"10.88.0.2\",protocol=\"tcp\",container_port=\"80\"} 5"));
    CHECK(has_line(text,
                   "warren_nft_destination_bytes_total{container_ip=\"10.88.0.2\",protocol=\"tcp\",container_port=\"80\"} 300"));
    CHECK(has_line(text, "# TYPE warren_nft_publish_duration_seconds histogram"));
    CHECK(has_line(text, "warren_nft_publish_duration_seconds_bucket{le=\"0.0025\"} 0"));
    CHECK(has_line(text, "warren_nft_publish_duration_seconds_bucket{le=\"0.005\"} 1"));
    CHECK(has_line(text, "warren_nft_publish_duration_seconds_bucket{le=\"+Inf\"} 1"));
    CHECK(has_line(text, "warren_nft_publish_duration_seconds_sum 0.003"));
    CHECK(has_line(text, "warren_nft_publish_duration_seconds_count 1"));
    CHECK(has_line(text, "warren_nft_unpublish_duration_seconds_count 0"));
    CHECK(has_line(text, "warren_nft_repair_duration_seconds_count 0"));
    // Every condition, so that a rate over it exists before the first error.
    CHECK(has_line(text, "warren_nft_errors_total{errc=\"port_conflict\"} 1"));
    CHECK(has_line(text, "warren_nft_errors_total{errc=\"kernel_error\"} 0"));
    CHECK(has_line(text, "warren_nft_errors_total{errc=\"invalid_argument\"} 0"));
    CHECK(has_line(text, "warren_nft_batches_total 1"));
    CHECK(has_line(text, "warren_nft_retries_total 0"));
    CHECK(has_line(text, "warren_nft_repairs_total 0"));
    CHECK(has_line(text, "warren_nft_dumps_total 0"));
    // Each metric is introduced once, by HELP then TYPE.
    for (const std::string name : {"ports_published", "destination_packets_total", "destination_bytes_total",
                                   "publish_duration_seconds", "unpublish_duration_seconds", "errors_total", "batches_total",
                                   "retries_total", "repairs_total", "repair_duration_seconds", "dumps_total"}) {
        INFO(name);
        const auto help = text.find("# HELP warren_nft_" + name + " ");
        const auto type = text.find("# TYPE warren_nft_" + name + " ");
        CHECK(help != std::string::npos);
        CHECK(type != std::string::npos);
        CHECK(help < type);
        CHECK(text.find("# TYPE warren_nft_" + name + " ", type + 1) == std::string::npos);
    }
}

TEST_CASE("prometheus_table_text has what the table holds only", "[metrics]")
{
    MetricsRecorder recorder;
    recorder.batch();
    auto snapshot = recorder.snapshot();
    snapshot.ports_published = {{"ipv6", Protocol::tcp, 2}};
    const auto text = prometheus_table_text(snapshot);
    CHECK(has_line(text, "warren_nft_ports_published{family=\"ipv6\",protocol=\"tcp\"} 2"));
    CHECK(has_line(text, "# TYPE warren_nft_destination_packets_total counter"));
    CHECK(text.find("batches_total") == std::string::npos);
    CHECK(text.find("duration_seconds") == std::string::npos);
    CHECK(text.find("errors_total") == std::string::npos);
}

TEST_CASE("label values escape backslash, double quote and newline", "[metrics]")
{
    MetricsSnapshot snapshot;
    snapshot.ports_published = {{"a\"b\\c\nd", Protocol::tcp, 1}};
    CHECK(has_line(prometheus_table_text(snapshot), "warren_nft_ports_published{family=\"a\\\"b\\\\c\\nd\",protocol=\"tcp\"} 1"));
}
