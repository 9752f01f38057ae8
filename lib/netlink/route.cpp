// SPDX-License-Identifier: Apache-2.0
#include "netlink/route.hpp"

#include "kernel_error.hpp"
#include "netlink/socket.hpp"
#include "printable.hpp"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

namespace warren::nft::netlink {

namespace {

using MnlSocket = std::unique_ptr<mnl_socket, int (*)(mnl_socket*)>;

std::string dotted(const std::array<std::uint8_t, 4>& a)
{
    return std::to_string(a[0]) + '.' + std::to_string(a[1]) + '.' + std::to_string(a[2]) + '.' + std::to_string(a[3]);
}

}  // namespace

std::uint32_t output_interface(std::span<const std::uint8_t> answer, const std::string& what)
{
    const auto* reply = reinterpret_cast<const nlmsghdr*>(answer.data());
    if (!message_ok(reply, static_cast<int>(answer.size())))
        throw kernel_error(EPROTO, what, "the kernel's answer does not parse");
    if (reply->nlmsg_type == NLMSG_ERROR) {
        const int error = parse_ack(reply).error;
        throw kernel_error(error ? error : EPROTO, what, "no route to the container");
    }
    std::uint32_t oif = 0;
    mnl_attr_parse(
        reply, sizeof(rtmsg),
        [](const nlattr* attr, void* data) {
            if (mnl_attr_get_type(attr) == RTA_OIF && mnl_attr_get_payload_len(attr) >= sizeof(std::uint32_t))
                *static_cast<std::uint32_t*>(data) = mnl_attr_get_u32(attr);
            return MNL_CB_OK;
        },
        &oif);
    return oif;
}

std::string interface_towards(const std::array<std::uint8_t, 4>& destination)
{
    const std::string what = "find the interface towards " + dotted(destination);
    MnlSocket socket(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC), mnl_socket_close);
    if (!socket || mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        throw kernel_error(errno, what);
    std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
    auto* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = 1;
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 32;
    mnl_attr_put(nlh, RTA_DST, destination.size(), destination.data());
    if (mnl_socket_sendto(socket.get(), nlh, nlh->nlmsg_len) < 0)
        throw kernel_error(errno, what);
    const auto received = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
    if (received < 0)
        throw kernel_error(errno, what);
    const std::uint32_t oif =
        output_interface({reinterpret_cast<const std::uint8_t*>(buffer.data()), static_cast<std::size_t>(received)}, what);
    char name[IF_NAMESIZE] = {};
    if (oif == 0 || !if_indextoname(oif, name))
        throw kernel_error(oif == 0 ? ENODEV : errno, what, "the route names no interface");
    return name;
}

void enable_route_localnet(const std::array<std::uint8_t, 4>& container)
{
    const auto interface = interface_towards(container);
    // A name from the kernel, but it becomes part of a path: nothing that could leave the directory.
    if (interface.empty() || interface == "." || interface == ".." || interface.find('/') != std::string::npos)
        throw kernel_error(EINVAL, "enable route_localnet",
                           "interface name " + printable(interface) + " is not usable in a path");
    const std::string path = "/proc/sys/net/ipv4/conf/" + interface + "/route_localnet";
    {
        std::ifstream current(path);
        std::string value;
        if (current && std::getline(current, value) && value == "1")
            return;
    }
    std::ofstream out(path);
    out << "1\n";
    out.flush();
    if (!out)
        throw kernel_error(
            errno ? errno : EIO, "enable route_localnet on " + printable(interface),
            "connections from 127.0.0.1 to a port published there cannot reach the container; " + path + " could not be written");
}

}  // namespace warren::nft::netlink
