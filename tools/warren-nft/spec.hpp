// SPDX-License-Identifier: Apache-2.0
// Parsing and checking the command-line arguments of warren-nft before anything touches the kernel.
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace warren::cli {

// A bad command-line argument; what() is one sentence naming the argument, what is wrong and what
// would be right. main() reports it with exit status 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Docker-style `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp|sctp]`; the protocol defaults to tcp.
// HOST_IP may only be omitted or 0.0.0.0 (all addresses). Throws UsageError.
nft::PortMapping parse_port_spec(std::string_view spec);

// The port spec of a mapping, as parse_port_spec reads it ("8080:80/tcp").
std::string format_port_spec(const nft::PortMapping& mapping);

// Checks done by the library too, repeated here so a bad argument is refused before the publisher
// is constructed (which creates table ip warren). Each throws UsageError naming `option`.
void check_task_id(std::string_view option, std::string_view task_id);
void check_container_ip(std::string_view option, std::string_view ip);
void check_port_name(std::string_view option, std::string_view name);

}  // namespace warren::cli
