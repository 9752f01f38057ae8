// SPDX-License-Identifier: Apache-2.0
#include "netlink/route.hpp"

#include "kernel_error.hpp"
#include "netlink/socket.hpp"
#include "printable.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
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

std::optional<layout::Address> interface_address(const nlmsghdr* message)
{
    if (message->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(ifaddrmsg))
        throw kernel_error(EPROTO, "dump the host's addresses", "the kernel sent an address message too short to read");
    const auto* header = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(message));
    if (header->ifa_family != AF_INET && header->ifa_family != AF_INET6)
        return std::nullopt;
    const auto family = header->ifa_family == AF_INET ? layout::Family::ip : layout::Family::ip6;
    const std::size_t size = family == layout::Family::ip ? 4 : 16;
    std::optional<std::span<const std::uint8_t>> local;
    std::optional<std::span<const std::uint8_t>> address;
    bool malformed = false;
    const std::size_t offset = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(ifaddrmsg));
    if (message->nlmsg_len > offset)
        for_each_attribute(reinterpret_cast<const std::uint8_t*>(message) + offset, message->nlmsg_len - offset,
                           [&](const nlattr* attr) {
                               const auto type = mnl_attr_get_type(attr);
                               if (type != IFA_LOCAL && type != IFA_ADDRESS)
                                   return;
                               if (mnl_attr_get_payload_len(attr) != size) {
                                   malformed = true;
                                   return;
                               }
                               const std::span bytes(static_cast<const std::uint8_t*>(mnl_attr_get_payload(attr)), size);
                               (type == IFA_LOCAL ? local : address) = bytes;
                           });
    if (malformed)
        throw kernel_error(EPROTO, "dump the host's addresses", "the kernel sent an address of another length than its family's");
    if (local)
        return layout::address_from(family, *local);
    if (address)
        return layout::address_from(family, *address);
    return std::nullopt;
}

std::vector<layout::Address> host_addresses()
{
    Socket socket(NETLINK_ROUTE, "rtnetlink");
    std::vector<std::uint8_t> buffer(MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(ifaddrmsg)));
    auto* nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = RTM_GETADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    const std::uint32_t seq = socket.next_seq();
    nlh->nlmsg_seq = seq;
    auto* request = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    request->ifa_family = AF_UNSPEC;
    socket.send({buffer.data(), nlh->nlmsg_len});
    std::vector<layout::Address> addresses;
    const int err = receive_answer(socket, seq, [&](const nlmsghdr* message) {
        if (message->nlmsg_type == RTM_NEWADDR)
            if (const auto address = interface_address(message))
                addresses.push_back(*address);
    });
    if (err != 0)
        throw kernel_error(err, "dump the host's addresses");
    return addresses;
}

}  // namespace warren::nft::netlink
