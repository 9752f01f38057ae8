// SPDX-License-Identifier: Apache-2.0
// warren-nft-agent (examples/agent), run as a background process in the test's fresh network
// namespace with a tasks file the test writes: what the file says is what the kernel publishes
// (read with nft) and what real traffic reaches; its /metrics, scraped over HTTP and read with
// prometheus_client's parser, count those ports; SIGHUP reconciles the rewritten file exactly and
// leaves the table alone when the file is bad; it repairs `nft flush ruleset`; SIGTERM ends it with 0.
#include "cli_support.hpp"
#include "netns.hpp"
#include "nft_state.hpp"
#include "process.hpp"
#include "running_program.hpp"
#include "traffic.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace kt {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string from_environment(const char* name)
{
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
        FAIL(name << " is not set (meson test sets it)");
    return value;
}

// A tasks file in a directory of its own, removed with it.
class TasksFile {
public:
    explicit TasksFile(const json& tasks)
    {
        char dir[] = "/tmp/warren-agent-XXXXXX";
        REQUIRE(mkdtemp(dir) != nullptr);
        dir_ = dir;
        path_ = dir_ + "/tasks.json";
        write(tasks.dump(2));
    }
    ~TasksFile()
    {
        unlink(path_.c_str());
        rmdir(dir_.c_str());
    }
    TasksFile(const TasksFile&) = delete;
    TasksFile& operator=(const TasksFile&) = delete;

    void write(const std::string& text)
    {
        std::ofstream file(path_, std::ios::trunc);
        file << text;
        REQUIRE(file.good());
    }
    const std::string& path() const { return path_; }

private:
    std::string dir_, path_;
};

json port(const std::string& protocol, int host_port, int container_port, const std::string& name = "")
{
    return {
        {"protocol", protocol}, {"host_port", host_port}, {"container_port", container_port}, {"host_ip", ""}, {"name", name}};
}

// Vectors, not braced lists: a braced list of one json would be read as a copy of it, not an array.
json task(const std::string& id, const std::string& ip, std::vector<json> ports, const std::string& ipv6 = "")
{
    return {{"task_id", id}, {"container_ip", ip}, {"container_ipv6", ipv6}, {"ports", std::move(ports)}};
}

json tasks_file(std::vector<json> tasks) { return {{"tasks", std::move(tasks)}}; }

// What tables ip warren and ip6 warren hold when they publish exactly `tasks` (ports on every
// address), by family, as warren_tables() reads them with nft.
std::map<std::string, std::vector<KernelPort>> tables_for(const json& tasks)
{
    std::map<std::string, std::vector<KernelPort>> tables;
    for (const auto& t : tasks.at("tasks")) {
        const auto ip = t.at("container_ip").get<std::string>();
        const auto ipv6 = t.at("container_ipv6").get<std::string>();
        for (const auto& p : t.at("ports")) {
            const auto name = p.at("name").get<std::string>();
            const auto comment = "task=" + t.at("task_id").get<std::string>() + (name.empty() ? "" : " name=" + name);
            const auto add = [&](const std::string& family, const std::string& address) {
                tables[family].push_back({p.at("protocol"), p.at("host_port"), address, p.at("container_port"), comment});
            };
            add(ip.find(':') == std::string::npos ? "ip" : "ip6", ip);
            if (!ipv6.empty())
                add("ip6", ipv6);
        }
    }
    for (auto& [family, ports] : tables)
        std::sort(ports.begin(), ports.end());
    return tables;
}

std::map<std::string, std::vector<KernelPort>> published()
{
    std::map<std::string, std::vector<KernelPort>> tables;
    for (const auto& [family, table] : warren_tables())
        if (!table.ports.empty())
            tables[family] = table.ports;
    return tables;
}

// An answer of the agent's HTTP endpoint as scrape.py saw it; /metrics parsed by prometheus_client.
struct Scrape {
    json result;

    int status() const { return result.at("status"); }
    std::string content_type() const { return result.at("content_type"); }
    std::string body() const { return result.at("body"); }
    // The value of the sample `name` with exactly `labels`; fails the test when there is none.
    double sample(const std::string& name, const json& labels = json::object()) const
    {
        for (const auto& s : result.at("samples"))
            if (s.at(0) == name && s.at(1) == labels)
                return s.at(2);
        FAIL("no sample " << name << labels.dump() << " in:\n" << body());
        return 0;
    }
    std::string type(const std::string& family) const { return result.at("types").value(family, "(none)"); }
};

Scrape scrape(const std::string& url)
{
    Command command;
    command.argv = {from_environment("AGENT_PYTHON"), from_environment("AGENT_SCRAPE"), url};
    const auto run = sandbox::run(command);
    INFO(run.describe(command.argv));
    REQUIRE(run.exit_code == 0);
    return {json::parse(run.out)};
}

double ports_gauge(const Scrape& metrics, const std::string& family, const std::string& protocol)
{
    return metrics.sample("warren_nft_ports_published", {{"family", family}, {"protocol", protocol}});
}

// warren-nft-agent TASKS_FILE OPTIONS..., once it has reconciled the file at start.
class AgentProcess : public RunningProgram {
public:
    explicit AgentProcess(const TasksFile& file, std::vector<std::string> options = {"--listen", "127.0.0.1:9646"})
        : RunningProgram(arguments(file, std::move(options)))
    {
        const auto line = next_log(starting_with("warren-nft-agent: reconciled"));
        CHECK(line.starts_with("warren-nft-agent: reconciled: "));
    }

    // The next line of its log (standard error) that `matches`.
    std::string next_log(const std::function<bool(const std::string&)>& matches) { return next_line(matches, 10s, Stream::err); }

private:
    static std::vector<std::string> arguments(const TasksFile& file, std::vector<std::string> options)
    {
        options.insert(options.begin(), {from_environment("WARREN_NFT_AGENT"), file.path()});
        return options;
    }
};

const std::string metrics_url = "http://127.0.0.1:9646/metrics";

}  // namespace

TEST_CASE_METHOD(FreshNetns,
                 "the agent publishes the tasks file, traffic flows, /metrics counts its ports, SIGTERM ends it with 0",
                 "[agent][traffic][metrics]")
{
    const Topology net;
    EchoServer web(net.container, Transport::tcp, 8080, "web");
    const json tasks =
        tasks_file({task("web-1", Topology::container_ip, {port("tcp", 18080, 8080, "http"), port("udp", 15353, 53, "dns")}),
                    task("api-1", "10.88.0.7", {port("tcp", 18081, 81)})});
    TasksFile file(tasks);
    AgentProcess agent(file);
    CHECK(agent.err().find("warren-nft-agent: serving http://127.0.0.1:9646/metrics and /healthz\n") != std::string::npos);
    CHECK(agent.err().find("warren-nft-agent: reconciled: 2 task(s) with 3 port(s) published\n") != std::string::npos);

    const auto expected = tables_for(tasks);
    REQUIRE(expected.size() == 1);
    CHECK(published() == expected);
    CHECK(answer(net, 18080, "hello") == "web:hello");

    const auto metrics = scrape(metrics_url);
    CHECK(metrics.status() == 200);
    CHECK(metrics.content_type() == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(metrics.type("warren_nft_ports_published") == "gauge");
    CHECK(ports_gauge(metrics, "ipv4", "tcp") == 2);
    CHECK(ports_gauge(metrics, "ipv4", "udp") == 1);
    CHECK(metrics.type("warren_nft_batches") == "counter");
    CHECK(metrics.sample("warren_nft_batches_total") >= 1);
    CHECK(metrics.type("warren_nft_publish_duration_seconds") == "histogram");

    CHECK(agent.stop(SIGTERM) == 0);
    INFO("stderr: " << agent.err());
    CHECK(agent.err().ends_with("warren-nft-agent: stopping on SIGTERM; the published ports stay as they are\n"));
    CHECK(agent.out().empty());
    CHECK(published() == expected);  // stopping removes nothing
    CHECK(answer(net, 18080, "after stop") == "web:after stop");
}

TEST_CASE_METHOD(FreshNetns, "on SIGHUP the agent reconciles the table to the rewritten file, exactly", "[agent][metrics]")
{
    const json first = tasks_file({task("a", "10.88.0.2", {port("tcp", 8080, 80, "web"), port("tcp", 8443, 443)}),
                                   task("b", "10.88.0.3", {port("udp", 5353, 53)})});
    TasksFile file(first);
    AgentProcess agent(file);
    CHECK(published() == tables_for(first));

    // a: one port gone, one re-targeted and renamed; b gone; c new and dual-stack.
    const json second = tasks_file({task("a", "10.88.0.2", {port("tcp", 8080, 8000, "web2")}),
                                    task("c", "10.88.0.4", {port("tcp", 9090, 90), port("sctp", 3868, 3868)}, "fd00:88::4")});
    file.write(second.dump());
    agent.send(SIGHUP);
    CHECK(agent.next_log(starting_with("warren-nft-agent: SIGHUP")) ==
          "warren-nft-agent: SIGHUP: reconciling 2 task(s) with 3 port(s)");
    CHECK(agent.next_log(starting_with("warren-nft-agent: reconciled")) ==
          "warren-nft-agent: reconciled: 2 task(s) with 3 port(s) published");
    const auto expected = tables_for(second);
    REQUIRE(expected.size() == 2);
    CHECK(published() == expected);

    const auto metrics = scrape(metrics_url);
    CHECK(ports_gauge(metrics, "ipv4", "tcp") == 2);
    CHECK(ports_gauge(metrics, "ipv4", "sctp") == 1);
    CHECK(ports_gauge(metrics, "ipv6", "tcp") == 1);
    CHECK(ports_gauge(metrics, "ipv6", "sctp") == 1);

    // An empty list unpublishes everything.
    file.write(R"({"tasks": []})");
    agent.send(SIGHUP);
    agent.next_log(starting_with("warren-nft-agent: reconciled: 0 task(s) with 0 port(s) published"));
    CHECK(published().empty());
    CHECK(agent.stop(SIGINT) == 0);
    CHECK(agent.err().ends_with("warren-nft-agent: stopping on SIGINT; the published ports stay as they are\n"));
}

TEST_CASE_METHOD(FreshNetns, "the agent repairs nft flush ruleset, logs it and counts it", "[agent][traffic][heal]")
{
    const Topology net;
    EchoServer web(net.container, Transport::tcp, 8080, "web");
    const json tasks = tasks_file({task("web-1", Topology::container_ip, {port("tcp", 18080, 8080, "http")})});
    TasksFile file(tasks);
    AgentProcess agent(file);
    const auto before = scrape(metrics_url);

    nft({"flush", "ruleset"});
    const auto line = agent.next_log(starting_with("warren-nft-agent: repair"));
    INFO(line);
    CHECK(line.starts_with("warren-nft-agent: repaired in "));
    CHECK(line.find(": 1 port(s) and the layout restored; damage: ") != std::string::npos);
    CHECK(line.find("table ip warren deleted (generation ") != std::string::npos);
    CHECK(published() == tables_for(tasks));
    CHECK(answer(net, 18080, "healed") == "web:healed");

    const auto after = scrape(metrics_url);
    CHECK(after.sample("warren_nft_repairs_total") > before.sample("warren_nft_repairs_total"));
    CHECK(after.sample("warren_nft_repair_duration_seconds_count") > before.sample("warren_nft_repair_duration_seconds_count"));
    CHECK(agent.stop(SIGTERM) == 0);
}

TEST_CASE_METHOD(FreshNetns, "a bad tasks file on SIGHUP changes nothing, and the agent keeps the last good one", "[agent]")
{
    const json good =
        tasks_file({task("a", "10.88.0.2", {port("tcp", 8080, 80)}), task("b", "10.88.0.3", {port("tcp", 8081, 81)})});
    TasksFile file(good);
    AgentProcess agent(file);
    const auto table = ruleset();
    REQUIRE(published() == tables_for(good));

    struct Bad {
        std::string text;
        std::string logged;
    };
    const std::vector<Bad> bad_files = {
        {"{\"tasks\": [", ": not JSON: "},
        {R"({"tasks": {}})", ": /tasks: expected an array, found object"},
        {R"({"tasks": [], "extra": 1})", ": /: unknown key \"extra\""},
        {R"({"tasks": [{"task_id": "a", "container_ip": "10.88.0.2"}]})", ": /tasks/0: missing key \"ports\""},
        {tasks_file({task("a", "10.88.0.2", {port("tcp", 70000, 80)})}).dump(),
         ": /tasks/0/ports/0/host_port: expected a port number from 1 to 65535, found 70000"},
        {tasks_file({task("a", "10.88.0.2", {port("icmp", 8080, 80)})}).dump(),
         ": /tasks/0/ports/0/protocol: expected \"tcp\", \"udp\" or \"sctp\", found \"icmp\""},
    };
    for (const auto& bad : bad_files) {
        INFO(bad.text);
        file.write(bad.text);
        agent.send(SIGHUP);
        const auto line = agent.next_log(starting_with("warren-nft-agent: SIGHUP"));
        CHECK(line.starts_with("warren-nft-agent: SIGHUP: " + file.path() + bad.logged));
        CHECK(line.ends_with("; nothing changed, the last good tasks stay published"));
        CHECK(ruleset() == table);
    }

    // Well-formed, but the publisher refuses it: an address that is none, two tasks on one host port.
    const std::vector<json> refused_files = {
        tasks_file({task("a", "10.88.0.300", {port("tcp", 8080, 80)})}),
        tasks_file({task("a", "10.88.0.2", {port("tcp", 8080, 80)}), task("c", "10.88.0.4", {port("tcp", 8080, 80)})})};
    for (const auto& refused : refused_files) {
        INFO(refused.dump());
        file.write(refused.dump());
        agent.send(SIGHUP);
        agent.next_log(starting_with("warren-nft-agent: not reconciled, nothing changed: "));
        CHECK(ruleset() == table);
    }

    // The last good tasks are still the ones kept.
    nft({"flush", "ruleset"});
    agent.next_log(starting_with("warren-nft-agent: repaired in "));
    CHECK(published() == tables_for(good));
    CHECK(agent.stop(SIGTERM) == 0);
}

TEST_CASE_METHOD(FreshNetns, "the agent's HTTP endpoint: /healthz, 404, an IPv6 address, one agent per address",
                 "[agent][metrics]")
{
    const json tasks = tasks_file({task("a", "10.88.0.2", {port("tcp", 8080, 80)})});
    TasksFile file(tasks);
    AgentProcess agent(file, {"--listen", "[::1]:9700"});
    CHECK(agent.err().find("warren-nft-agent: serving http://[::1]:9700/metrics and /healthz\n") != std::string::npos);

    const auto health = scrape("http://[::1]:9700/healthz");
    CHECK(health.status() == 200);
    CHECK(health.body() == "ok\n");
    const auto missing = scrape("http://[::1]:9700/nothing");
    CHECK(missing.status() == 404);
    CHECK(scrape("http://[::1]:9700/metrics?name=x").status() == 200);
    CHECK(ports_gauge(scrape("http://[::1]:9700/metrics"), "ipv4", "tcp") == 1);

    // A second agent on the same address fails to start, and changes nothing.
    const auto table = ruleset();
    TasksFile other(tasks_file({task("z", "10.88.0.9", {port("tcp", 9999, 99)})}));
    Command second;
    second.argv = {from_environment("WARREN_NFT_AGENT"), other.path(), "--listen", "[::1]:9700"};
    const auto result = sandbox::run(second);
    INFO(result.describe(second.argv));
    CHECK(result.exit_code == 1);
    CHECK(result.err.starts_with("warren-nft-agent: cannot listen on [::1]:9700: "));
    CHECK(ruleset() == table);
    CHECK(agent.stop(SIGTERM) == 0);
}

TEST_CASE_METHOD(FreshNetns, "the agent refuses bad arguments and a bad file at start, before anything changes", "[agent]")
{
    TasksFile good(tasks_file({task("a", "10.88.0.2", {port("tcp", 8080, 80)})}));
    TasksFile bad(json{{"tasks", "web-1"}});
    const auto agent = from_environment("WARREN_NFT_AGENT");
    struct Case {
        std::vector<std::string> args;
        int status;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{}, 2, "warren-nft-agent: TASKS_FILE is required; see 'warren-nft-agent --help'\n"},
        {{good.path(), "--listen", "localhost:9646"},
         2,
         "warren-nft-agent: --listen \"localhost:9646\": expected ADDRESS:PORT, as 127.0.0.1:9646 or [::1]:9646, with a "
         "port from 0 to 65535\n"},
        {{good.path(), "--listen", "127.0.0.1:65536"}, 2, "warren-nft-agent: --listen \"127.0.0.1:65536\": expected"},
        {{good.path(), "--listen", "::1:9646"}, 2, "warren-nft-agent: --listen \"::1:9646\": expected"},
        {{good.path(), "--bogus"}, 2, "warren-nft-agent: The following argument was not expected: --bogus"},
        {{bad.path()}, 1, "warren-nft-agent: " + bad.path() + ": /tasks: expected an array, found string; nothing changed\n"},
        {{"/nonexistent/tasks.json"},
         1,
         "warren-nft-agent: /nonexistent/tasks.json: cannot open: No such file or directory; nothing changed\n"},
    };
    for (const auto& c : cases) {
        Command command;
        command.argv = c.args;
        command.argv.insert(command.argv.begin(), agent);
        const auto result = sandbox::run(command);
        INFO(result.describe(command.argv));
        CHECK(result.exit_code == c.status);
        CHECK(result.err.starts_with(c.message));
        CHECK(tables().empty());
    }
}

}  // namespace kt
