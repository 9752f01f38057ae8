// SPDX-License-Identifier: Apache-2.0
// The network of the dual-stack tests: a client, the host and three containers on a bridge, each with
// an IPv4 and an IPv6 address, as a container runtime lays out a host.
#pragma once

#include "netns.hpp"

#include <string>

namespace sandbox {

//   client ns                       host ns (the caller's)                  containers
//   eth0 10.200.1.2/24   <-veth->   kt-client 10.200.1.1/24
//        fd00:200:1::2/64                     fd00:200:1::1/64
//                                   kt-br0    10.200.2.1/24      (bridge)
//                                             fd00:200:2::1/64
//                                     kt-c1 <-veth-> first:  eth0 10.200.2.2/24 fd00:200:2::2/64
//                                     kt-c2 <-veth-> second: eth0 10.200.2.3/24 fd00:200:2::3/64
//                                     kt-c3 <-veth-> third:  eth0 10.200.2.4/24 fd00:200:2::4/64
// Client and containers route everything via the host, which forwards both families. Duplicate
// address detection is off in every namespace, so every address is usable when the constructor
// returns.
struct DualStackTopology {
    static constexpr const char* client_ip = "10.200.1.2";
    static constexpr const char* client_ipv6 = "fd00:200:1::2";
    static constexpr const char* host_client_side_ip = "10.200.1.1";
    static constexpr const char* host_client_side_ipv6 = "fd00:200:1::1";
    static constexpr const char* host_bridge_ip = "10.200.2.1";
    static constexpr const char* host_bridge_ipv6 = "fd00:200:2::1";
    static constexpr const char* first_ip = "10.200.2.2";
    static constexpr const char* first_ipv6 = "fd00:200:2::2";
    static constexpr const char* second_ip = "10.200.2.3";
    static constexpr const char* second_ipv6 = "fd00:200:2::3";
    static constexpr const char* third_ip = "10.200.2.4";
    static constexpr const char* third_ipv6 = "fd00:200:2::4";
    // Interface names in the host namespace.
    static constexpr const char* client_link = "kt-client";
    static constexpr const char* bridge = "kt-br0";
    static constexpr const char* first_link = "kt-c1";
    static constexpr const char* second_link = "kt-c2";
    static constexpr const char* third_link = "kt-c3";

    DualStackTopology();  // builds it around the calling thread's namespace, which becomes the host

    // Makes the client a malicious neighbour (CVE-2020-8558): it sends packets for 127.0.0.0/8 to
    // the host instead of its own loopback, and accepts answers from 127.0.0.0/8 on its link.
    void route_client_loopback_to_host() const;

    Netns host;
    Netns client;
    Netns first;
    Netns second;
    Netns third;  // the third backend of the ingress tests; the others leave it idle
};

// The IPv6 addresses of `netns` that are still tentative (duplicate address detection running), as
// `ip -6 addr show tentative` lists them; empty when all are usable.
std::string tentative_ipv6_addresses(const Netns& netns);

}  // namespace sandbox
