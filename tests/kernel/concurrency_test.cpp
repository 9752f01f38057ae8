// SPDX-License-Identifier: Apache-2.0
// Concurrency: many threads on one publisher, and two processes with their own publishers racing
// each other; the kernel must end up with exactly the expected elements, none lost or doubled.
#include "support.hpp"

#include <unistd.h>

#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using namespace kt;

namespace {

std::string container_ip(int a, int b) { return "10.88." + std::to_string(a) + "." + std::to_string(b + 1); }

}  // namespace

TEST_CASE_METHOD(FreshNetns, "many threads publishing and unpublishing on one publisher", "[concurrency]")
{
    constexpr int thread_count = 8;
    constexpr int tasks_per_thread = 12;
    // With counters, every transaction also adds and deletes destination elements.
    const bool counters = GENERATE(false, true);
    HostPortPublisher publisher(PublisherOptions{.counters = counters});

    std::mutex mutex;
    std::vector<std::string> errors;
    std::vector<KernelPort> expected;
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < tasks_per_thread; ++i) {
                const std::string task = "thread" + std::to_string(t) + "-task" + std::to_string(i);
                const std::string ip = container_ip(t, i);
                const auto port = static_cast<std::uint16_t>(10000 + t * 100 + i);
                try {
                    std::vector<PortMapping> ports = {tcp(port, 80, "web"), udp(port, 53)};
                    publisher.publish_ports(task, ip, ports);
                    if (i % 3 == 0) {
                        publisher.unpublish_ports(task);
                        ports.clear();
                    } else if (i % 3 == 1) {  // replaced by another port
                        ports = {tcp(static_cast<std::uint16_t>(port + 5000), 8080)};
                        publisher.publish_ports(task, ip, ports);
                    }
                    std::lock_guard lock(mutex);
                    for (const auto& p : ports)
                        expected.push_back(kernel_port(task, ip, p));
                } catch (const std::exception& e) {
                    std::lock_guard lock(mutex);
                    errors.push_back(task + ": " + e.what());
                }
            }
        });
    }
    for (auto& thread : threads)
        thread.join();

    INFO([&] {
        std::string all;
        for (const auto& e : errors)
            all += e + "\n";
        return all;
    }());
    CHECK(errors.empty());
    std::sort(expected.begin(), expected.end());
    const auto actual = kernel_ports();
    CHECK(actual.size() == expected.size());
    CHECK(actual == expected);
    CHECK(publisher.all_published_ports().size() == expected.size());

    std::set<KernelBackend> backends;
    for (const auto& p : expected)
        backends.insert(KernelBackend{p.container_ip, p.protocol, p.container_port});
    check_backends(counters, std::vector<KernelBackend>(backends.begin(), backends.end()));
}

TEST_CASE_METHOD(FreshNetns, "two processes publishing concurrently, and racing for the same ports", "[concurrency][process]")
{
    constexpr int tasks = 20;
    int go[2];
    REQUIRE(pipe(go) == 0);

    // Each process publishes its own tasks and, after each, tries to take a contested port.
    const auto body = [&](int id) {
        return [=](int report) {
            close(go[1]);
            HostPortPublisher publisher;  // both construct (and may create the table) at once
            char byte;
            [[maybe_unused]] const auto ignored = read(go[0], &byte, 1);  // EOF: the parent says go
            int unexpected = 0;
            for (int i = 0; i < tasks; ++i) {
                const std::string task = "p" + std::to_string(id) + "-task" + std::to_string(i);
                try {
                    publisher.publish_ports(task, container_ip(id, i),
                                            std::vector{tcp(static_cast<std::uint16_t>(10000 + id * 1000 + i), 80)});
                    if (i % 4 == 0)
                        publisher.unpublish_ports(task);
                } catch (const std::exception& e) {
                    ++unexpected;
                    write_all(report, "error " + task + " " + e.what() + "\n");
                }
                const std::string racer = "p" + std::to_string(id) + "-race" + std::to_string(i);
                try {
                    publisher.publish_ports(racer, container_ip(id, 100 + i),
                                            std::vector{tcp(static_cast<std::uint16_t>(30000 + i), 80)});
                    write_all(report, "win " + std::to_string(i) + "\n");
                } catch (const Error& e) {
                    if (e.code() == errc::port_conflict) {
                        write_all(report, "conflict " + std::to_string(i) + "\n");
                    } else {
                        ++unexpected;
                        write_all(report, "error " + racer + " " + e.what() + "\n");
                    }
                }
            }
            return unexpected == 0 ? 0 : 1;
        };
    };
    ForkedChild p0(body(0));
    ForkedChild p1(body(1));
    close(go[0]);
    close(go[1]);  // both children start now

    const int status0 = p0.wait();
    const int status1 = p1.wait();
    INFO("process 0:\n" << p0.report() << "process 1:\n" << p1.report());
    CHECK(status0 == 0);
    CHECK(status1 == 0);

    // Exactly one winner per contested port, and the other process heard port_conflict.
    std::map<int, std::vector<int>> winners;
    std::map<int, int> conflicts;
    for (const auto& [id, report] : {std::pair{0, p0.report()}, std::pair{1, p1.report()}}) {
        std::istringstream lines(report);
        std::string word;
        int i = 0;
        while (lines >> word) {
            if (word == "win" && lines >> i)
                winners[i].push_back(id);
            else if (word == "conflict" && lines >> i)
                ++conflicts[i];
        }
    }
    std::vector<KernelPort> expected;
    for (int i = 0; i < tasks; ++i) {
        INFO("contested port " << 30000 + i);
        REQUIRE(winners[i].size() == 1);
        CHECK(conflicts[i] == 1);
        const int winner = winners[i].front();
        expected.push_back(KernelPort{"tcp", 30000 + i, container_ip(winner, 100 + i), 80,
                                      "task=p" + std::to_string(winner) + "-race" + std::to_string(i)});
        for (int id = 0; id < 2; ++id)
            if (i % 4 != 0)
                expected.push_back(KernelPort{"tcp", 10000 + id * 1000 + i, container_ip(id, i), 80,
                                              "task=p" + std::to_string(id) + "-task" + std::to_string(i)});
    }
    std::sort(expected.begin(), expected.end());
    const auto actual = kernel_ports();
    CHECK(actual.size() == expected.size());
    CHECK(actual == expected);

    // A publisher started now adopts exactly that.
    HostPortPublisher observer;
    CHECK(observer.all_published_ports().size() == expected.size());
}
