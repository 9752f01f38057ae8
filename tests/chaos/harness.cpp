// SPDX-License-Identifier: Apache-2.0
#include "harness.hpp"

#include "netns.hpp"
#include "task_model.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <stdexcept>

namespace chaos {

double option(int argc, char* argv[], const std::string& name, double fallback)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (argv[i] == name)
            return std::stod(argv[i + 1]);
    return fallback;
}

bool enter_namespace(const char* program, const std::vector<std::string>& checks)
{
    if (const auto failure = sandbox::enter_sandbox()) {
        std::printf("SKIP: %s\n", failure->c_str());
        std::printf("summary: 0 passed, 0 failed, %zu skipped\n", checks.size());
        return false;
    }
    std::signal(SIGPIPE, SIG_IGN);
    sandbox::link_up("lo");
    sandbox::add_loopback_addresses({bound_host_ipv4, bound_host_ipv6});
    std::printf("%s: %s\n", program, sandbox::sandbox_description().c_str());
    return true;
}

Checks::Checks(std::vector<std::string> names) : names_(std::move(names)), failures_(names_.size()) {}

void Checks::fail(const std::string& check, const std::string& problem)
{
    const auto at = std::find(names_.begin(), names_.end(), check);
    if (at == names_.end())
        throw std::logic_error("no check named " + check);
    ++problems_;
    auto& list = failures_[static_cast<std::size_t>(at - names_.begin())];
    if (list.size() < 5)
        list.push_back(problem);
    std::fprintf(stderr, "FAILED %s: %s\n", check.c_str(), problem.c_str());
}

int Checks::finish() const
{
    std::size_t failed = 0;
    for (std::size_t i = 0; i < names_.size(); ++i) {
        const bool ok = failures_[i].empty();
        failed += !ok;
        std::printf("%s: %s\n", ok ? "PASSED" : "FAILED", names_[i].c_str());
        for (const auto& problem : failures_[i])
            std::printf("    %s\n", problem.c_str());
    }
    std::printf("summary: %zu passed, %zu failed, 0 skipped\n", names_.size() - failed, failed);
    std::fflush(stdout);
    return failed == 0 ? 0 : 1;
}

}  // namespace chaos
