// SPDX-License-Identifier: Apache-2.0
// The socket check of `warren-nft doctor`: a published port takes the connections a listening TCP
// socket or a bound UDP socket of the host on its port would receive from other hosts (publishing
// refuses such a port; the socket may have been opened since, or the check turned off).
#pragma once

#include "doctor_report.hpp"

#include <warren/nft.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace warren::cli::doctor {

struct HostSocket {
    std::string protocol;  // "tcp", "udp"
    std::string address;   // as inet_ntop writes it
    std::uint16_t port = 0;
};

// The listening TCP sockets (state 0A) or bound UDP sockets (state 07) of one /proc/net/{tcp,tcp6,udp,
// udp6} text (`ipv6`: the *6 files' address format); lines that are not such an entry are skipped.
std::vector<HostSocket> parse_proc_net(const std::string& text, const std::string& protocol, bool ipv6);

// Reads /proc/net/tcp, tcp6, udp and udp6 of this namespace; `error` names the files that could not be
// read.
std::vector<HostSocket> read_host_sockets(std::string& error);

// One WARN line per published port a socket would otherwise receive connections for: same protocol
// and port, and the port on every address (of its family, its container address's), or the socket
// on its address or on every address (an IPv6 socket on :: receives IPv4 too); one OK line when there
// is none.
void check_shadowed_sockets(Report& report, const std::vector<nft::PublishedPort>& published,
                            const std::vector<HostSocket>& sockets);

}  // namespace warren::cli::doctor
