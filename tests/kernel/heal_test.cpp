// SPDX-License-Identifier: Apache-2.0
// Following the kernel's change announcements: commits to other tables cost the publisher no read of
// its table and no failed call; a self-healing publisher puts back what others damage, and real
// traffic flows again without any publish call; its own commits never look like damage.
#include "repair_reports.hpp"
#include "support.hpp"
#include "traffic.hpp"

#include "netlink/change_feed.hpp"
#include "netlink/kernel_backend.hpp"
#include "publisher/publisher_on.hpp"
#include "publisher/schema.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <thread>

using namespace kt;
using namespace std::chrono_literals;
namespace rs = warren::nft::ruleset;

namespace {

// The kernel backend, counting the reads that dump the ports map's elements (full table reads; a
// publisher's read of the drain deadlines when it is made reads the ingress records only), with a
// feed whose receive queue holds `queue_bytes` (0: the default).
bool reads_ports(std::span<const std::string> element_sets)
{
    return std::find(element_sets.begin(), element_sets.end(), warren::nft::layout::ports_map) != element_sets.end();
}

class CountingBackend final : public rs::Backend {
public:
    explicit CountingBackend(int queue_bytes = 0) : queue_bytes_(queue_bytes) {}
    const warren::nft::KernelFeatures& features() const noexcept override { return kernel_.features(); }
    std::uint32_t generation() override { return kernel_.generation(); }
    // A full read reads both tables: counted once, by its IPv4 one.
    rs::TableSnapshot snapshot(const rs::Table& table, std::span<const std::string> chains,
                               std::span<const std::string> element_sets) override
    {
        if (reads_ports(element_sets) && table.family == rs::Family::ip)
            ++*full_reads;
        return kernel_.snapshot(table, chains, element_sets);
    }
    rs::TableSnapshot snapshot_following(const rs::Table& table, std::span<const std::string> chains,
                                         std::span<const std::string> element_sets, const Unchanged& unchanged) override
    {
        if (reads_ports(element_sets) && table.family == rs::Family::ip)
            ++*full_reads;
        return kernel_.snapshot_following(table, chains, element_sets, unchanged);
    }
    std::vector<rs::Element> elements_of(const rs::Table& table, const std::string& set, std::span<const rs::Bytes> keys) override
    {
        return kernel_.elements_of(table, set, keys);
    }
    using Backend::commit;
    void commit(const rs::Commit& tx, std::optional<std::uint32_t> generation) override
    {
        ++*commits;
        kernel_.commit(tx, generation);
    }
    std::unique_ptr<rs::ChangeFeed> follow(std::span<const rs::Table> tables) override
    {
        if (queue_bytes_ == 0)
            return kernel_.follow(tables);
        return std::make_unique<warren::nft::netlink::KernelChangeFeed>(std::vector<rs::Table>(tables.begin(), tables.end()),
                                                                        kernel_.port_id(), queue_bytes_);
    }
    std::size_t forget_flows(std::span<const rs::FlowMatch> matches) override { return kernel_.forget_flows(matches); }
    void route_localnet_towards(const std::array<std::uint8_t, 4>& container) override
    {
        kernel_.route_localnet_towards(container);
    }
    std::vector<warren::nft::netlink::SocketEntry> receiving_sockets(warren::nft::Protocol protocol,
                                                                     std::span<const rs::Family> families,
                                                                     warren::nft::netlink::PortFilter ports) override
    {
        return kernel_.receiving_sockets(protocol, families, ports);
    }
    std::vector<warren::nft::layout::Address> host_addresses(std::span<const warren::nft::layout::Address> among) override
    {
        return kernel_.host_addresses(among);
    }

    std::shared_ptr<std::atomic<int>> full_reads = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> commits = std::make_shared<std::atomic<int>>(0);

private:
    int queue_bytes_;
    warren::nft::netlink::KernelBackend kernel_;
};

// Another writer, committing to a table of its own as fast as it can, on its own netlink socket.
class ForeignWriter {
public:
    ForeignWriter()
        : thread_([this] {
              warren::nft::netlink::KernelBackend backend;
              const rs::Table table{rs::Family::ip, "foreign"};
              const rs::Set set{"s", {{7, 4}}, {}, false, 1};
              backend.commit(rs::Transaction(table).add(table).add(set), std::nullopt);
              for (std::uint8_t i = 0; !stop_; ++i) {
                  rs::Element element{"s", {10, 0, 0, i}, {}, "", 0, 0};
                  backend.commit(rs::Transaction(table).add(element), std::nullopt);
                  backend.commit(rs::Transaction(table).remove(element), std::nullopt);
                  commits_ += 2;
              }
          })
    {
    }
    // Until it has committed `count` times: it is really writing.
    void wait_for(int count) const
    {
        for (int i = 0; i < 2000 && commits_ < count; ++i)
            std::this_thread::sleep_for(1ms);
    }
    ~ForeignWriter()
    {
        stop_ = true;
        thread_.join();
    }
    int commits() const { return commits_; }

private:
    std::atomic<bool> stop_ = false;
    std::atomic<int> commits_ = 0;
    std::thread thread_;
};

std::vector<PortMapping> one_port_each(int tasks, std::uint16_t first)
{
    std::vector<PortMapping> out;
    for (int i = 0; i < tasks; ++i)
        out.push_back(tcp(static_cast<std::uint16_t>(first + i), 80));
    return out;
}

constexpr std::uint16_t web_host_port = 18080;
constexpr std::uint16_t web_container_port = 8080;

// Whether the published web port answers again within `timeout` (a fresh TCP connection each try).
bool echoes_within(const Topology& net, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
        const auto r = exchange(net.client, Transport::tcp, Topology::host_client_side_ip, web_host_port, "again", 200ms);
        if (r.replied && r.reply == "web:again")
            return true;
        std::this_thread::sleep_for(5ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
}

std::string rule_handle(const std::string& chain)
{
    // A rule's line ends in its comment and handle; the chain's own handle stands after its brace.
    static const std::regex handle("comment \"[^\"]*\" # handle ([0-9]+)");
    const auto listing = nft({"-a", "list", "chain", "ip", "warren", chain});
    std::smatch match;
    REQUIRE(std::regex_search(listing, match, handle));
    return match[1];
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "commits to other tables cost no table read and no failed call", "[follow]")
{
    auto counting = std::make_unique<CountingBackend>();
    const auto full_reads = counting->full_reads;
    // What the publisher logs says why a table was read again (a loss of announcements).
    std::mutex log_mutex;
    std::vector<std::string> log;
    PublisherOptions options;
    options.logger = [&](warren::nft::LogLevel, std::string_view message) {
        std::lock_guard lock(log_mutex);
        log.emplace_back(message);
    };
    auto publisher = warren::nft::publisher_on(std::move(counting), options);
    const auto ports = one_port_each(100, 20000);
    int foreign_commits = 0;
    {
        ForeignWriter writer;
        writer.wait_for(10);
        for (int i = 0; i < 100; ++i) {
            // Other commits between every two calls of ours, however the threads are scheduled.
            writer.wait_for(writer.commits() + 2);
            publisher.publish_ports("task-" + std::to_string(i), "10.88.0.2", std::span(&ports[static_cast<std::size_t>(i)], 1));
            CHECK(publisher.published_ports("task-" + std::to_string(i)).size() == 1);
            if (i % 10 == 0)
                CHECK(publisher.all_published_ports().size() == static_cast<std::size_t>(i + 1));
        }
        for (int i = 0; i < 100; i += 2) {
            writer.wait_for(writer.commits() + 2);
            publisher.unpublish_ports("task-" + std::to_string(i));
        }
        foreign_commits = writer.commits();
    }
    // A copy: the publisher logs with its own lock held, so this one is not held while it is called.
    const auto logged = [&] {
        std::lock_guard lock(log_mutex);
        return log;
    }();
    for (const auto& line : logged)
        UNSCOPED_INFO("logged: " << line);
    INFO("foreign commits meanwhile: " << foreign_commits);
    CHECK(foreign_commits >= 300);
    // One read at the first call; everything else came from the announcements. A machine that
    // stalls the reader for a second makes it give up waiting for its own transaction's
    // announcements: that read again is logged, and may happen once, never per foreign commit.
    const auto losses = std::count_if(logged.begin(), logged.end(), [](const std::string& line) {
        return line.find("announcements were lost") != std::string::npos;
    });
    CHECK(losses <= 1);
    CHECK(*full_reads == 1 + losses);
    CHECK(kernel_ports().size() == 50);
    CHECK(publisher.all_published_ports().size() == 50);
}

TEST_CASE_METHOD(FreshNetns, "a large table is read while another writer keeps committing to its own table", "[follow]")
{
    std::vector<warren::nft::TaskPorts> tasks;
    for (int i = 0; i < 20000; ++i)
        tasks.push_back({"task-" + std::to_string(i), "10.88.0.2", {tcp(static_cast<std::uint16_t>(1 + i), 80)}});
    HostPortPublisher().reconcile(tasks);
    ForeignWriter writer;
    writer.wait_for(10);
    const int before = writer.commits();
    // Reading 20,000 elements takes long enough that the other writer commits during every read:
    // the announcements tell that none of its commits touched our table.
    auto counting = std::make_unique<CountingBackend>();
    const auto full_reads = counting->full_reads;
    auto publisher = warren::nft::publisher_on(std::move(counting));
    CHECK(publisher.all_published_ports().size() == 20000);
    CHECK(*full_reads == 1);
    INFO("foreign commits during the read: " << writer.commits() - before);
    CHECK(writer.commits() - before > 10);
}

TEST_CASE_METHOD(FreshNetns, "changes by other writers to our table are followed without reading it again", "[follow]")
{
    auto counting = std::make_unique<CountingBackend>();
    const auto full_reads = counting->full_reads;
    auto publisher = warren::nft::publisher_on(std::move(counting));
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80, "web")});
    // Another process publishes, and someone deletes one of our elements by hand.
    HostPortPublisher().publish_ports("task-b", "10.88.0.3", std::vector{udp(5353, 53)});
    nft({"add", "element", "ip", "warren", "ports", "{", "tcp", ".", "9090", ":", "10.88.0.9", ".", "90", "}"});
    CHECK(publisher.all_published_ports().size() == 3);
    nft({"delete", "element", "ip", "warren", "ports", "{", "tcp", ".", "8080", "}"});
    CHECK(publisher.published_ports("task-a").empty());
    CHECK(publisher.published_ports("task-b") == std::vector{udp(5353, 53)});
    // The foreign element blocks its port; the deleted one is free again.
    CHECK(expect_error([&] { publisher.publish_ports("task-c", "10.88.0.4", std::vector{tcp(9090, 90)}); }).code() ==
          errc::port_conflict);
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80, "web")});
    // A flushed chain is layout: read without elements, and repaired by the next change.
    nft({"flush", "chain", "ip", "warren", "prerouting"});
    publisher.publish_ports("task-d", "10.88.0.4", std::vector{tcp(7070, 70)});
    CHECK(warren_table().find("DNAT published host ports") != std::string::npos);
    // And after the whole table went, the view knows it is gone.
    nft({"delete", "table", "ip", "warren"});
    CHECK(publisher.all_published_ports().empty());
    CHECK(*full_reads == 1);
}

TEST_CASE_METHOD(FreshNetns, "lost announcements make the view read the table again, and it stays exact", "[follow]")
{
    // A receive queue of a few kilobytes overflows after a handful of other writers' commits.
    auto counting = std::make_unique<CountingBackend>(4096);
    const auto full_reads = counting->full_reads;
    std::mutex mutex;
    std::vector<std::pair<warren::nft::LogLevel, std::string>> lost;  // what was logged of lost announcements
    PublisherOptions options{.logger = [&](warren::nft::LogLevel level, std::string_view message) {
        std::lock_guard lock(mutex);
        if (message.find("announcements were lost") != std::string_view::npos)
            lost.emplace_back(level, message);
    }};
    auto publisher = warren::nft::publisher_on(std::move(counting), options);
    publisher.publish_ports("mine", "10.88.0.2", std::vector{tcp(8080, 80)});
    REQUIRE(*full_reads == 1);
    HostPortPublisher other;
    for (int i = 0; i < 200; ++i)
        other.publish_ports("other-" + std::to_string(i), "10.88.0.3",
                            std::vector{udp(static_cast<std::uint16_t>(20000 + i), 53)});
    other.unpublish_ports("other-7");
    CHECK(publisher.all_published_ports().size() == 200);
    CHECK(publisher.published_ports("other-7").empty());
    CHECK(*full_reads == 2);
    {
        std::lock_guard lock(mutex);
        REQUIRE(lost.size() == 1);
        CHECK(lost[0].first == warren::nft::LogLevel::warning);
    }
    // Followed again from there on.
    other.unpublish_ports("other-8");
    CHECK(publisher.all_published_ports().size() == 199);
    CHECK(*full_reads == 2);
}

TEST_CASE_METHOD(FreshNetns, "a self-healing publisher restores its ports after each kind of damage, and traffic flows again",
                 "[heal][traffic]")
{
    const Topology net;
    EchoServer web(net.container, Transport::tcp, web_container_port, "web");
    Reports reports;
    HostPortPublisher publisher(reports.options());
    const std::vector<PortMapping> ports = {tcp(web_host_port, web_container_port, "web"), udp(15353, 53, "dns")};
    publisher.publish_ports("web-1", Topology::container_ip, ports);
    REQUIRE(echoes_within(net, 2s));
    const auto published = kernel_ports();
    const std::string port = std::to_string(web_host_port);

    const std::vector<std::pair<std::string, std::function<void()>>> damages = {
        {"nft flush ruleset",
         [] {
             nft({"flush", "ruleset"});
         }},
        {"nft delete table",
         [] {
             nft({"delete", "table", "ip", "warren"});
         }},
        {"nft flush table",
         [] {
             nft({"flush", "table", "ip", "warren"});
         }},
        {"nft delete element",
         [&] {
             nft({"delete", "element", "ip", "warren", "ports", "{", "tcp", ".", port, "}"});
         }},
        {"nft flush map",
         [] {
             nft({"flush", "map", "ip", "warren", "ports"});
         }},
        {"a deleted rule",
         [] {
             nft({"delete", "rule", "ip", "warren", "prerouting", "handle", rule_handle("prerouting")});
         }},
        {"a deleted chain", [] { nft_script("flush chain ip warren prerouting\ndelete chain ip warren prerouting\n"); }},
        {"a ruleset file starting with flush ruleset",
         [] { nft_script("flush ruleset\ntable ip firewall {\n chain input { type filter hook input priority 0; }\n}\n"); }},
    };
    std::size_t expected_reports = 0;
    for (const auto& [what, damage] : damages) {
        INFO("damage: " << what);
        damage();
        ++expected_reports;
        const auto seen = reports.wait_for(expected_reports);
        REQUIRE(seen.size() == expected_reports);
        const auto& report = seen.back();
        INFO("damage seen: " << report.damage << "; error: " << report.error);
        CHECK(report.error.empty());
        CHECK_FALSE(report.damage.empty());
        CHECK(report.pid != 0);
        CHECK(report.process == "nft");
        CHECK(echoes_within(net, 2s));
        CHECK(kernel_ports() == published);
    }
    // The foreign table of the last damage is left alone.
    CHECK(tables() == std::vector<std::string>{"ip firewall", "ip warren"});
    CHECK(publisher.published_ports("web-1").size() == 2);
}

TEST_CASE_METHOD(FreshNetns, "a self-healing publisher's own commits are not damage, and unpublishing through it sticks",
                 "[heal]")
{
    Reports reports;
    HostPortPublisher publisher(reports.options());
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80)});
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8081, 81)});
    publisher.publish_ports("task-b", "10.88.0.3", std::vector{udp(5353, 53)});
    publisher.unpublish_ports("task-a");
    // Nothing is committed on its own after our calls: no repair loop.
    const auto quiet = monitor_transactions([] { std::this_thread::sleep_for(300ms); });
    CHECK(quiet.generations == 0);
    CHECK(reports.size() == 0);
    CHECK(kernel_ports() == std::vector{kernel_port("task-b", "10.88.0.3", udp(5353, 53))});

    // Another process unpublishing a task this publisher owns is damage: undone.
    HostPortPublisher().unpublish_ports("task-b");
    const auto seen = reports.wait_for(1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].ports_restored == 1);
    CHECK_FALSE(seen[0].layout_restored);
    CHECK(kernel_ports() == std::vector{kernel_port("task-b", "10.88.0.3", udp(5353, 53))});

    // Tasks of other publishers are theirs: publishing and unpublishing them is no damage.
    HostPortPublisher other;
    other.publish_ports("task-c", "10.88.0.4", std::vector{tcp(9090, 90)});
    other.unpublish_ports("task-c");
    std::this_thread::sleep_for(200ms);
    CHECK(reports.size() == 1);
}

TEST_CASE_METHOD(FreshNetns, "a self-healing publisher adopts the table's tasks and leaves ports others took over", "[heal]")
{
    HostPortPublisher().publish_ports("adopted", "10.88.0.2", std::vector{tcp(8080, 80), tcp(8081, 81)});
    Reports reports;
    HostPortPublisher publisher(reports.options());
    // Someone replaces one of the adopted ports by an element of their own, and deletes the other.
    nft_script(
        "delete element ip warren ports { tcp . 8080 }\n"
        "add element ip warren ports { tcp . 8080 : 10.99.0.1 . 99 }\n"
        "delete element ip warren ports { tcp . 8081 }\n");
    const auto seen = reports.wait_for(1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].error.empty());
    CHECK(seen[0].ports_restored == 1);
    REQUIRE(seen[0].skipped.size() == 1);
    CHECK(seen[0].skipped[0].find("8080/tcp of task adopted") != std::string::npos);
    const auto ports = kernel_ports();
    REQUIRE(ports.size() == 2);
    CHECK(ports[0].container_ip == "10.99.0.1");
    CHECK(ports[1] == kernel_port("adopted", "10.88.0.2", tcp(8081, 81)));
}

TEST_CASE_METHOD(FreshNetns, "a self-healing publisher repairs damage done before it started, at once", "[heal]")
{
    HostPortPublisher().publish_ports("adopted", "10.88.0.2", std::vector{tcp(8080, 80)});
    nft_script("flush chain ip warren output\ndelete chain ip warren output\n");
    Reports reports;
    HostPortPublisher publisher(reports.options());
    const auto seen = reports.wait_for(1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].damage == "found incomplete at start");
    CHECK(seen[0].layout_restored);
    CHECK(seen[0].ports_restored == 0);
    CHECK(warren_chains().size() == 7);
}

TEST_CASE_METHOD(FreshNetns, "two self-healing publishers that own one task stop fighting over it", "[heal]")
{
    Reports first_reports, second_reports;
    HostPortPublisher first(first_reports.options());
    first.publish_ports("shared", "10.88.0.2", std::vector{tcp(8080, 80)});
    HostPortPublisher second(second_reports.options());  // adopts "shared" too
    first.publish_ports("shared", "10.88.0.2", std::vector{tcp(9090, 90)});
    // Each undoes the other's version until one of them gives the task up.
    std::size_t seen = 0;
    for (int quiet = 0; quiet < 5;) {
        std::this_thread::sleep_for(100ms);
        const auto now = first_reports.size() + second_reports.size();
        quiet = now == seen ? quiet + 1 : 0;
        seen = now;
        REQUIRE(seen < 40);
    }
    CHECK(seen >= 5);
    auto reports = first_reports.wait_for(0);
    const auto more = second_reports.wait_for(0);
    reports.insert(reports.end(), more.begin(), more.end());
    const auto gave_up = std::count_if(reports.begin(), reports.end(), [](const warren::nft::RepairReport& report) {
        return std::any_of(report.skipped.begin(), report.skipped.end(),
                           [](const std::string& line) { return line.starts_with("task shared no longer kept"); });
    });
    CHECK(gave_up == 1);
    CHECK(kernel_ports().size() == 1);  // one version of the task stands
}

TEST_CASE_METHOD(FreshNetns, "damage repeated again and again is repaired every time", "[heal]")
{
    Reports reports;
    HostPortPublisher publisher(reports.options());
    publisher.publish_ports("a", "10.88.0.2", std::vector{tcp(8080, 80)});
    const auto published = kernel_ports();
    for (std::size_t round = 1; round <= 8; ++round) {
        INFO("round " << round);
        nft({"delete", "element", "ip", "warren", "ports", "{", "tcp", ".", "8080", "}"});
        const auto seen = reports.wait_for(round);
        REQUIRE(seen.size() == round);
        CHECK(seen.back().skipped.empty());
        CHECK(kernel_ports() == published);
    }
}

TEST_CASE_METHOD(FreshNetns, "a self-healing publisher restores a deleted IPv6 table and leaves the IPv4 one alone",
                 "[heal][dual-stack]")
{
    Reports reports;
    HostPortPublisher publisher(reports.options());
    publisher.publish_ports("web", warren::nft::ContainerAddresses{"10.88.0.2", "fd00:88::2"}, std::vector{tcp(8080, 80)});
    const auto ipv4_before = nft({"list", "table", "ip", "warren"});
    const auto ipv6_before = nft({"list", "table", "ip6", "warren"});
    nft({"delete", "table", "ip6", "warren"});
    const auto seen = reports.wait_for(1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].error.empty());
    CHECK_THAT(seen[0].damage, Catch::Contains("table ip6 warren deleted"));
    CHECK(seen[0].ports_restored == 1);
    CHECK(nft({"list", "table", "ip6", "warren"}) == ipv6_before);
    CHECK(nft({"list", "table", "ip", "warren"}) == ipv4_before);
    // An element deleted from the IPv6 table is named with its table.
    nft({"delete", "element", "ip6", "warren", "ports", "{", "tcp", ".", "8080", "}"});
    const auto again = reports.wait_for(2);
    REQUIRE(again.size() == 2);
    CHECK_THAT(again[1].damage, Catch::Contains("element deleted from set ports of table ip6 warren"));
    CHECK(nft({"list", "table", "ip6", "warren"}) == ipv6_before);
}

TEST_CASE_METHOD(FreshNetns, "a catch-all element is no task and no damage", "[heal][follow]")
{
    Reports reports;
    HostPortPublisher publisher(reports.options());
    publisher.publish_ports("a", "10.88.0.2", std::vector{tcp(8080, 80), tcp(8081, 81)});
    nft({"add", "element", "ip", "warren", "ports", "{", "*", ":", "10.9.9.9", ".", "99", "}"});
    CHECK(publisher.all_published_ports().size() == 2);
    std::this_thread::sleep_for(200ms);
    CHECK(reports.size() == 0);
    nft({"delete", "element", "ip", "warren", "ports", "{", "*", "}"});
    CHECK(publisher.all_published_ports().size() == 2);
    CHECK(reports.size() == 0);
}

TEST_CASE_METHOD(FreshNetns, "a self-healing publisher of a counting table restores its backends set", "[heal][counters]")
{
    Reports reports;
    auto options = reports.options();
    options.counters = true;
    HostPortPublisher publisher(options);
    publisher.publish_ports("a", "10.88.0.2", std::vector{tcp(8080, 80)});
    const auto backends = kernel_backends();
    REQUIRE(backends.size() == 1);
    nft({"flush", "set", "ip", "warren", "backends"});
    const auto seen = reports.wait_for(1);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].error.empty());
    CHECK(seen[0].layout_restored);
    CHECK(kernel_backends() == backends);
}

TEST_CASE_METHOD(FreshNetns, "self-healing publishers start and stop cleanly, also while damage arrives", "[heal]")
{
    for (int i = 0; i < 10; ++i) {
        HostPortPublisher publisher(PublisherOptions{.self_heal = true});
        publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80)});
        nft({"flush", "ruleset"});
    }
    // The last one may or may not have repaired before it stopped; no thread outlives its publisher.
    const auto quiet = monitor_transactions([] { std::this_thread::sleep_for(200ms); });
    CHECK(quiet.generations == 0);
}

TEST_CASE_METHOD(FreshNetns, "reconcile makes the table hold exactly the desired state in one transaction", "[reconcile]")
{
    using warren::nft::TaskPorts;
    HostPortPublisher publisher;
    SECTION("from empty, then identical: nothing sent")
    {
        const std::vector<TaskPorts> desired = {{"a", "10.88.0.2", {tcp(8080, 80)}}, {"b", "10.88.0.3", {udp(5353, 53)}}};
        auto log = monitor_transactions([&] { publisher.reconcile(desired); });
        CHECK(log.generations == 1);
        CHECK(kernel_ports() ==
              std::vector{kernel_port("a", "10.88.0.2", tcp(8080, 80)), kernel_port("b", "10.88.0.3", udp(5353, 53))});
        log = monitor_transactions([&] { HostPortPublisher().reconcile(desired); });
        CHECK(log.generations == 0);
    }
    SECTION("from a superset, moving a port from one task to another")
    {
        publisher.publish_ports("a", "10.88.0.2", std::vector{tcp(8080, 80), tcp(8081, 81)});
        publisher.publish_ports("b", "10.88.0.3", std::vector{tcp(9090, 90)});
        publisher.publish_ports("gone", "10.88.0.4", std::vector{tcp(7070, 70)});
        const std::vector<TaskPorts> desired = {{"a", "10.88.0.2", {tcp(8080, 80)}},
                                                {"b", "10.88.0.3", {tcp(9090, 90), tcp(8081, 81)}}};
        const auto log = monitor_transactions([&] { HostPortPublisher().reconcile(desired); });
        CHECK(log.generations == 1);
        CHECK(kernel_ports() == std::vector{kernel_port("a", "10.88.0.2", tcp(8080, 80)),
                                            kernel_port("b", "10.88.0.3", tcp(8081, 81)),
                                            kernel_port("b", "10.88.0.3", tcp(9090, 90))});
    }
    SECTION("conflicts inside the desired state, or with a foreign element, change nothing")
    {
        publisher.publish_ports("a", "10.88.0.2", std::vector{tcp(8080, 80)});
        nft({"add", "element", "ip", "warren", "ports", "{", "tcp", ".", "9999", ":", "10.88.0.9", ".", "99", "}"});
        const auto before = ruleset();
        auto e = expect_error([&] {
            publisher.reconcile(std::vector<TaskPorts>{{"a", "10.88.0.2", {tcp(8080, 80)}}, {"b", "10.88.0.3", {tcp(8080, 81)}}});
        });
        CHECK(e.code() == errc::invalid_argument);
        e = expect_error([&] { publisher.reconcile(std::vector<TaskPorts>{{"b", "10.88.0.3", {tcp(9999, 81)}}}); });
        CHECK(e.code() == errc::port_conflict);
        e = expect_error([&] { publisher.reconcile(std::vector<TaskPorts>{{"a", "10.88.0.2", {}}, {"a", "10.88.0.2", {}}}); });
        CHECK(e.code() == errc::invalid_argument);
        e = expect_error([&] { publisher.reconcile(std::vector<TaskPorts>{{"b", "not-an-ip", {tcp(1, 1)}}}); });
        CHECK(e.code() == errc::invalid_argument);
        CHECK(ruleset() == before);
    }
}

TEST_CASE_METHOD(FreshNetns, "a self-healing publisher keeps working after repairs of backends elements alone",
                 "[heal][counters]")
{
    // A port of another publisher's task deleted behind its back leaves that port's backends
    // element behind: the healer deletes it, in a repair that changes none of its own tasks. Its
    // view must learn that, or each later transaction deletes the element again (ENOENT), for good
    // once a full read has been spent on it.
    Reports reports;
    HostPortPublisher healer(reports.options());
    HostPortPublisher counting(PublisherOptions{.counters = true});  // the table counts from here on
    healer.publish_ports("mine", "10.88.0.2", std::vector{tcp(8080, 80)});
    for (int round = 0; round < 3; ++round) {
        INFO("round " << round);
        const auto port = static_cast<std::uint16_t>(9000 + round);
        const auto before = reports.size();
        counting.publish_ports("other", "10.88.0.3", std::vector{tcp(port, port)});
        nft({"delete", "element", "ip", "warren", "ports", "{ tcp . " + std::to_string(port) + " }"});
        const auto repairs = reports.wait_for(before + 1);
        REQUIRE(repairs.size() > before);
        CHECK(repairs.back().error.empty());
        CHECK(kernel_backends() == std::vector{KernelBackend{"10.88.0.2", "tcp", 80}});
        healer.publish_ports("mine", "10.88.0.2", std::vector{tcp(static_cast<std::uint16_t>(8080 + round + 1), 80)});
    }
    healer.unpublish_ports("mine");
    CHECK(kernel_ports().empty());
    CHECK(kernel_backends().empty());
}
