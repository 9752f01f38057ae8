// SPDX-License-Identifier: Apache-2.0
#include "tool_process.hpp"

#include "process.hpp"

#include <stdexcept>

namespace bench {

std::optional<std::string> missing_program(const std::string& program)
{
    try {
        sandbox::find_program(program);
        return std::nullopt;
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
}

void run_tool(std::vector<std::string> argv, const std::string& input)
{
    argv[0] = sandbox::find_program(argv[0]);
    const auto result = sandbox::run({argv, input, nullptr, {}});
    if (result.exit_code != 0)
        throw std::runtime_error(result.describe(argv));
}

}  // namespace bench
