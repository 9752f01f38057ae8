// SPDX-License-Identifier: Apache-2.0
// Metrics in the Prometheus text format, parsed by Prometheus' own parser (Debian's
// python3-prometheus-client, through parse_prometheus.py), checked against the operations performed:
// `warren-nft metrics` for the table, prometheus_text(metrics()) of a publisher for what it did.
#include "cli_support.hpp"
#include "netns.hpp"
#include "nft_state.hpp"
#include "process.hpp"
#include "traffic.hpp"

#include <warren/nft.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace kt {
namespace {

using nlohmann::json;
namespace nft = warren::nft;

// The interpreter Debian's python3-prometheus-client is installed for (another python3 on PATH,
// such as a pyenv one, does not see Debian's modules).
constexpr const char* debian_python = "/usr/bin/python3";

using Labels = std::map<std::string, std::string>;

struct Sample {
    std::string name;
    Labels labels;
    double value = 0;
};

struct Family {
    std::string type;
    std::vector<Sample> samples;
};

// The text as the parser understood it, by family name (a counter's family lacks "_total").
std::map<std::string, Family> parse_prometheus(const std::string& text)
{
    const char* script = std::getenv("PROMETHEUS_PARSER");
    if (script == nullptr || *script == '\0')
        FAIL("PROMETHEUS_PARSER is not set to the path of parse_prometheus.py (meson test sets it)");
    sandbox::Command command;
    command.argv = {debian_python, script};
    command.input = text;
    const auto result = sandbox::run(command);
    INFO(text);
    INFO(result.describe(command.argv));
    INFO("tools/setup.sh installs python3-prometheus-client");
    REQUIRE(result.exit_code == 0);
    std::map<std::string, Family> out;
    for (const auto& family : json::parse(result.out)) {
        auto& parsed = out[family.at("name").get<std::string>()];
        REQUIRE(parsed.samples.empty());  // each family once
        parsed.type = family.at("type").get<std::string>();
        for (const auto& sample : family.at("samples")) {
            REQUIRE(sample.at("value").is_number());
            parsed.samples.push_back(Sample{sample.at("name").get<std::string>(), sample.at("labels").get<Labels>(),
                                            sample.at("value").get<double>()});
        }
    }
    return out;
}

// The value of the one sample of `family` named `name` with exactly `labels`.
double value(const std::map<std::string, Family>& families, const std::string& family, const std::string& name,
             const Labels& labels = {})
{
    INFO(family << " " << name);
    REQUIRE(families.contains(family));
    std::vector<double> found;
    for (const auto& sample : families.at(family).samples)
        if (sample.name == name && sample.labels == labels)
            found.push_back(sample.value);
    REQUIRE(found.size() == 1);
    return found.front();
}

const Labels ipv4_tcp{{"family", "ipv4"}, {"protocol", "tcp"}};

// The ports gauge: one published port of tcp and one of udp over IPv4, none other.
void check_ports_published(const std::map<std::string, Family>& families)
{
    REQUIRE(families.at("warren_nft_ports_published").type == "gauge");
    CHECK(families.at("warren_nft_ports_published").samples.size() == 6);
    for (const std::string family : {"ipv4", "ipv6"})
        for (const std::string protocol : {"tcp", "udp", "sctp"}) {
            INFO(family << " " << protocol);
            const double expected = family == "ipv4" && protocol != "sctp" ? 1 : 0;
            CHECK(value(families, "warren_nft_ports_published", "warren_nft_ports_published",
                        {{"family", family}, {"protocol", protocol}}) == expected);
        }
}

// The destination counters: those nft shows, the one that carried traffic above 0, none of the
// unpublished task.
void check_destinations(const std::map<std::string, Family>& families)
{
    const auto kernel = kernel_backend_counters();  // 10.200.2.2 . tcp . 8080, then udp . 53
    REQUIRE(kernel.size() == 2);
    CHECK(kernel[0].packets > 0);
    for (const std::string metric : {"warren_nft_destination_packets", "warren_nft_destination_bytes"}) {
        REQUIRE(families.at(metric).type == "counter");
        CHECK(families.at(metric).samples.size() == kernel.size());
        for (const auto& destination : kernel) {
            const Labels labels{{"container_ip", destination.backend.container_ip},
                                {"protocol", destination.backend.protocol},
                                {"container_port", std::to_string(destination.backend.port)}};
            const auto expected = metric.ends_with("packets") ? destination.packets : destination.bytes;
            CHECK(value(families, metric, metric + "_total", labels) == static_cast<double>(expected));
        }
    }
}

// Two tasks with three ports, one of them unpublished again; a conflict; traffic to one port.
// Published through `publish` and `unpublish` (each returns the error, or nothing).
template <typename Publish, typename Unpublish>
void perform_operations(Publish publish, Unpublish unpublish)
{
    const Topology net;
    EchoServer echo(net.container, Transport::tcp, 8080, "echo");
    publish("web", std::vector<std::string>{"18080:8080", "5353:53/udp"});
    publish("api", std::vector<std::string>{"19090:9090"});
    publish("thief", std::vector<std::string>{"18080:80"});  // a conflict: refused
    unpublish("api");
    REQUIRE(answer(net, 18080, "hello") == "echo:hello");
}

nft::PortMapping mapping_of(const std::string& spec)
{
    // "HOST:CONTAINER[/udp]", the few the operations above use.
    nft::PortMapping mapping;
    const auto colon = spec.find(':'), slash = spec.find('/');
    mapping.host_port = static_cast<std::uint16_t>(std::stoi(spec.substr(0, colon)));
    mapping.container_port = static_cast<std::uint16_t>(std::stoi(spec.substr(colon + 1, slash - colon - 1)));
    mapping.protocol = slash == std::string::npos ? nft::Protocol::tcp : nft::Protocol::udp;
    return mapping;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "warren-nft metrics prints the table's ports and destination counters for Prometheus",
                 "[cli][metrics][counters]")
{
    // Before anything is published: every series at 0, no destination, and the table still absent.
    auto empty = parse_prometheus(cli_ok({"metrics"}));
    CHECK(value(empty, "warren_nft_ports_published", "warren_nft_ports_published", ipv4_tcp) == 0);
    CHECK(empty.at("warren_nft_destination_packets").samples.empty());
    CHECK_THROWS(kernel_ports());  // reading created nothing

    perform_operations(
        [](const std::string& task, const std::vector<std::string>& specs) {
            std::vector<std::string> args{"publish", "--task", task, "--ip", Topology::container_ip, "--counters"};
            for (const auto& spec : specs) {
                args.push_back("-p");
                args.push_back(spec);
            }
            const auto result = cli(args);
            CHECK(result.exit_code == (task == "thief" ? 1 : 0));
        },
        [](const std::string& task) {
            cli_ok({"unpublish", "--task", task});
        });

    const auto text = cli_ok({"metrics"});
    const auto families = parse_prometheus(text);
    check_ports_published(families);
    check_destinations(families);
    // What one run of the command did is no metric of the table: an agent exports its own.
    CHECK(families.size() == 3);
}

TEST_CASE_METHOD(FreshNetns, "warren-nft metrics counts an ingress service's ports per family and its backends",
                 "[cli][metrics][counters][ingress]")
{
    cli_ok({"publish", "--task", "db", "--ip", "10.88.0.2", "--counters", "-p", "15432:5432"});
    cli_ok({"publish", "--ingress", "--counters", "--task", "web", "-p", "18080:80", "-p", "18053:53/udp", "--backend",
            "10.88.0.5", "--backend", "10.88.0.2:5432", "--backend", "[fd00::5]:8080,weight=2"});
    auto families = parse_prometheus(cli_ok({"metrics"}));
    // Each claim is a port of its family, as a host-mode port on every address is.
    const std::map<std::pair<std::string, std::string>, double> ports{
        {{"ipv4", "tcp"}, 2}, {{"ipv4", "udp"}, 1}, {{"ipv6", "tcp"}, 1}, {{"ipv6", "udp"}, 1}};
    for (const std::string family : {"ipv4", "ipv6"})
        for (const std::string protocol : {"tcp", "udp", "sctp"}) {
            INFO(family << " " << protocol);
            const auto expected = ports.contains({family, protocol}) ? ports.at({family, protocol}) : 0.0;
            CHECK(value(families, "warren_nft_ports_published", "warren_nft_ports_published",
                        {{"family", family}, {"protocol", protocol}}) == expected);
        }
    // Every backend is a destination, the one db shares once; no claim's 0.0.0.0 or ::.
    const std::vector<Labels> destinations{{{"container_ip", "10.88.0.2"}, {"protocol", "tcp"}, {"container_port", "5432"}},
                                           {{"container_ip", "10.88.0.2"}, {"protocol", "udp"}, {"container_port", "5432"}},
                                           {{"container_ip", "10.88.0.5"}, {"protocol", "tcp"}, {"container_port", "80"}},
                                           {{"container_ip", "10.88.0.5"}, {"protocol", "udp"}, {"container_port", "53"}},
                                           {{"container_ip", "fd00::5"}, {"protocol", "tcp"}, {"container_port", "8080"}},
                                           {{"container_ip", "fd00::5"}, {"protocol", "udp"}, {"container_port", "8080"}}};
    for (const std::string metric : {"warren_nft_destination_packets", "warren_nft_destination_bytes"}) {
        CHECK(families.at(metric).samples.size() == destinations.size());
        for (const auto& labels : destinations)
            CHECK(value(families, metric, metric + "_total", labels) == 0);
    }

    // Unpublished, the service leaves db's port and destination only.
    cli_ok({"unpublish", "--task", "web"});
    families = parse_prometheus(cli_ok({"metrics"}));
    CHECK(value(families, "warren_nft_ports_published", "warren_nft_ports_published", ipv4_tcp) == 1);
    CHECK(value(families, "warren_nft_ports_published", "warren_nft_ports_published",
                {{"family", "ipv6"}, {"protocol", "tcp"}}) == 0);
    CHECK(families.at("warren_nft_destination_packets").samples.size() == 1);
}

TEST_CASE_METHOD(FreshNetns, "a publisher's metrics count what it did, in the Prometheus text format", "[metrics][counters]")
{
    nft::HostPortPublisher publisher(nft::PublisherOptions{.counters = true});
    perform_operations(
        [&](const std::string& task, const std::vector<std::string>& specs) {
            std::vector<nft::PortMapping> ports;
            for (const auto& spec : specs)
                ports.push_back(mapping_of(spec));
            try {
                publisher.publish_ports(task, Topology::container_ip, ports);
                CHECK(task != "thief");
            } catch (const nft::Error& e) {
                CHECK(task == "thief");
                CHECK(e.code() == nft::errc::port_conflict);
            }
        },
        [&](const std::string& task) { publisher.unpublish_ports(task); });

    const auto text = nft::prometheus_text(publisher.metrics());
    const auto families = parse_prometheus(text);
    check_ports_published(families);
    check_destinations(families);

    // Three publishes (the conflict too) and one unpublish, each timed once.
    for (const auto& [operation, count] : {std::pair{std::string("publish"), 3.0}, std::pair{std::string("unpublish"), 1.0}}) {
        const auto metric = "warren_nft_" + operation + "_duration_seconds";
        INFO(metric);
        REQUIRE(families.at(metric).type == "histogram");
        CHECK(value(families, metric, metric + "_count") == count);
        CHECK(value(families, metric, metric + "_bucket", {{"le", "+Inf"}}) == count);
        CHECK(value(families, metric, metric + "_sum") > 0);
        // Cumulative buckets, ascending.
        double last = 0;
        for (const auto& sample : families.at(metric).samples)
            if (sample.name == metric + "_bucket") {
                CHECK(sample.value >= last);
                last = sample.value;
            }
    }
    CHECK(value(families, "warren_nft_errors", "warren_nft_errors_total", {{"errc", "port_conflict"}}) == 1);
    for (const std::string errc :
         {"invalid_argument", "permission_denied", "kernel_unsupported", "ruleset_changed", "kernel_error"})
        CHECK(value(families, "warren_nft_errors", "warren_nft_errors_total", {{"errc", errc}}) == 0);
    // The table and the two tasks' ports in the first transaction, the second task's, its removal.
    CHECK(value(families, "warren_nft_batches", "warren_nft_batches_total") == 3);
    CHECK(value(families, "warren_nft_retries", "warren_nft_retries_total") == 0);
    CHECK(value(families, "warren_nft_repairs", "warren_nft_repairs_total") == 0);
    CHECK(value(families, "warren_nft_repair_duration_seconds", "warren_nft_repair_duration_seconds_count") == 0);
    // At least the first read of both tables.
    CHECK(value(families, "warren_nft_dumps", "warren_nft_dumps_total") >= 2);
    CHECK(families.size() == 11);
}

}  // namespace kt
