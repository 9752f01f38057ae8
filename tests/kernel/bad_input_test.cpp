// SPDX-License-Identifier: Apache-2.0
// Invalid requests are refused with errc::invalid_argument before anything reaches the kernel.
#include "support.hpp"

#include <functional>

using namespace kt;
using Catch::Matchers::Contains;

namespace {

PortMapping allowing(std::string source, PortMapping mapping)
{
    mapping.access.allow = {std::move(source)};
    return mapping;
}

struct BadRequest {
    std::string what;
    std::string task;
    std::string ip;
    std::vector<PortMapping> ports;
    std::string message_part;  // the error message must mention this ("" = anything)
};

PortMapping with_mode(PortMapping m, PublishMode mode)
{
    m.publish_mode = mode;
    return m;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "invalid input is invalid_argument and changes nothing", "[validation]")
{
    HostPortPublisher publisher;
    publisher.publish_ports("task-a", "10.88.0.2", std::vector{tcp(8080, 80, "web")});
    const auto before = ruleset();
    const std::vector<PortMapping> ok = {tcp(9000, 90)};

    std::vector<PortMapping> too_many;
    for (int i = 1; i <= static_cast<int>(HostPortPublisher::max_ports_per_request) + 1; ++i)
        too_many.push_back(tcp(static_cast<std::uint16_t>(20000 + i), 80));

    const std::vector<BadRequest> requests = {
        {"empty task id", "", "10.88.0.3", ok, ""},
        {"over-long task id", std::string(HostPortPublisher::max_task_id_length + 1, 't'), "10.88.0.3", ok, ""},
        {"quote in task id", "task\"b", "10.88.0.3", ok, ""},
        {"backslash in task id", "task\\b", "10.88.0.3", ok, ""},
        {"space in task id", "task b", "10.88.0.3", ok, ""},
        {"newline in task id", "task\nb", "10.88.0.3", ok, ""},
        {"control character in task id",
         std::string("task\x01"
                     "b"),
         "10.88.0.3", ok, ""},
        {"NUL in task id", std::string("task\0b", 6), "10.88.0.3", ok, ""},
        {"comment injection in task id", "x name=evil", "10.88.0.3", ok, ""},
        {"quote in port name", "task-b", "10.88.0.3", std::vector{tcp(9000, 90, "we\"b")}, ""},
        {"over-long port name", "task-b", "10.88.0.3",
         std::vector{tcp(9000, 90, std::string(HostPortPublisher::max_name_length + 1, 'n'))}, ""},
        {"three-part address", "task-b", "10.0.0", ok, ""},
        {"octet out of range", "task-b", "256.1.1.1", ok, ""},
        {"empty address", "task-b", "", ok, ""},
        {"address with trailing junk", "task-b", "10.88.0.3 ", ok, ""},
        {"host name", "task-b", "localhost", ok, ""},
        {"IPv6 loopback", "task-b", "::1", ok, "cannot receive forwarded traffic"},
        {"IPv6 link-local", "task-b", "fe80::3", ok, "cannot receive forwarded traffic"},
        {"IPv4-mapped IPv6", "task-b", "::ffff:10.88.0.3", ok, "cannot receive forwarded traffic"},
        {"IPv6 host address without an IPv6 container address", "task-b", "10.88.0.3", std::vector{on("fd00::1", tcp(9000, 90))},
         "no IPv6 container address"},
        {"IPv6 loopback host address", "task-b", "fd00::3", std::vector{on("::1", tcp(9000, 90))}, "cannot NAT"},
        {"allowed source not a CIDR", "task-b", "10.88.0.3", std::vector{allowing("10.0.0.0/33", tcp(9000, 90))}, "10.0.0.0/33"},
        {"allow-list without a source of the port's family", "task-b", "fd00::3",
         std::vector{allowing("10.0.0.0/8", tcp(9000, 90))}, "no IPv6 source"},
        {"container port 0", "task-b", "10.88.0.3", std::vector{tcp(9000, 0)}, ""},
        {"duplicate host port", "task-b", "10.88.0.3", std::vector{tcp(9000, 90), tcp(9001, 91), tcp(9000, 92)}, "9000"},
        {"ingress mode", "task-b", "10.88.0.3", std::vector{with_mode(tcp(9000, 90), PublishMode::ingress)}, "ingress"},
        {"unknown protocol", "task-b", "10.88.0.3",
         std::vector{PortMapping{9000, 90, static_cast<Protocol>(42), PublishMode::host, {}}}, ""},
        {"no ports", "task-b", "10.88.0.3", {}, ""},
        {"too many ports", "task-b", "10.88.0.3", too_many, ""},
        // One bad port among good ones refuses the whole request.
        {"invalid port among valid ones", "task-b", "10.88.0.3", std::vector{tcp(9000, 90), udp(53, 0)}, ""},
    };

    for (const auto& request : requests) {
        INFO("request: " << request.what);
        const auto e = expect_error([&] { publisher.publish_ports(request.task, request.ip, request.ports); });
        INFO(describe(e));
        CHECK(e.code() == errc::invalid_argument);
        CHECK(e.kernel_errno() == 0);
        if (!request.message_part.empty())
            CHECK_THAT(e.what(), Contains(request.message_part));
        CHECK(ruleset() == before);
    }

    // The other calls check the task id too.
    for (const std::string& task : {std::string(), std::string("bad\"id"), std::string(65, 'x')}) {
        INFO("task id: " << task);
        CHECK(expect_error([&] { publisher.unpublish_ports(task); }).code() == errc::invalid_argument);
        CHECK(expect_error([&] { (void)publisher.published_ports(task); }).code() == errc::invalid_argument);
    }
    CHECK(ruleset() == before);
    CHECK(publisher.published_ports("task-a") == std::vector{tcp(8080, 80, "web")});
}

TEST_CASE_METHOD(FreshNetns, "the longest allowed task id and name reach the kernel intact", "[validation]")
{
    HostPortPublisher publisher;
    const std::string task(HostPortPublisher::max_task_id_length, 'T');
    const std::string name(HostPortPublisher::max_name_length, 'n');
    const std::vector<PortMapping> ports = {tcp(8080, 80, name)};
    publisher.publish_ports(task, "10.88.0.2", ports);
    CHECK(kernel_ports() == std::vector{kernel_port(task, "10.88.0.2", ports[0])});
    HostPortPublisher other;
    CHECK(other.published_ports(task) == ports);
}
