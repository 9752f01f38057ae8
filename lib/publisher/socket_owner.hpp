// SPDX-License-Identifier: Apache-2.0
// Which process holds a socket, found in /proc: for messages only, never on a fast path (it reads
// the file descriptors of every process).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace warren::nft::layout {

struct SocketOwner {
    pid_t pid = 0;
    std::string name;  // /proc/<pid>/comm, made printable; empty when unreadable
};

// A process with a file descriptor on the socket with sockfs inode `inode` (/proc/<pid>/fd/N links
// to socket:[inode]); std::nullopt when /proc shows none (another PID namespace, no permission, the
// socket closed meanwhile).
std::optional<SocketOwner> socket_owner(std::uint32_t inode);

}  // namespace warren::nft::layout
