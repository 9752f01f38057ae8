// SPDX-License-Identifier: Apache-2.0
// warren-nft-agent: an example node agent (docs/user-guide.md, "An example node agent").
// Exit status: 0 stopped by SIGTERM or SIGINT, 1 could not start, 2 usage error.
#include "agent.hpp"
#include "agent_log.hpp"
#include "desired_tasks.hpp"
#include "listen_address.hpp"

#include <warren/nft/error.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/system/system_error.hpp>

#include <CLI/CLI.hpp>

#include <exception>
#include <string>

namespace {

constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

}  // namespace

int main(int argc, char* argv[])
{
    using namespace warren::agent;
    CLI::App app{
        "An example node agent: publishes the ports of the tasks in TASKS_FILE (reconciled at start and on "
        "SIGHUP), repairs them when others damage the table, and serves its metrics over HTTP until SIGTERM "
        "or SIGINT.\nExit status: 0 stopped by a signal, 1 could not start, 2 usage error.",
        "warren-nft-agent"};
    std::string tasks_file;
    std::string listen = default_listen_address;
    bool counters = false;
    app.add_option("TASKS_FILE", tasks_file, "JSON file of the tasks to publish (see docs/user-guide.md)")->required();
    app.add_option("--listen", listen, "ADDRESS:PORT of the metrics endpoint, e.g. [::1]:9646")->capture_default_str();
    app.add_flag("--counters", counters, "Count packets and bytes per destination (metrics warren_nft_destination_*)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return app.exit(e);
        log_line(std::string(e.what()) + "; see 'warren-nft-agent --help'");
        return exit_usage;
    }

    AgentOptions options{.tasks_file = tasks_file, .listen = {}, .counters = counters};
    try {
        options.listen = parse_listen_address(listen);
    } catch (const std::invalid_argument& e) {
        log_line(e.what());
        return exit_usage;
    }

    try {
        // Read before anything is opened: a bad file at start changes nothing.
        auto desired = load_desired_tasks(tasks_file);
        boost::asio::io_context io;
        Agent agent(io, options);
        agent.start(std::move(desired));
        io.run();
        return 0;
    } catch (const DesiredTasksError& e) {
        log_line(std::string(e.what()) + "; nothing changed");
    } catch (const boost::system::system_error& e) {
        log_line("cannot listen on " + listen + ": " + e.code().message());
    } catch (const std::exception& e) {
        log_line(e.what());
    }
    return exit_failed;
}
