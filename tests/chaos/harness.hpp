// SPDX-License-Identifier: Apache-2.0
// What the crash and chaos harnesses share: their command line, the namespace they run in, and the
// checks they count in the line tools/test.sh reads ("summary: N passed, N failed, N skipped").
#pragma once

#include <sys/mman.h>

#include <chrono>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace chaos {

// `--name value` from the command line, or `fallback`.
double option(int argc, char* argv[], const std::string& name, double fallback);

// Leaves the network namespace the harness was started in (sandbox::enter_sandbox()) and ignores
// SIGPIPE. When no namespace can be had, prints the reason and every check as skipped, and returns
// false: the caller then exits with 77.
bool enter_namespace(const char* program, const std::vector<std::string>& checks);

// Named checks, each passed unless a problem is recorded against it.
class Checks {
public:
    explicit Checks(std::vector<std::string> names);
    void fail(const std::string& check, const std::string& problem);
    std::size_t problems() const { return problems_; }
    // Prints each check's verdict (with its first problems) and the summary line; returns the exit status.
    int finish() const;

private:
    std::vector<std::string> names_;
    std::vector<std::vector<std::string>> failures_;
    std::size_t problems_ = 0;
};

// A T in memory shared with the processes forked after this call (atomics only: they write it while
// the harness reads), value-initialised, never freed.
template <class T>
T* shared_page()
{
    void* page = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        throw std::runtime_error("mmap of a shared page failed");
    return new (page) T{};
}

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace chaos
