// SPDX-License-Identifier: Apache-2.0
// `warren-nft watch`, run as a background process in the test's fresh network namespace: it keeps
// the tasks it found published through real damage (traffic flows again without any publish), logs
// each repair on one line with the damaging process's name escaped, and ends with status 0 on
// SIGTERM and SIGINT. Its lines' formats are checked on their own too.
#include "cli_support.hpp"
#include "netns.hpp"
#include "nft_state.hpp"
#include "process.hpp"
#include "running_program.hpp"
#include "traffic.hpp"
#include "watch_output.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace kt {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// `warren-nft watch OPTIONS...` running in the background.
RunningProgram watch_process(std::vector<std::string> options = {})
{
    options.insert(options.begin(), {warren_nft_path(), "watch"});
    return RunningProgram(std::move(options));
}

// Every byte is printable ASCII or a line's end: nothing in it can drive a terminal.
bool terminal_safe(const std::string& text)
{
    return std::all_of(text.begin(), text.end(), [](char c) { return c == '\n' || (c >= 0x20 && c < 0x7f); });
}

// `nft ARGS...` run through a link to nft named `name`: the kernel announces the commit under that
// name (the process's comm), whatever bytes it holds.
void nft_named(const std::string& name, const std::vector<std::string>& args)
{
    char dir[] = "/tmp/warren-watch-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string link = std::string(dir) + "/" + name;
    REQUIRE(symlink(find_program("nft").c_str(), link.c_str()) == 0);
    Command cmd;
    cmd.argv = {link};
    cmd.argv.insert(cmd.argv.end(), args.begin(), args.end());
    const auto result = run(cmd);
    unlink(link.c_str());
    rmdir(dir);
    INFO(result.describe(cmd.argv));
    REQUIRE(result.exit_code == 0);
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "watch repairs the tasks it found, traffic flows again, and SIGTERM ends it with 0",
                 "[cli][watch][traffic]")
{
    const Topology net;
    EchoServer web(net.container, Transport::tcp, 8080, "web");
    cli_ok({"publish", "--task", "web-1", "--ip", Topology::container_ip, "-p", "18080:8080", "-p", "15353:53/udp", "--name",
            "web"});
    const auto published = kernel_ports();
    REQUIRE(answer(net, 18080, "before") == "web:before");

    auto watch = watch_process();
    CHECK(watch.next_line(starting_with("watching")) ==
          "watching table ip warren: keeping 1 task(s) with 2 port(s) published; stop with SIGINT or SIGTERM");

    nft({"flush", "ruleset"});
    auto line = watch.next_line(starting_with("repair"));
    INFO(line);
    CHECK(line.starts_with("repaired in "));
    CHECK(line.find(": 2 port(s) and the layout restored; damage: ") != std::string::npos);
    CHECK(line.find("table ip warren deleted (generation ") != std::string::npos);
    CHECK(line.find(" by nft[") != std::string::npos);
    CHECK(kernel_ports() == published);
    CHECK(answer(net, 18080, "after flush") == "web:after flush");

    // Damage by a process that calls itself with an escape sequence, a bell and a byte that is not
    // UTF-8: the line shows them as \xNN.
    nft_named("nft\x1b[2J\x07\xff", {"delete", "element", "ip", "warren", "ports", "{ tcp . 18080 }"});
    line = watch.next_line(starting_with("repair"));
    INFO(line);
    CHECK(line.find(": 1 port(s) restored; damage: element deleted from set ports (generation ") != std::string::npos);
    CHECK(line.find(R"( by nft\x1b[2J\x07\xff[)") != std::string::npos);
    CHECK(kernel_ports() == published);
    CHECK(answer(net, 18080, "after delete") == "web:after delete");

    // The ownership rule: an unpublish from another shell is damage like any other, and undone.
    cli_ok({"unpublish", "--task", "web-1"});
    line = watch.next_line(starting_with("repair"));
    INFO(line);
    CHECK(line.find(": 2 port(s) restored") != std::string::npos);
    CHECK(line.find(" by warren-nft[") != std::string::npos);
    CHECK(kernel_ports() == published);

    CHECK(watch.stop(SIGTERM) == 0);
    INFO("stdout: " << watch.out());
    CHECK(watch.err().empty());
    CHECK(watch.out().ends_with("\nstopped on SIGTERM; table ip warren and its ports stay as they are\n"));
    CHECK(watch.out().find("repair failed") == std::string::npos);
    CHECK(terminal_safe(watch.out()));
    CHECK(kernel_ports() == published);  // stopping it removes nothing
    CHECK(answer(net, 18080, "after stop") == "web:after stop");
}

TEST_CASE_METHOD(FreshNetns, "watch --json prints one object per line, --counters makes repairs count, SIGINT ends it with 0",
                 "[cli][watch][counters]")
{
    cli_ok({"publish", "--task", "a", "--ip", "10.88.0.2", "-p", "8080:80", "-p", "8081:81"});
    auto watch = watch_process({"--json", "--counters"});
    CHECK(json::parse(watch.next_line(starting_with("{"))) == json{{"event", "start"}, {"tasks", 1}, {"ports", 2}});
    // The table did not count: made to count at once, as wanted.
    auto upgrade = json::parse(watch.next_line(starting_with(R"({"event":"repair")")));
    INFO(upgrade.dump());
    CHECK(upgrade.at("damage") == "found incomplete at start");
    CHECK(upgrade.at("layout_restored") == true);
    CHECK(upgrade.at("ports_restored") == 0);
    CHECK(kernel_backends_counted());

    nft({"delete", "table", "ip", "warren"});
    auto text = watch.next_line(starting_with(R"({"event":"repair")"));
    INFO(text);
    auto repair = json::parse(text);
    // In the documented order (json sorts its keys, so the text is checked).
    CHECK(text.find(R"({"event":"repair","damage":)") == 0);
    CHECK(text.find(R"(,"ports_restored":2,"layout_restored":true,"duration_us":)") != std::string::npos);
    CHECK(repair.size() == 10);
    CHECK(repair.at("process") == "nft");
    CHECK(repair.at("pid").get<long>() > 0);
    CHECK(repair.at("generation").get<long>() > 0);
    CHECK(repair.at("error") == "");
    CHECK(repair.at("skipped") == json::array());
    CHECK(repair.at("damage").get<std::string>().find("table ip warren deleted") != std::string::npos);
    CHECK(kernel_ports().size() == 2);
    CHECK(kernel_backends_counted());  // created counting, as publish --counters would

    // A port someone else took over in between stays theirs: reported as skipped.
    nft_script(
        "delete element ip warren ports { tcp . 8080 }\n"
        "add element ip warren ports { tcp . 8080 : 10.99.0.1 . 99 }\n"
        "delete element ip warren ports { tcp . 8081 }\n");
    repair = json::parse(watch.next_line(starting_with(R"({"event":"repair")")));
    INFO(repair.dump());
    CHECK(repair.at("ports_restored") == 1);
    REQUIRE(repair.at("skipped").size() == 1);
    CHECK(repair.at("skipped")[0].get<std::string>().starts_with("8080/tcp of task a"));

    CHECK(watch.stop(SIGINT) == 0);
    INFO("stdout: " << watch.out());
    CHECK(watch.err().empty());
    CHECK(watch.out().ends_with("\n" + json{{"event", "stop"}, {"signal", "SIGINT"}}.dump() + "\n"));
}

TEST_CASE_METHOD(FreshNetns, "watch keeps only the tasks of its start, and creates no table", "[cli][watch]")
{
    auto watch = watch_process();
    CHECK(watch.next_line(starting_with("watching")) ==
          "watching table ip warren: keeping 0 task(s) with 0 port(s) published (only tasks in the table when watch "
          "starts are kept); stop with SIGINT or SIGTERM");
    CHECK(tables().empty());
    // Published after the start: not its task, so deleting it is no damage to repair.
    cli_ok({"publish", "--task", "later", "--ip", "10.88.0.2", "-p", "8080:80"});
    nft({"flush", "ruleset"});
    std::this_thread::sleep_for(300ms);
    CHECK(tables().empty());
    CHECK(watch.stop(SIGTERM) == 0);
    CHECK(watch.err().empty());
    CHECK(std::count(watch.out().begin(), watch.out().end(), '\n') == 2);  // the start and stop lines only
}

TEST_CASE("watch's lines escape what other programs chose and say what failed", "[cli][watch]")
{
    // The escaping itself is lib/printable.hpp's, tested with the library's (validation_test.cpp).
    warren::nft::RepairReport report;
    report.damage = "rule deleted from chain prerouting";
    report.generation = 42;
    report.pid = 7;
    report.process = "evil\x1b]0;owned\x07";
    report.duration = std::chrono::microseconds(1500);
    report.error = "kernel said \x1b[1mno";
    report.skipped = {"8080/tcp of task a (held by task b)", "53/udp of task a (held by task c)"};
    const auto line = warren::cli::format_repair(report, false);
    CHECK(line ==
          "repair failed after 1.500 ms, retrying within a second: kernel said \\x1b[1mno; damage: rule deleted "
          "from chain prerouting (generation 42 by evil\\x1b]0;owned\\x07[7]); skipped 2 port(s) held by another "
          "owner: 8080/tcp of task a (held by task b), 53/udp of task a (held by task c)");
    CHECK(terminal_safe(line));

    // A process name that is not UTF-8 still makes valid JSON, escaped as in the text.
    report.process = "\xff\xfe";
    const auto parsed = json::parse(warren::cli::format_repair(report, true));
    CHECK(parsed.at("process") == R"(\xff\xfe)");
    CHECK(parsed.at("error") == R"(kernel said \x1b[1mno)");

    // A repair tried again after a failure has no damaging commit of its own.
    report = {};
    report.damage = "earlier repair failed";
    report.layout_restored = true;
    CHECK(warren::cli::format_repair(report, false) ==
          "repaired in 0.000 ms: the layout restored; damage: earlier repair failed");
}

}  // namespace kt
