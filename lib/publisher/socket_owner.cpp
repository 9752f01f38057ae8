// SPDX-License-Identifier: Apache-2.0
#include "publisher/socket_owner.hpp"

#include "printable.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <memory>
#include <string_view>

namespace warren::nft::layout {
namespace {

struct CloseDirectory {
    void operator()(DIR* directory) const noexcept { closedir(directory); }
};
using Directory = std::unique_ptr<DIR, CloseDirectory>;

Directory open_directory(const std::string& path) { return Directory(opendir(path.c_str())); }

std::optional<pid_t> pid_of(std::string_view name)
{
    if (name.empty() || name.size() > 9 || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    return static_cast<pid_t>(std::stol(std::string(name)));
}

bool holds(pid_t pid, std::string_view link)
{
    const auto fds = open_directory("/proc/" + std::to_string(pid) + "/fd");
    if (!fds)
        return false;
    std::array<char, 64> target{};
    while (const dirent* entry = readdir(fds.get())) {
        const ssize_t n = readlinkat(dirfd(fds.get()), entry->d_name, target.data(), target.size());
        if (n > 0 && std::string_view(target.data(), static_cast<std::size_t>(n)) == link)
            return true;
    }
    return false;
}

std::string process_name(pid_t pid)
{
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(comm, name);
    return printable(name.substr(0, echo_limit));
}

}  // namespace

std::optional<SocketOwner> socket_owner(std::uint32_t inode)
{
    if (inode == 0)
        return std::nullopt;
    const std::string link = "socket:[" + std::to_string(inode) + "]";
    const auto proc = open_directory("/proc");
    if (!proc)
        return std::nullopt;
    while (const dirent* entry = readdir(proc.get()))
        if (const auto pid = pid_of(entry->d_name); pid && holds(*pid, link))
            return SocketOwner{*pid, process_name(*pid)};
    return std::nullopt;
}

}  // namespace warren::nft::layout
