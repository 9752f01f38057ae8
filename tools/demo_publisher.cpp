// SPDX-License-Identifier: Apache-2.0
// The smallest useful program on top of the library, used by tools/demo.sh:
//   demo-publisher publish TASK CONTAINER_IP HOST_PORT:CONTAINER_PORT/PROTO...
//   demo-publisher unpublish TASK
//   demo-publisher list TASK
// It parses just enough for the demo; the operators' CLI is tools/warren-nft.
#include <warren/nft.hpp>

#include <charconv>
#include <iostream>
#include <string>
#include <vector>

using namespace warren::nft;

namespace {

std::uint16_t number(std::string_view text)
{
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535)
        throw std::invalid_argument("not a port number: " + std::string(text));
    return static_cast<std::uint16_t>(value);
}

PortMapping parse_spec(std::string_view spec)
{
    PortMapping mapping;
    if (const auto slash = spec.find('/'); slash != std::string_view::npos) {
        const auto protocol = spec.substr(slash + 1);
        mapping.protocol = protocol == "udp" ? Protocol::udp : protocol == "sctp" ? Protocol::sctp : Protocol::tcp;
        spec = spec.substr(0, slash);
    }
    const auto colon = spec.find(':');
    if (colon == std::string_view::npos)
        throw std::invalid_argument("expected HOST_PORT:CONTAINER_PORT[/PROTO], got " + std::string(spec));
    mapping.host_port = number(spec.substr(0, colon));
    mapping.container_port = number(spec.substr(colon + 1));
    return mapping;
}

}  // namespace

int main(int argc, char** argv)
{
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.size() >= 4 && args[0] == "publish") {
            std::vector<PortMapping> ports;
            for (std::size_t i = 3; i < args.size(); ++i)
                ports.push_back(parse_spec(args[i]));
            HostPortPublisher().publish_ports(args[1], args[2], ports);
        } else if (args.size() == 2 && args[0] == "unpublish") {
            HostPortPublisher().unpublish_ports(args[1]);
        } else if (args.size() == 2 && args[0] == "list") {
            for (const auto& port : HostPortPublisher().published_ports(args[1]))
                std::cout << port.host_port << ":" << port.container_port << "/" << to_string(port.protocol) << "\n";
        } else {
            std::cerr << "usage: demo-publisher publish TASK IP HOST:CONTAINER[/PROTO]... | unpublish TASK | list TASK\n";
            return 2;
        }
    } catch (const Error& e) {
        std::cerr << "demo-publisher: " << e.what() << "\n";
        return 1;
    } catch (const std::invalid_argument& e) {
        std::cerr << "demo-publisher: " << e.what() << "\n";
        return 2;
    }
    return 0;
}
