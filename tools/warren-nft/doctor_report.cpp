// SPDX-License-Identifier: Apache-2.0
#include "doctor_report.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>

namespace warren::cli::doctor {

std::optional<std::string> run_tool(const std::string& program, const std::string& arguments, std::string& error)
{
    const std::string command = "PATH=\"$PATH:/usr/local/sbin:/usr/sbin:/sbin\" " + program + " " + arguments + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
        error = "could not run " + program;
        return std::nullopt;
    }
    std::string output;
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
        output.append(buffer.data(), n);
    const int status = pclose(pipe);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        while (!output.empty() && (output.back() == '\n' || output.back() == ' '))
            output.pop_back();
        error = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? program + " is not installed"
                                                                : program + " " + arguments + " failed: " + output;
        return std::nullopt;
    }
    return output;
}

std::string read_first_line(const char* path)
{
    std::ifstream file(path);
    std::string line;
    std::getline(file, line);
    return line;
}

std::string joined(const std::vector<std::string>& items, const std::string& separator)
{
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : separator) + item;
    return out;
}

std::string owner_of(const nft::PublishedPort& port)
{
    if (port.task_id.empty())
        return "an element without a warren-nft owner";
    return (port.mapping.publish_mode == nft::PublishMode::ingress ? "ingress service " : "task ") + port.task_id;
}

std::string movable_owner(const std::vector<const nft::PublishedPort*>& ports)
{
    const auto ingress = [](const nft::PublishedPort* port) { return port->mapping.publish_mode == nft::PublishMode::ingress; };
    if (std::all_of(ports.begin(), ports.end(), ingress))
        return "the ingress service";
    return std::any_of(ports.begin(), ports.end(), ingress) ? "the task or ingress service" : "the task";
}

}  // namespace warren::cli::doctor
