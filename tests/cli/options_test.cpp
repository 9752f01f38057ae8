// SPDX-License-Identifier: Apache-2.0
// The command line's own words and options: unknown options and arguments named as such, errors as
// one JSON object with --json, publish --add and unpublish --port in one transaction each, per-port
// names, flush -y, list's filters and -q, run against the real kernel in the test's namespace.
#include "cli_support.hpp"
#include "netns.hpp"
#include "nft_state.hpp"
#include "process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace kt {
namespace {

using nlohmann::json;

// The host ports of `list --json`, as "PORT/PROTOCOL NAME", in list's order.
std::vector<std::string> listed_ports(const std::vector<std::string>& extra = {})
{
    std::vector<std::string> out;
    for (const auto& port : list_json(extra))
        out.push_back(std::to_string(port.at("host_port").get<int>()) + "/" + port.at("protocol").get<std::string>() + " " +
                      port.at("name").get<std::string>());
    return out;
}

// A refused command with --json: the status, nothing on stdout, and one JSON object on stderr,
// {"error": {"code", "message"}}, whose message contains every one of `words`.
void require_json_error(const std::vector<std::string>& args, int status, const std::string& code,
                        const std::vector<std::string>& words)
{
    const auto result = cli(args);
    INFO(result.describe(args));
    CHECK(result.exit_code == status);
    CHECK(result.out.empty());
    REQUIRE(!result.err.empty());
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    const auto error = json::parse(result.err);
    REQUIRE(error.size() == 1);
    REQUIRE(error.at("error").size() == 2);
    CHECK(error.at("error").at("code") == code);
    const auto message = error.at("error").at("message").get<std::string>();
    for (const auto& word : words)
        CHECK(message.find(word) != std::string::npos);
}

// `warren-nft args...` run in this namespace without CAP_NET_ADMIN (setpriv, util-linux).
sandbox::CommandResult without_net_admin(const std::vector<std::string>& args)
{
    Command cmd;
    cmd.argv = {"setpriv", "--inh-caps=-all", "--bounding-set=-net_admin", warren_nft_path()};
    cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
    return run(cmd);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "messages name unknown options, arguments and missing values in the docs' words", "[cli][usage]")
{
    require_refused({"-v"}, 2, {"unknown option \"-v\" for warren-nft;", "'warren-nft --help'"});
    require_refused({}, 2, {"a command is required: publish, unpublish, drain, list, metrics, flush, doctor or watch"});
    // The unknown option is named, not a required one it hides.
    require_refused({"unpublish", "--all"}, 2,
                    {"unknown option \"--all\" for warren-nft unpublish", "'warren-nft unpublish --help'"});
    require_refused({"unpublish", "--task", "t", "foo"}, 2, {"unexpected argument \"foo\" for warren-nft unpublish"});
    require_refused({"publish", "--task", "t", "--ip", "10.0.0.2", "-p"}, 2, {"option -p/--publish needs a value, SPEC"});
    require_refused({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "80", "--name"}, 2,
                    {"option --name needs a value, NAME"});
    require_refused({"publish", "--task", "a", "--task", "b", "--ip", "10.0.0.2", "-p", "80"}, 2,
                    {"option --task takes one value; give it once"});
    require_refused({"list", "--port"}, 2, {"option --port needs a value, PORT"});
    for (const auto& args : {std::vector<std::string>{"-v"},
                             {"publish", "--task", "t", "--ip", "10.0.0.2", "-p"},
                             {"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "80", "--rate"},
                             {"unpublish"}}) {
        const auto result = cli(args);
        INFO(result.describe(args));
        // Neither CLI11's type names nor its sentences.
        CHECK(result.err.find("TEXT") == std::string::npos);
        CHECK(result.err.find("required TEXT missing") == std::string::npos);
        CHECK(result.err.find("A subcommand is required") == std::string::npos);
        CHECK(result.err.find("is required") == std::string::npos);
    }
    for (const std::string_view command : {"publish", "unpublish", "drain", "list", "flush", "watch"})
        CHECK(cli_ok({std::string(command), "--help"}).find("TEXT") == std::string::npos);
    const auto help = cli_ok({"--help"});
    CHECK(help.find("Usage: warren-nft [OPTIONS] [COMMAND]") != std::string::npos);
    CHECK(help.find("Commands:\n  publish") != std::string::npos);
    CHECK(help.find("ubcommand") == std::string::npos);
    CHECK(tables().empty());
}

TEST_CASE_METHOD(FreshNetns, "port ranges of equal length publish one port each, as docs/cli.md says", "[cli][ranges]")
{
    const auto out = cli_ok({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "8000-8010:80-90"});
    CHECK(std::count(out.begin(), out.end(), '\n') == 11);
    const auto ports = kernel_ports();
    REQUIRE(ports.size() == 11);
    CHECK(ports.front().host_port == 8000);
    CHECK(ports.front().container_port == 80);
    CHECK(ports.back().host_port == 8010);
    CHECK(ports.back().container_port == 90);
}

TEST_CASE_METHOD(FreshNetns, "without CAP_NET_ADMIN every command, list too, names the capability", "[cli][usage]")
{
    cli_ok({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "8080:80"});
    const auto before = ruleset();
    for (const auto& args : {std::vector<std::string>{"list"},
                             {"list", "--json"},
                             {"publish", "--task", "u", "--ip", "10.0.0.3", "-p", "9090:90"},
                             {"unpublish", "--task", "t"},
                             {"flush", "--yes"},
                             {"metrics"},
                             {"watch", "--json"}}) {
        const auto result = without_net_admin(args);
        INFO(result.describe(args));
        CHECK(result.exit_code == 1);
        CHECK(result.out.empty());
        CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
        CHECK(result.err.find("needs CAP_NET_ADMIN in this network namespace") != std::string::npos);
        CHECK(result.err.find("probe nf_tables") == std::string::npos);
        if (std::find(args.begin(), args.end(), "--json") != args.end())
            CHECK(json::parse(result.err).at("error").at("code") == "permission_denied");
        CHECK(ruleset() == before);
    }
}

TEST_CASE_METHOD(FreshNetns, "with --json every error is one JSON object on stderr, with the documented exit status",
                 "[cli][json]")
{
    const std::string ip = "10.0.0.2";
    require_json_error({"publish", "--task", "t", "--ip", ip, "-p", "8080:70000", "--json"}, 2, "invalid_argument",
                       {"-p \"8080:70000\"", "out of range"});
    require_json_error({"publish", "--json", "--task", "t", "--ip", ip, "-p", "80", "--bogus"}, 2, "invalid_argument",
                       {"unknown option \"--bogus\""});
    require_json_error({"unpublish", "--json"}, 2, "invalid_argument", {"unpublish needs --task ID"});
    require_json_error({"flush", "--json"}, 2, "invalid_argument", {"--yes"});
    require_json_error({"list", "--json", "--protocol", "icmp"}, 2, "invalid_argument", {"--protocol: \"icmp\""});
    CHECK(tables().empty());

    cli_ok({"publish", "--task", "owner", "--ip", ip, "-p", "8080:80"});
    const auto before = ruleset();
    require_json_error({"publish", "--task", "other", "--ip", "10.0.0.3", "-p", "8080:81", "--json"}, 1, "port_conflict",
                       {"8080/tcp", "\"owner\""});
    require_json_error({"publish", "--add", "--task", "other", "--ip", "10.0.0.3", "-p", "8080:81", "--json"}, 1, "port_conflict",
                       {"8080/tcp", "\"owner\""});
    CHECK(ruleset() == before);
    // A message that holds a quote or a control byte is still one line of valid JSON.
    require_json_error({"publish", "--task", "t\"\n", "--ip", ip, "-p", "80", "--json"}, 2, "invalid_argument", {"--task: "});
    // Success prints no error: stderr stays empty.
    const auto ok = cli({"unpublish", "--task", "owner", "--json"});
    CHECK(ok.exit_code == 0);
    CHECK(ok.err.empty());
    CHECK(json::parse(ok.out) == json::array());
}

TEST_CASE_METHOD(FreshNetns, "publish --add and unpublish --port change some ports of a task in one transaction", "[cli][change]")
{
    const std::string ip = "10.0.0.2";
    cli_ok({"publish", "--task", "t", "--ip", ip, "-p", "web=8080:80", "-p", "5353:53/udp"});
    cli_ok({"publish", "--task", "other", "--ip", "10.0.0.3", "-p", "7000:70"});

    const auto added = monitor_transactions([&] {
        const auto out = cli_ok({"publish", "--add", "--task", "t", "--ip", ip, "-p", "tls=8443:443", "-p", "9000-9001:90-91"});
        // Every port of the task, as publish prints them.
        CHECK(out == "8080:80/tcp\n8443:443/tcp\n9000:90/tcp\n9001:91/tcp\n5353:53/udp\n");
    });
    CHECK(added.generations == 1);
    CHECK(listed_ports({"--task", "t"}) ==
          std::vector<std::string>{"8080/tcp web", "8443/tcp tls", "9000/tcp ", "9001/tcp ", "5353/udp "});

    // The same host port again replaces that port only.
    cli_ok({"publish", "--add", "--task", "t", "--ip", ip, "-p", "8080:8080"});
    CHECK(list_json({"--task", "t", "--port", "8080"}).at(0).at("container_port") == 8080);

    // Refused additions change nothing: another task's port, another container address.
    const auto before = ruleset();
    require_refused({"publish", "--add", "--task", "t", "--ip", ip, "-p", "7000:70"}, 1, {"7000/tcp", "\"other\""});
    require_refused({"publish", "--add", "--task", "t", "--ip", "10.0.0.9", "-p", "7001:70"}, 2,
                    {"publishes to container address 10.0.0.2, not 10.0.0.9"});
    CHECK(ruleset() == before);

    const auto removed = monitor_transactions([&] {
        cli_ok({"unpublish", "--task", "t", "--port", "9000-9001", "--port", "5353/udp", "--port", "1234"});
    });
    CHECK(removed.generations == 1);
    // 8080 was replaced by a -p without a name above.
    CHECK(listed_ports({"--task", "t"}) == std::vector<std::string>{"8080/tcp ", "8443/tcp tls"});
    CHECK(listed_ports({"--task", "other"}) == std::vector<std::string>{"7000/tcp "});
    // Another protocol names another port: nothing to remove, nothing sent.
    const auto none = monitor_transactions([&] { cli_ok({"unpublish", "--task", "t", "--port", "8080/udp"}); });
    CHECK(none.generations == 0);
    cli_ok({"unpublish", "--task", "t", "--port", "8080", "--port", "0.0.0.0:8443"});
    CHECK(list_json({"--task", "t"}).empty());

    const auto unchanged = ruleset();
    require_refused({"unpublish", "--task", "other", "--port", "70000"}, 2, {"--port \"70000\"", "out of range"});
    require_refused({"unpublish", "--task", "other", "--port", "0"}, 2, {"--port \"0\"", "host port 0"});
    require_refused({"unpublish", "--task", "other", "--port", "7000/icmp"}, 2, {"--port \"7000/icmp\"", "unknown protocol"});
    require_refused({"unpublish", "--task", "other", "--port", "1:2:3"}, 2, {"--port \"1:2:3\"", "too many ':'"});
    CHECK(ruleset() == unchanged);
}

TEST_CASE_METHOD(FreshNetns, "each -p may carry its own name; --name names the others", "[cli][names]")
{
    cli_ok({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "web=8080:80", "-p", "8443:443", "-p", "dns=5353:53/udp",
            "--name", "other"});
    const auto text = warren_table();
    INFO(text);
    CHECK(text.find("tcp . 8080 comment \"task=t name=web\"") != std::string::npos);
    CHECK(text.find("tcp . 8443 comment \"task=t name=other\"") != std::string::npos);
    CHECK(text.find("udp . 5353 comment \"task=t name=dns\"") != std::string::npos);
    const auto before = ruleset();
    require_refused({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "a b=8080:80"}, 2, {"-p \"a b=8080:80\"", "port name"});
    require_refused({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "=8080:80"}, 2,
                    {"-p \"=8080:80\"", "name before '=' is empty"});
    CHECK(ruleset() == before);
}

TEST_CASE_METHOD(FreshNetns, "flush -y confirms as --yes does", "[cli]")
{
    cli_ok({"publish", "--task", "t", "--ip", "10.0.0.2", "-p", "8080:80"});
    require_refused({"flush"}, 2, {"--yes", "-y"});
    CHECK(warren_table_exists());
    cli_ok({"flush", "-y"});
    CHECK(tables().empty());
}

TEST_CASE_METHOD(FreshNetns, "list filters by task, host port, protocol and address; -q prints task ids", "[cli][list]")
{
    sandbox::add_loopback_addresses({"10.9.0.1"});  // a host address of the namespace
    cli_ok({"publish", "--task", "web", "--ip", "10.0.0.2", "--ip", "fd00::2", "-p", "8080:80", "-p", "5353:53/udp"});
    cli_ok({"publish", "--task", "db", "--ip", "10.0.0.3", "-p", "10.9.0.1:5432:5432", "-p", "8081:80"});

    CHECK(list_json({"--port", "8080"}).size() == 2);  // both families
    CHECK(listed_ports({"--protocol", "udp"}) == std::vector<std::string>{"5353/udp ", "5353/udp "});
    CHECK(listed_ports({"--address", "10.9.0.1"}) == std::vector<std::string>{"5432/tcp "});
    CHECK(list_json({"--address", "10.0.0.3"}).size() == 2);  // db's container address
    // The ports on every IPv6 address; :: written another way is the same address.
    const auto every_ipv6 = list_json({"--address", "0::0"});
    REQUIRE(every_ipv6.size() == 2);
    CHECK(std::all_of(every_ipv6.begin(), every_ipv6.end(), [](const json& port) { return port.at("family") == "ipv6"; }));
    CHECK(list_json({"--port", "8080", "--protocol", "udp"}).empty());
    CHECK(list_json({"--task", "db", "--port", "8081", "--protocol", "tcp", "--address", "0.0.0.0"}).size() == 1);

    CHECK(cli_ok({"list", "-q"}) == "db\nweb\n");  // in list's order (5432/tcp first), each task once
    CHECK(cli_ok({"list", "--quiet", "--protocol", "udp"}) == "web\n");
    CHECK(cli_ok({"list", "-q", "--port", "1"}).empty());

    require_refused({"list", "--port", "http"}, 2, {"--port: \"http\"", "1 to 65535"});
    require_refused({"list", "--port", "70000"}, 2, {"--port: \"70000\""});
    require_refused({"list", "--protocol", "TCP"}, 2, {"--protocol: \"TCP\"", "tcp, udp or sctp"});
    require_refused({"list", "--address", "[::]"}, 2, {"--address: \"[::]\""});
    require_json_error({"list", "-q", "--json"}, 2, "invalid_argument", {"-q", "--json"});
}

}  // namespace kt
