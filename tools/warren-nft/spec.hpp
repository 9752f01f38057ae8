// SPDX-License-Identifier: Apache-2.0
// Parsing and checking the command-line arguments of warren-nft before anything touches the kernel.
#pragma once

#include <warren/nft/port_mapping.hpp>

#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace warren::cli {

// A bad command-line argument; what() is one line naming the argument, what is wrong and what would
// be right. main() reports it with exit status 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Runs one of the library's checks (<warren/nft/validation.hpp>) on an argument. Its refusal
// (errc::invalid_argument) becomes a UsageError that starts with `argument` ("--task: task id ...").
// The library's rules and words are used as they are, so the command line cannot drift from them.
void check_argument(std::string_view argument, const std::function<void()>& check);

// Docker's `-p`: [[HOST_IP:]HOST_PORT[-LAST]:]CONTAINER_PORT[-LAST][/tcp|udp|sctp], the protocol tcp
// when omitted. HOST_IP omitted or empty is every address of each family the container has (an
// empty PortMapping::host_ip); 0.0.0.0 every IPv4 address only, [::] every IPv6 address only; one
// address, that address; an IPv6 one goes in brackets. Port ranges of equal length map each host
// port to the container port at the same place: 8000-8002:9000-9002 is three mappings. HOST_PORT
// omitted, empty or 0 (80, 127.0.0.1::80, 0:80) asks the publisher for a free host port (host_port
// 0) for each container port. HOST_IP is checked with nft::validate_host_ip(), the mappings with
// nft::validate_ports(). Throws UsageError naming the spec.
std::vector<nft::PortMapping> parse_port_spec(std::string_view spec);

// A -p value that names its ports, NAME=SPEC ("web=8080:80"), split at its '=' (neither a name nor
// a spec has one); without '=', the name is empty and the spec is the whole value. The name is
// checked with nft::validate_port_name(): a UsageError names the -p.
struct NamedSpec {
    std::string name;
    std::string_view spec;
};
NamedSpec split_port_name(std::string_view value);

// A value of unpublish --port: [HOST_IP:]HOST_PORT[-LAST][/tcp|udp|sctp], the host ports to remove,
// the protocol tcp when omitted, HOST_IP empty for a port on every address. Mappings with host_ip,
// host_port and protocol set (container_port 0). Throws UsageError naming --port.
std::vector<nft::PortMapping> parse_host_port_spec(std::string_view spec);

// The container's addresses from the values of --ip, at most one per family, each checked with
// nft::validate_container_ip() and all with nft::validate_container_addresses(). Throws UsageError.
nft::ContainerAddresses parse_container_addresses(std::span<const std::string> ips);

// A port whose HOST_IP is of a family the container has no address of would publish nothing: refused
// with a UsageError naming the spec it came from.
void check_host_family(std::string_view spec, const nft::PortMapping& mapping, const nft::ContainerAddresses& container);

// The port spec of a mapping, as parse_port_spec reads it ("8080:80/tcp", "10.0.0.1:8080:80/tcp",
// "[2001:db8::10]:8080:80/tcp"; for host port 0, "80/tcp" and "10.0.0.1::80/tcp").
std::string format_port_spec(const nft::PortMapping& mapping);

}  // namespace warren::cli
