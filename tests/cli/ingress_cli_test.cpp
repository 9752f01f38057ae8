// SPDX-License-Identifier: Apache-2.0
// Ingress mode through the real warren-nft binary in a fresh network namespace (docs/cli.md):
// publish --ingress and its replace, drain, list and list --json against what nft shows, unpublish,
// bad backends and misuse refused with nothing changed, and host-mode and ingress ports conflicting
// both ways between separate warren-nft processes.
#include "cli_support.hpp"
#include "netns.hpp"
#include "nft_state.hpp"
#include "running_program.hpp"

#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace kt {
namespace {

using nlohmann::json;

const std::vector<std::string> publish_web{"publish",   "--ingress",     "--task",    "web",       "-p",
                                           "8080:80",   "--backend",     "10.88.0.5", "--backend", "10.89.0.6,weight=2",
                                           "--backend", "10.88.0.7:8080"};

json backend(const std::string& address, int port, int weight, const std::string& state = "active", json deadline = nullptr)
{
    return json{{"address", address}, {"port", port}, {"weight", weight}, {"state", state}, {"deadline", deadline}};
}

json ingress_port(const std::string& service, const std::string& protocol, int host_port, const std::string& family,
                  json backends)
{
    return json{{"task", service},
                {"protocol", protocol},
                {"host_port", host_port},
                {"container_ip", ""},
                {"container_port", 0},
                {"name", ""},
                {"packets", nullptr},
                {"bytes", nullptr},
                {"host_ip", ""},
                {"family", family},
                {"access", {{"allow", json::array()}, {"max_connections", 0}, {"rate", 0}, {"rate_unit", "second"}}},
                {"mode", "ingress"},
                {"backends", std::move(backends)}};
}

// How many times `needle` occurs in what nft lists of the family's ingress slot map.
std::size_t slots_of(const std::string& family, const std::string& needle)
{
    const auto listing = nft({"list", "map", family, "warren", "ingress"});
    std::size_t count = 0;
    for (auto at = listing.find(needle); at != std::string::npos; at = listing.find(needle, at + 1))
        ++count;
    return count;
}

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "publish --ingress with three backends, list shows them, publishing again replaces them",
                 "[cli][ingress]")
{
    const auto out = cli_ok(publish_web);
    INFO(out);
    CHECK(out.starts_with("SERVICE  FAMILY  PORT      BACKEND         WEIGHT  STATE   DEADLINE\n"));
    CHECK(line_words(out, "10.89.0.6:80") ==
          std::vector<std::string>{"web", "ipv4", "8080/tcp", "10.89.0.6:80", "2", "active", "-"});

    // What the kernel holds: the claim, one record per backend, the slots by weight (1:1:2).
    const auto table = warren_table();
    INFO(table);
    CHECK(table.find("tcp . 8080 comment \"task=web ingress\" : 0.0.0.0 . 0") != std::string::npos);
    CHECK(table.find("tcp . 8080 . 10.88.0.5 . 80 comment \"task=web weight=1\"") != std::string::npos);
    CHECK(table.find("tcp . 8080 . 10.88.0.7 . 8080 comment \"task=web weight=1\"") != std::string::npos);
    CHECK(table.find("tcp . 8080 . 10.89.0.6 . 80 comment \"task=web weight=2\"") != std::string::npos);
    CHECK(slots_of("ip", ": 10.88.0.5 . 80") == 64);
    CHECK(slots_of("ip", ": 10.88.0.7 . 8080") == 64);
    CHECK(slots_of("ip", ": 10.89.0.6 . 80") == 128);

    const auto listed = list_json();
    INFO(listed.dump(1));
    CHECK(listed ==
          json{ingress_port("web", "tcp", 8080, "ipv4",
                            {backend("10.88.0.5", 80, 1), backend("10.88.0.7", 8080, 1), backend("10.89.0.6", 80, 2)})});
    // Keys in the documented order, mode and backends last.
    CHECK(cli_ok({"list", "--json"}).find(R"("mode": "ingress",
    "backends": [)") != std::string::npos);

    // The host-mode table (empty here), then the services' backends.
    const auto text = cli_ok({"list"});
    INFO(text);
    CHECK(text ==
          "TASK  FAMILY  HOST  PORT  CONTAINER  NAME  PACKETS  BYTES  ACCESS\n"
          "\n"
          "SERVICE  FAMILY  PORT      BACKEND         WEIGHT  STATE   DEADLINE\n"
          "web      ipv4    8080/tcp  10.88.0.5:80         1  active  -\n"
          "web      ipv4    8080/tcp  10.88.0.7:8080       1  active  -\n"
          "web      ipv4    8080/tcp  10.89.0.6:80         2  active  -\n");
    CHECK(cli_ok({"list", "-q"}) == "web\n");

    // Host-mode ports and ingress ports in one listing, filtered together.
    cli_ok({"publish", "--task", "db", "--ip", "10.0.0.3", "-p", "5432:5432"});
    const auto both = list_json();
    REQUIRE(both.size() == 2);
    CHECK(both[0].at("mode") == "host");
    CHECK(both[0].at("backends") == json::array());
    CHECK(both[1].at("mode") == "ingress");
    CHECK(list_json({"--task", "web"}).size() == 1);
    CHECK(list_json({"--address", "10.89.0.6"}).size() == 1);
    CHECK(list_json({"--address", "10.0.0.3"}).size() == 1);
    CHECK(list_json({"--port", "8080", "--protocol", "udp"}).empty());
    CHECK(cli_ok({"list", "-q"}) == "db\nweb\n");

    // Publishing again replaces the backend set: one backend reweighted, one of IPv6 with its port.
    const auto replaced = cli_ok({"publish", "--ingress", "--task", "web", "-p", "8080:80", "--backend", "10.88.0.5,weight=3",
                                  "--backend", "[fd00::5]:8080", "--json"});
    const auto expected = json{ingress_port("web", "tcp", 8080, "ipv4", {backend("10.88.0.5", 80, 3)}),
                               ingress_port("web", "tcp", 8080, "ipv6", {backend("fd00::5", 8080, 1)})};
    CHECK(json::parse(replaced) == expected);
    CHECK(list_json({"--task", "web"}) == expected);
    const auto after = warren_table();
    INFO(after);
    CHECK(after.find("10.89.0.6") == std::string::npos);
    CHECK(after.find("10.88.0.7") == std::string::npos);
    CHECK(slots_of("ip", ": 10.88.0.5 . 80") == 256);
    CHECK(slots_of("ip6", ": fd00::5 . 8080") == 256);

    // unpublish removes the service from both tables and leaves the task.
    cli_ok({"unpublish", "--task", "web"});
    CHECK(list_json({"--task", "web"}).empty());
    CHECK(warren_table().find("task=web") == std::string::npos);
    CHECK(nft({"list", "table", "ip6", "warren"}).find("task=web") == std::string::npos);
    CHECK(slots_of("ip", ": 10.") == 0);
    CHECK(slots_of("ip6", ": fd00::") == 0);
    CHECK(list_json().size() == 1);
}

TEST_CASE_METHOD(FreshNetns, "drain marks a backend draining with its deadline; list shows it", "[cli][ingress]")
{
    cli_ok(publish_web);
    const auto before = unix_now();
    cli_ok({"drain", "--task", "web", "--backend", "10.88.0.5", "--deadline", "30m", "--no-wait"});
    const auto after = unix_now();

    const auto listed = list_json();
    INFO(listed.dump(1));
    REQUIRE(listed.size() == 1);
    const auto drained = listed[0].at("backends").at(0);
    CHECK(drained.at("address") == "10.88.0.5");
    CHECK(drained.at("state") == "draining");
    const auto deadline = drained.at("deadline").get<std::int64_t>();
    CHECK(deadline >= before + 1800);
    CHECK(deadline <= after + 1800);
    CHECK(listed[0].at("backends").at(1) == backend("10.88.0.7", 8080, 1));
    // The record says so, and the drained backend has no slot left (the others share them 1:2).
    CHECK(warren_table().find("tcp . 8080 . 10.88.0.5 . 80 comment \"task=web weight=1 draining until=" +
                              std::to_string(deadline) + "\"") != std::string::npos);
    CHECK(slots_of("ip", ": 10.88.0.5 . 80") == 0);
    CHECK(slots_of("ip", ": 10.88.0.7 . 8080") == 85);
    CHECK(slots_of("ip", ": 10.89.0.6 . 80") == 171);
    const auto text = cli_ok({"list"});
    INFO(text);
    const auto words = line_words(text, "10.88.0.5:80");
    REQUIRE(words.size() == 7);
    CHECK(words[5] == "draining");
    CHECK(words[6].size() == std::string("2026-12-04T22:05:00Z").size());
    CHECK(words[6].ends_with("Z"));

    // Without --deadline, none is recorded; --json prints the service.
    const auto out = cli_ok({"drain", "--task", "web", "--backend", "10.88.0.7:8080", "--json"});
    const auto service = json::parse(out);
    REQUIRE(service.size() == 1);
    CHECK(service[0].at("backends").at(1) == backend("10.88.0.7", 8080, 1, "draining"));
    CHECK(slots_of("ip", ": 10.89.0.6 . 80") == 256);

    // The last active backend cannot be drained (unpublish the service instead); nothing changes.
    const auto two_drained = ruleset();
    require_refused({"drain", "--task", "web", "--backend", "10.89.0.6"}, 2, {"10.89.0.6"});
    CHECK(ruleset() == two_drained);
    // Publishing the backend again makes it active.
    cli_ok(publish_web);
    const auto republished = list_json();
    REQUIRE(republished.size() == 1);
    for (const auto& each : republished[0].at("backends"))
        CHECK(each.at("state") == "active");
    CHECK(republished[0].at("backends").size() == 3);
}

// A TCP connection of a client to host port 8080 that DNAT sent to `backend` port 80, as conntrack
// holds it (inserted with the conntrack tool: no traffic needed).
void insert_connection(const std::string& backend, std::uint16_t client_port)
{
    const auto port = std::to_string(client_port);
    sandbox::check_output({"conntrack",
                           "-I",
                           "-p",
                           "tcp",
                           "-s",
                           "10.0.0.1",
                           "-d",
                           "10.0.0.2",
                           "--sport",
                           port,
                           "--dport",
                           "8080",
                           "--reply-src",
                           backend,
                           "--reply-dst",
                           "10.0.0.1",
                           "--reply-port-src",
                           "80",
                           "--reply-port-dst",
                           port,
                           "--state",
                           "ESTABLISHED",
                           "-u",
                           "SEEN_REPLY",
                           "-t",
                           "600"});
}

// The backends that answer the connections conntrack holds, as it lists them (src= of the reply).
std::string connections() { return sandbox::check_output({"conntrack", "-L", "-p", "tcp"}); }

TEST_CASE_METHOD(FreshNetns, "drain --deadline waits for the deadline and ends the drained backend's connections then",
                 "[cli][ingress][deadline]")
{
    cli_ok(publish_web);
    insert_connection("10.88.0.5", 40001);
    insert_connection("10.89.0.6", 40002);
    REQUIRE_THAT(connections(), Catch::Contains("src=10.88.0.5") && Catch::Contains("src=10.89.0.6"));

    const auto started = std::chrono::system_clock::now();
    const auto r = cli({"drain", "--task", "web", "--backend", "10.88.0.5", "--deadline", "2s"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    // It returned at the deadline (a whole second after the start at least), not before.
    CHECK(std::chrono::system_clock::now() - started >= std::chrono::seconds(1));
    CHECK_THAT(r.err, Catch::StartsWith("warren-nft: drain: 10.88.0.5 gets no new connections; waiting until "));
    const auto left = connections();
    INFO(left);
    CHECK_THAT(left, !Catch::Contains("src=10.88.0.5") && Catch::Contains("src=10.89.0.6"));
    // The backend stays draining, with its deadline.
    const auto listed = list_json();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].at("backends").at(0).at("state") == "draining");
    CHECK(listed[0].at("backends").at(0).at("deadline").is_number());
}

TEST_CASE_METHOD(FreshNetns, "drain --deadline stopped by SIGINT leaves the deadline to the next warren-nft command",
                 "[cli][ingress][deadline]")
{
    cli_ok(publish_web);
    insert_connection("10.88.0.5", 40001);
    {
        RunningProgram drain({warren_nft_path(), "drain", "--task", "web", "--backend", "10.88.0.5", "--deadline", "6s"});
        drain.next_line(starting_with("warren-nft: drain: "), std::chrono::seconds(5), RunningProgram::Stream::err);
        CHECK(drain.stop(SIGINT) == 0);
        INFO(drain.err());
        CHECK_THAT(drain.err(), Catch::Contains("stopped waiting for the deadline (SIGINT)"));
    }
    CHECK_THAT(connections(), Catch::Contains("src=10.88.0.5"));
    const auto listed = list_json();  // before the deadline: it is taken over, and dropped at the exit
    REQUIRE(listed.size() == 1);
    const auto deadline =
        std::chrono::sys_seconds(std::chrono::seconds(listed[0].at("backends").at(0).at("deadline").get<std::int64_t>()));
    std::this_thread::sleep_until(deadline + std::chrono::milliseconds(500));
    CHECK_THAT(connections(), Catch::Contains("src=10.88.0.5"));  // nobody was there to act
    // Any command made after the deadline acts on it (here one that only reads).
    cli_ok({"list"});
    CHECK_THAT(connections(), !Catch::Contains("src=10.88.0.5"));
}

TEST_CASE_METHOD(FreshNetns, "bad backends and misuse of publish --ingress and drain are refused and change nothing",
                 "[cli][ingress][usage]")
{
    cli_ok(publish_web);
    cli_ok({"publish", "--task", "db", "--ip", "10.0.0.3", "-p", "5432:5432"});
    const auto before = ruleset();
    const auto web = [](std::vector<std::string> extra) {
        std::vector<std::string> args{"publish", "--ingress", "--task", "web", "-p", "8080:80"};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    struct Bad {
        std::vector<std::string> args;
        int status;
        std::vector<std::string> words;
    };
    const std::vector<Bad> calls{
        {web({}), 2, {"publish --ingress needs --backend BACKEND"}},
        {{"publish", "--ingress", "--task", "web", "--backend", "10.88.0.5"}, 2, {"publish --ingress needs -p/--publish SPEC"}},
        {{"publish", "--ingress", "-p", "8080:80", "--backend", "10.88.0.5"}, 2, {"publish --ingress needs --task ID"}},
        {{"publish", "--task", "t", "--ip", "10.0.0.9", "-p", "8080:80", "--backend", "10.88.0.5"},
         2,
         {"--backend: only publish --ingress takes backends"}},
        {web({"--backend", "10.88.0.5", "--ip", "10.0.0.9"}), 2, {"publish --ingress takes no --ip", "--backend"}},
        {web({"--backend", "10.88.0.5", "--name", "x"}), 2, {"publish --ingress takes no --name"}},
        {web({"--backend", "10.88.0.5", "--add"}), 2, {"publish --ingress takes no --add"}},
        {web({"--backend", "10.88.0.5", "--allow", "10.0.0.0/8"}), 2, {"takes no --allow", "access policy"}},
        {web({"--backend", "10.88.0.5", "--max-connections", "5"}), 2, {"takes no --max-connections"}},
        {web({"--backend", "10.88.0.5", "--rate", "5/second"}), 2, {"takes no --rate"}},
        {web({"--backend", "10.88.0.5", "--skip-address-check"}), 2, {"takes no --skip-address-check"}},
        {{"publish", "--ingress", "--task", "web", "-p", "http=8080:80", "--backend", "10.88.0.5"},
         2,
         {"-p \"http=8080:80\"", "no name"}},
        {{"publish", "--ingress", "--task", "web", "-p", "10.0.0.1:8080:80", "--backend", "10.88.0.5"},
         2,
         {"-p \"10.0.0.1:8080:80\"", "leave HOST_IP out"}},
        {{"publish", "--ingress", "--task", "web", "-p", "80", "--backend", "10.88.0.5"},
         2,
         {"-p \"80\"", "needs its host port"}},
        {web({"--backend", "10.88.0.300"}), 2, {"--backend \"10.88.0.300\": ", "\"10.88.0.300\""}},
        {web({"--backend", "web-1"}), 2, {"--backend \"web-1\": "}},
        {web({"--backend", ""}), 2, {"--backend \"\": "}},
        {web({"--backend", "10.88.0.5:0"}), 2, {"--backend \"10.88.0.5:0\": ", "port \"0\"", "1 to 65535"}},
        {web({"--backend", "10.88.0.5:70000"}), 2, {"port \"70000\"", "1 to 65535"}},
        {web({"--backend", "10.88.0.5:http"}), 2, {"port \"http\""}},
        {web({"--backend", "10.88.0.5,weight=0"}), 2, {"--backend \"10.88.0.5,weight=0\": ", "weight \"0\"", "1 to 256"}},
        {web({"--backend", "10.88.0.5,weight=257"}), 2, {"weight \"257\"", "1 to 256"}},
        {web({"--backend", "10.88.0.5,weight="}), 2, {"weight \"\""}},
        {web({"--backend", "10.88.0.5,weight=99999999999999999999"}), 2, {"weight \"99999999999999999999\""}},
        {web({"--backend", "10.88.0.5,color=red"}), 2, {"unknown option \"color\"", "weight=W"}},
        {web({"--backend", "10.88.0.5,weight=2,weight=3"}), 2, {"weight is given twice"}},
        {web({"--backend", "10.88.0.5,"}), 2, {"an empty option after ','"}},
        {web({"--backend", "[fd00::5]8080"}), 2, {"followed by ':PORT'"}},
        {web({"--backend", "[fd00::5"}), 2, {"has no ']'"}},
        {web({"--backend", "10.88.0.5\x1b[2J"}), 2, {"\"10.88.0.5\\x1b[2J\""}},
        // The library's own checks, before anything is sent.
        {web({"--backend", "10.88.0.5", "--backend", "10.88.0.5"}), 2, {"10.88.0.5"}},
        {{"publish", "--ingress", "--task", "db", "-p", "8081:80", "--backend", "10.88.0.5"}, 2, {"\"db\""}},
        {{"drain", "--task", "web"}, 2, {"drain needs --backend BACKEND"}},
        {{"drain", "--backend", "10.88.0.5"}, 2, {"drain needs --task ID"}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5", "--backend", "10.88.0.7"}, 2, {"--backend takes one backend"}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5,weight=2"}, 2, {"--backend \"10.88.0.5,weight=2\": "}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5", "--deadline", "30"}, 2, {"--deadline: \"30\" has no unit", "30s"}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5", "--deadline", "1.5h"}, 2, {"--deadline: \"1.5h\" is not a number"}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5", "--deadline", "0s"}, 2, {"--deadline: \"0s\" is no time"}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5", "--deadline", "8761h"}, 2, {"\"8761h\" is out of range"}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5", "--deadline", ""}, 2, {"--deadline: \"\" is empty"}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5", "--ip", "10.0.0.9"}, 2, {"unknown option \"--ip\""}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5", "--masquerade", "sometimes"}, 2, {"--masquerade"}},
        // Unknown services and backends: the library refuses them.
        {{"drain", "--task", "nosuch", "--backend", "10.88.0.5"}, 2, {"nosuch"}},
        {{"drain", "--task", "web", "--backend", "10.88.0.99"}, 2, {"10.88.0.99"}},
        {{"drain", "--task", "web", "--backend", "10.88.0.5:81"}, 2, {"10.88.0.5"}},
    };
    for (const auto& call : calls) {
        require_refused(call.args, call.status, call.words);
        REQUIRE(ruleset() == before);
    }
    // --json errors are one JSON object with the usage code.
    const auto result = cli(web({"--backend", "10.88.0.5,weight=0", "--json"}));
    CHECK(result.exit_code == 2);
    CHECK(json::parse(result.err).at("error").at("code") == "invalid_argument");
    CHECK(ruleset() == before);
}

TEST_CASE_METHOD(FreshNetns, "host-mode and ingress ports conflict both ways between warren-nft processes", "[cli][ingress]")
{
    cli_ok(publish_web);
    cli_ok({"publish", "--task", "db", "--ip", "10.0.0.3", "-p", "9090:90"});
    const auto before = ruleset();

    // A host-mode publish of the ingress port, by another process.
    require_refused({"publish", "--task", "t", "--ip", "10.0.0.9", "-p", "8080:80"}, 1,
                    {"8080/tcp", "ingress service \"web\"", "port conflict"});
    CHECK(ruleset() == before);
    // And the reverse: an ingress publish of a host-mode task's port.
    require_refused({"publish", "--ingress", "--task", "api", "-p", "9090:80", "--backend", "10.88.0.8"}, 1,
                    {"9090/tcp", "port conflict"});
    CHECK(ruleset() == before);
    // One service cannot take another's port either.
    require_refused({"publish", "--ingress", "--task", "api", "-p", "8080:80", "--backend", "10.88.0.8"}, 1,
                    {"8080/tcp", "port conflict"});
    CHECK(ruleset() == before);

    // Once the service is gone its port is free for a host-mode task, and the task's for a service.
    cli_ok({"unpublish", "--task", "web"});
    cli_ok({"unpublish", "--task", "db"});
    cli_ok({"publish", "--task", "t", "--ip", "10.0.0.9", "-p", "8080:80"});
    cli_ok({"publish", "--ingress", "--task", "api", "-p", "9090:80", "--backend", "10.88.0.8"});
    const auto listed = list_json();
    REQUIRE(listed.size() == 2);
    CHECK(listed[0].at("task") == "t");
    CHECK(listed[1].at("task") == "api");
    CHECK(listed[1].at("mode") == "ingress");
}

}  // namespace kt
