// SPDX-License-Identifier: Apache-2.0
// Transactions larger than the netlink socket can send at once: the socket raises its send buffer
// where it may; where it may not (SO_SNDBUFFORCE refused, as in a user namespace: here simulated
// with KernelBackend::Options::send_buffer_limit, which behaves like a small net.core.wmem_max),
// the steps that need no atomicity go in parts and the table ends complete, and a transaction that
// must stay whole is refused before anything is sent.
#include "support.hpp"

#include "netlink/kernel_backend.hpp"
#include "publisher/publisher_on.hpp"
#include "netlink/socket.hpp"
#include "ruleset/forwarding_backend.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

using namespace kt;
using namespace std::chrono_literals;
namespace rs = warren::nft::ruleset;
using warren::nft::netlink::Socket;
using KernelBackendImpl = warren::nft::netlink::KernelBackend;  // kt::KernelBackend is a backends element

namespace {

// Linux's default net.core.wmem_max: what a publisher in a user namespace gets on a stock host.
constexpr std::size_t default_wmem_max = 212992;

// The kernel backend with its send buffer limited as by net.core.wmem_max = `wmem_max`, counting
// the transactions it commits.
class LimitedBackend final : public rs::ForwardingBackend {
public:
    explicit LimitedBackend(std::size_t wmem_max)
        : LimitedBackend(std::make_unique<KernelBackendImpl>(KernelBackendImpl::Options{wmem_max}))
    {
    }
    using Backend::commit;
    void commit(const rs::Commit& tx, std::optional<std::uint32_t> generation) override
    {
        next_.commit(tx, generation);
        if (!tx.empty())
            ++*commits;
    }

    std::shared_ptr<std::atomic<int>> commits = std::make_shared<std::atomic<int>>(0);

private:
    explicit LimitedBackend(std::unique_ptr<KernelBackendImpl> kernel) : ForwardingBackend(*kernel), kernel_(std::move(kernel)) {}
    std::unique_ptr<KernelBackendImpl> kernel_;
};

// `count` tasks of one port each, every one to its own destination (so a table that counts holds
// one backends element per task).
std::vector<warren::nft::TaskPorts> one_port_tasks(int count)
{
    std::vector<warren::nft::TaskPorts> tasks;
    for (int i = 0; i < count; ++i) {
        const auto port = static_cast<std::uint16_t>(10000 + i);
        tasks.push_back({"task-" + std::to_string(i), "10.88.0.2", {tcp(port, port)}});
    }
    return tasks;
}

std::vector<KernelBackend> backends_of(const std::vector<warren::nft::TaskPorts>& tasks)
{
    std::vector<KernelBackend> out;
    for (const auto& task : tasks)
        for (const auto& port : task.ports)
            out.push_back(KernelBackend{task.container_ip, "tcp", port.container_port});
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<KernelPort> ports_of(const std::vector<warren::nft::TaskPorts>& tasks)
{
    std::vector<KernelPort> out;
    for (const auto& task : tasks)
        for (const auto& port : task.ports)
            out.push_back(kernel_port(task.task_id, task.container_ip, port));
    std::sort(out.begin(), out.end());
    return out;
}

// A transaction of `elements` set elements in a new table, for the backend alone.
rs::Transaction many_elements(const rs::Table& table, int elements)
{
    const rs::Set set{"s", {{7, 4}}, {}, false, 1};
    rs::Transaction tx(table);
    tx.add(table).add(set);
    for (int i = 0; i < elements; ++i)
        tx.add(rs::Element{"s", {10, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}, {}, "", 0, 0});
    return tx;
}

void check_too_large(const Error& e)
{
    INFO(describe(e));
    CHECK(e.code() == errc::kernel_error);
    CHECK(e.kernel_errno() == EMSGSIZE);
    const std::string what = e.what();
    CHECK(what.find("net.core.wmem_max") != std::string::npos);
    CHECK(what.find("sysctl -w net.core.wmem_max=") != std::string::npos);
    CHECK(what.find("bytes at once") != std::string::npos);
    CHECK(what.find("nothing was changed") != std::string::npos);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "the netlink socket raises its send buffer for a batch that does not fit, where it may",
                 "[bigbatch]")
{
    Socket socket;
    const auto before = socket.send_capacity();
    REQUIRE(before > 0);
    CHECK(socket.make_room(before));
    if (!socket.send_buffer_forced()) {
        WARN("skipped: SO_SNDBUFFORCE is refused here (no CAP_NET_ADMIN in the initial user namespace): raising is not tested");
    } else {
        const std::size_t larger = before + 4 * 1024 * 1024;
        CHECK(socket.make_room(larger));
        CHECK(socket.send_capacity() >= larger);
    }
    // Limited like a socket that may not force its buffer: wmem_max doubled, less 32 bytes.
    socket.limit_send_buffer(16384);
    CHECK(socket.send_capacity() <= 2 * 16384 - 32);
    CHECK_FALSE(socket.make_room(2 * 16384));
    CHECK(socket.make_room(1000));
}

TEST_CASE_METHOD(FreshNetns, "a commit too large for the socket is refused before anything is sent", "[bigbatch]")
{
    const rs::Table table{rs::Family::ip, "big"};
    const auto tx = many_elements(table, 4000);
    KernelBackendImpl limited(KernelBackendImpl::Options{16384});
    CHECK_THROWS_AS(limited.commit(tx, std::nullopt), rs::TransactionTooLarge);
    check_too_large(expect_error([&] { limited.commit(tx, std::nullopt); }));
    CHECK(tables().empty());
    // The same transaction through a socket that may raise its buffer (or whose wmem_max suffices).
    KernelBackendImpl unlimited;
    unlimited.commit(tx, std::nullopt);
    const auto snapshot = unlimited.snapshot(table, {}, std::vector<std::string>{"s"});
    CHECK(snapshot.elements.at("s").size() == 4000);
}

TEST_CASE_METHOD(FreshNetns, "backends elements too many for one batch follow the change in batches of their own", "[bigbatch]")
{
    // Wide enough for a change and the layout, far too narrow for 3000 backends elements.
    constexpr std::size_t narrow = 16384;
    const auto tasks = one_port_tasks(3000);
    SECTION("a counters upgrade of a large table")
    {
        if (tables_always_count()) {
            WARN("skipped: every table counts on this kernel (no lookups in a map alone), so none is upgraded to counters");
            return;
        }
        HostPortPublisher().reconcile(tasks);
        REQUIRE_FALSE(kernel_has_backends());
    }
    SECTION("a backends set emptied behind the publisher's back")
    {
        HostPortPublisher(PublisherOptions{.counters = true}).reconcile(tasks);
        REQUIRE(kernel_backends().size() == tasks.size());
        nft({"flush", "set", "ip", "warren", "backends"});
    }
    std::vector<std::string> warnings;
    PublisherOptions options{.counters = true};
    options.logger = [&](warren::nft::LogLevel level, std::string_view message) {
        if (level >= warren::nft::LogLevel::warning)
            warnings.emplace_back(message);
    };
    auto backend = std::make_unique<LimitedBackend>(narrow);
    const auto commits = backend->commits;
    auto publisher = warren::nft::publisher_on(std::move(backend), options);
    publisher.publish_ports("one-more", "10.88.0.3", std::vector{tcp(8080, 80)});
    CHECK(warnings.empty());
    CHECK(*commits > 2);  // the change, then the backends elements in several parts
    auto all = tasks;
    all.push_back({"one-more", "10.88.0.3", {tcp(8080, 80)}});
    CHECK(kernel_backends_counted());
    CHECK(kernel_backends() == backends_of(all));
    CHECK(kernel_ports() == ports_of(all));
    // The view knows the table complete: the next change sends no refill.
    CHECK(publisher.all_published_ports().size() == all.size());
    publisher.unpublish_ports("one-more");
    CHECK(kernel_backends() == backends_of(tasks));
}

TEST_CASE_METHOD(FreshNetns, "a self-healing publisher restores a large deleted table in groups of whole tasks",
                 "[bigbatch][heal]")
{
    const auto tasks = one_port_tasks(3000);
    HostPortPublisher().reconcile(tasks);
    std::mutex mutex;
    std::vector<warren::nft::RepairReport> reports;
    PublisherOptions options{.self_heal = true};
    options.on_repair = [&](const warren::nft::RepairReport& report) {
        std::lock_guard lock(mutex);
        reports.push_back(report);
    };
    auto backend = std::make_unique<LimitedBackend>(16384);
    const auto commits = backend->commits;
    auto publisher = warren::nft::publisher_on(std::move(backend), options);
    REQUIRE(publisher.all_published_ports().size() == tasks.size());
    nft({"delete", "table", "ip", "warren"});
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    bool restored = false;
    while (!restored && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
        restored = warren_table_exists() && kernel_ports().size() == tasks.size();
    }
    {
        std::lock_guard lock(mutex);
        for (const auto& report : reports)
            INFO("repair: " << report.damage << (report.error.empty() ? "" : " error: " + report.error));
        for (const auto& report : reports)
            CHECK(report.error.empty());
    }
    REQUIRE(restored);
    CHECK(*commits > 1);  // in groups
    CHECK(kernel_ports() == ports_of(tasks));
    CHECK(warren_table().find("DNAT published host ports") != std::string::npos);
    if (tables_always_count())
        CHECK(kernel_backends() == backends_of(tasks));
}

TEST_CASE_METHOD(FreshNetns, "a transaction that must stay whole is refused when too large and changes nothing", "[bigbatch]")
{
    HostPortPublisher().publish_ports("existing", "10.88.0.2", std::vector{tcp(80, 80)});
    const auto before = warren_table();
    // 512 ports, the most one request may hold, with the longest names, through a socket that sends
    // at most about 32 KiB.
    std::vector<PortMapping> ports;
    for (int i = 0; i < 512; ++i) {
        const auto port = static_cast<std::uint16_t>(20000 + i);
        ports.push_back(tcp(port, port, std::string(32, 'n')));
    }
    auto publisher = warren::nft::publisher_on(std::make_unique<LimitedBackend>(16384));
    const std::string task(64, 't');
    SECTION("a publish")
    {
        check_too_large(expect_error([&] { publisher.publish_ports(task, "10.88.0.3", ports); }));
    }
    SECTION("a reconcile")
    {
        auto tasks = one_port_tasks(1000);
        tasks.push_back({"existing", "10.88.0.2", {tcp(80, 80)}});
        check_too_large(expect_error([&] { publisher.reconcile(tasks); }));
    }
    CHECK(warren_table() == before);
    CHECK(publisher.all_published_ports().size() == 1);
    // A publish of ordinary size still goes through the same socket.
    publisher.publish_ports("small", "10.88.0.3", std::vector{tcp(8080, 80)});
    CHECK(kernel_ports().size() == 2);
}

TEST_CASE_METHOD(FreshNetns, "the largest request fits the send buffer of Linux's default net.core.wmem_max", "[bigbatch]")
{
    // 512 ports on every address of both families, the longest task id and names, with counters:
    // 1024 ports map elements and 1024 backends elements, and the creation of both tables.
    std::vector<PortMapping> ports;
    for (int i = 0; i < 512; ++i) {
        const auto port = static_cast<std::uint16_t>(20000 + i);
        ports.push_back(tcp(port, port, std::string(32, 'n')));
    }
    auto backend = std::make_unique<LimitedBackend>(default_wmem_max);
    const auto commits = backend->commits;
    auto publisher = warren::nft::publisher_on(std::move(backend), PublisherOptions{.counters = true});
    const std::string task(64, 't');
    publisher.publish_ports(task, warren::nft::ContainerAddresses{"10.88.0.3", "fd00::3"}, ports);
    CHECK(*commits == 1);  // in one transaction, not split
    CHECK(publisher.published_ports(task).size() == 512);
    CHECK(kernel_ports().size() == 512);
    publisher.unpublish_ports(task);
    CHECK(kernel_ports().empty());
}
