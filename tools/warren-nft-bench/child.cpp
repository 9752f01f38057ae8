// SPDX-License-Identifier: Apache-2.0
#include "child.hpp"

#include "netns.hpp"
#include "process.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace bench {

nlohmann::json run_in_fresh_child(const std::function<nlohmann::json()>& measure, std::chrono::seconds timeout)
{
    sandbox::ForkedChild child([&](int report_fd) {
        const sandbox::FreshNetns fresh;
        sandbox::write_all(report_fd, measure().dump());
        return 0;
    });
    const auto status = child.wait(timeout);
    if (status != 0) {
        auto reason = child.report();
        if (const auto at = reason.find("child exception: "); at != std::string::npos)
            reason = reason.substr(at + 17);
        while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' '))
            reason.pop_back();
        if (reason.empty())
            reason = status < 0 ? "killed (timeout after " + std::to_string(timeout.count()) + " s, or a crash)"
                                : "exited with status " + std::to_string(status);
        throw std::runtime_error(reason);
    }
    return nlohmann::json::parse(child.report());
}

long peak_rss_kib()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

long children_peak_rss_kib()
{
    rusage usage{};
    getrusage(RUSAGE_CHILDREN, &usage);
    return usage.ru_maxrss;
}

std::size_t current_rss_bytes()
{
    malloc_trim(0);
    std::ifstream statm("/proc/self/statm");
    std::size_t size = 0, resident = 0;
    if (!(statm >> size >> resident))
        throw std::runtime_error("cannot read /proc/self/statm");
    return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace bench
