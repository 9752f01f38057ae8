// SPDX-License-Identifier: Apache-2.0
#include "dual_stack_topology.hpp"

#include "process.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

namespace sandbox {

namespace {

// Addresses are usable at once: no duplicate address detection on links created from now on in the
// calling thread's namespace (`default`) nor on those that exist (`all`).
void skip_duplicate_address_detection()
{
    write_net_sysctl("net/ipv6/conf/all/accept_dad", "0");
    write_net_sysctl("net/ipv6/conf/default/accept_dad", "0");
}

void ip_batch(const Netns* netns, const std::string& script, std::vector<int> pass_fds = {})
{
    Command command;
    command.argv = {"ip", "-batch", "-"};
    command.netns = netns;
    command.pass_fds = std::move(pass_fds);
    command.input = script;
    check_output(command);
}

// The namespace's only link to the host: eth0 with one address of each family and default routes
// via the host's addresses on that link.
void set_up_peer(const Netns& netns, const std::string& ip, const std::string& ipv6, const std::string& gateway,
                 const std::string& gateway_ipv6)
{
    ip_batch(&netns, "addr add " + ip + "/24 dev eth0\n" + "addr add " + ipv6 + "/64 dev eth0 nodad\n" +
                         "link set eth0 up\n"
                         "link set lo up\n"
                         "route add default via " +
                         gateway + "\n" + "route add ::/0 via " + gateway_ipv6 + "\n");
}

void wait_until_no_tentative_addresses(const Netns& netns, const char* name)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        const auto tentative = tentative_ipv6_addresses(netns);
        if (tentative.empty())
            return;
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error(std::string("IPv6 addresses of the ") + name + " namespace still tentative after 5 s:\n" +
                                     tentative);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace

DualStackTopology::DualStackTopology()
    : host(Netns::current()), client(Netns::create()), first(Netns::create()), second(Netns::create()), third(Netns::create())
{
    for (const Netns* netns : {&client, &first, &second, &third})
        netns->run(skip_duplicate_address_detection);
    skip_duplicate_address_detection();
    write_net_sysctl("net/ipv4/ip_forward", "1");
    write_net_sysctl("net/ipv6/conf/all/forwarding", "1");

    // The veth peers are created straight in the client and container namespaces (fds 3 to 6).
    // Without STP a bridge port forwards at once; snooping is off so that neighbour discovery's
    // multicast is simply flooded. Hairpin mode on the ports, as container runtimes set it: where
    // br_netfilter is loaded, a container's connection to a host port DNATed back to itself is
    // bridged out of the port it came in by.
    ip_batch(nullptr,
             std::string("link add ") + client_link + " type veth peer name eth0 netns /proc/self/fd/3\n" + "link add " + bridge +
                 " type bridge forward_delay 0 mcast_snooping 0\n" + "link add " + first_link +
                 " type veth peer name eth0 netns /proc/self/fd/4\n" + "link add " + second_link +
                 " type veth peer name eth0 netns /proc/self/fd/5\n" + "link add " + third_link +
                 " type veth peer name eth0 netns /proc/self/fd/6\n" + "link set " + first_link + " master " + bridge + "\n" +
                 "link set " + second_link + " master " + bridge + "\n" + "link set " + third_link + " master " + bridge + "\n" +
                 "link set " + first_link + " type bridge_slave hairpin on\n" + "link set " + second_link +
                 " type bridge_slave hairpin on\n" + "link set " + third_link + " type bridge_slave hairpin on\n" + "addr add " +
                 host_client_side_ip + "/24 dev " + client_link + "\n" + "addr add " + host_client_side_ipv6 + "/64 dev " +
                 client_link + " nodad\n" + "addr add " + host_bridge_ip + "/24 dev " + bridge + "\n" + "addr add " +
                 host_bridge_ipv6 + "/64 dev " + bridge + " nodad\n" + "link set lo up\n" + "link set " + client_link + " up\n" +
                 "link set " + bridge + " up\n" + "link set " + first_link + " up\n" + "link set " + second_link + " up\n" +
                 "link set " + third_link + " up\n",
             {client.fd(), first.fd(), second.fd(), third.fd()});

    set_up_peer(client, client_ip, client_ipv6, host_client_side_ip, host_client_side_ipv6);
    set_up_peer(first, first_ip, first_ipv6, host_bridge_ip, host_bridge_ipv6);
    set_up_peer(second, second_ip, second_ipv6, host_bridge_ip, host_bridge_ipv6);
    set_up_peer(third, third_ip, third_ipv6, host_bridge_ip, host_bridge_ipv6);

    wait_until_no_tentative_addresses(host, "host");
    wait_until_no_tentative_addresses(client, "client");
    wait_until_no_tentative_addresses(first, "first container's");
    wait_until_no_tentative_addresses(second, "second container's");
    wait_until_no_tentative_addresses(third, "third container's");
}

void DualStackTopology::route_client_loopback_to_host() const
{
    // The local table is looked up before main: without its loopback routes, 127.0.0.0/8 follows the
    // route via the host. On eth0, route_localnet lets the answers from 127.0.0.1 in, and
    // accept_local keeps them from being taken for martians with the client's own source address
    // (127.0.0.1 is still an address of its lo).
    ip_batch(&client, std::string("route del local 127.0.0.0/8 dev lo table local\n") +
                          "route del local 127.0.0.1 dev lo table local\n" + "route add 127.0.0.0/8 via " + host_client_side_ip +
                          " dev eth0\n");
    client.run([] {
        write_net_sysctl("net/ipv4/conf/eth0/route_localnet", "1");
        write_net_sysctl("net/ipv4/conf/eth0/accept_local", "1");
    });
}

std::string tentative_ipv6_addresses(const Netns& netns)
{
    Command command;
    command.argv = {"ip", "-6", "-o", "addr", "show", "tentative"};
    command.netns = &netns;
    return check_output(command);
}

}  // namespace sandbox
