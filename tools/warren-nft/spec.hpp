// SPDX-License-Identifier: Apache-2.0
// Parsing and checking the command-line arguments of warren-nft before anything touches the kernel.
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <functional>
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

// Runs one of the library's checks (<warren/nft/validation.hpp>) on an argument. Its refusal
// (errc::invalid_argument) becomes a UsageError that starts with `argument` ("--task: task id ...").
// The library's rules and words are used as they are, so the command line cannot drift from them.
void check_argument(std::string_view argument, const std::function<void()>& check);

// Docker-style `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp|sctp]`; the protocol defaults to tcp.
// HOST_IP omitted, empty or 0.0.0.0 is every address of the host (an empty PortMapping::host_ip);
// an IPv6 one goes in brackets (and is refused by the library for now). The mapping is checked
// with nft::validate_ports(). Throws UsageError naming the spec.
nft::PortMapping parse_port_spec(std::string_view spec);

// The port spec of a mapping, as parse_port_spec reads it ("8080:80/tcp", "10.0.0.1:8080:80/tcp").
std::string format_port_spec(const nft::PortMapping& mapping);

}  // namespace warren::cli
