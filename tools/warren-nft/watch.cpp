// SPDX-License-Identifier: Apache-2.0
#include "watch.hpp"

#include "stop_signals.hpp"
#include "warnings.hpp"
#include "watch_output.hpp"

#include <warren/nft.hpp>

#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace warren::cli {

namespace {

namespace nft = warren::nft;

// Writes whole lines from any thread, each flushed at once for a script that reads the pipe. Lines
// that come before the start line (a repair racing with the start) wait for it: the start line is
// always the first, so that a script can take it to mean "ready".
class LineWriter {
public:
    explicit LineWriter(std::ostream& out) : out_(out) {}

    void start(const std::string& line)
    {
        std::lock_guard lock(mutex_);
        emit(line);
        for (const auto& waiting : waiting_)
            emit(waiting);
        waiting_.clear();
        started_ = true;
    }

    void line(std::string line)
    {
        std::lock_guard lock(mutex_);
        if (started_)
            emit(line);
        else
            waiting_.push_back(std::move(line));
    }

private:
    void emit(const std::string& line) { out_ << line << '\n' << std::flush; }

    std::ostream& out_;
    std::mutex mutex_;
    bool started_ = false;
    std::vector<std::string> waiting_;
};

// The tasks and ports the publisher adopted: the table's, without elements that name no task
// (another program's, which a publisher never keeps).
std::pair<std::size_t, std::size_t> kept(const std::vector<nft::PublishedPort>& ports)
{
    std::set<std::string> tasks;
    std::size_t owned = 0;
    for (const auto& port : ports) {
        if (port.task_id.empty())
            continue;
        tasks.insert(port.task_id);
        ++owned;
    }
    return {tasks.size(), owned};
}

}  // namespace

int run_watch(const WatchOptions& options, std::ostream& out)
{
    // Blocked before the publisher starts its healing thread, which inherits the mask: the signals
    // then only end the sigwait() below, never the process in the middle of a repair.
    const auto signals = block_stop_signals();
    LineWriter writer(out);
    int signal = 0;
    {
        nft::HostPortPublisher publisher(nft::PublisherOptions{
            .counters = options.counters,
            .self_heal = true,
            // Runs on the healing thread with the publisher's lock held: it only formats and writes.
            .on_repair = [&](const nft::RepairReport& report) { writer.line(format_repair(report, options.json)); },
            .logger = Warnings::immediate(options.json)});
        const auto [tasks, ports] = kept(publisher.all_published_ports());
        writer.start(format_watch_start(tasks, ports, options.json));
        signal = wait_for_stop(signals);
    }  // The destructor stops the healing thread, after a repair under way: none is cut short.
    writer.line(format_watch_stop(stop_signal_name(signal), options.json));
    return 0;
}

}  // namespace warren::cli
