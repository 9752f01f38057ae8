// SPDX-License-Identifier: Apache-2.0
// A consumer of the installed warren-nft: includes only the public umbrella header and uses the
// public API types without privileges (it never opens a netlink socket). Built and run by
// tools/check-install.sh against a DESTDIR install, and as a meson subproject consumer.
#include <warren/nft.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace nft = warren::nft;

namespace {

int failures = 0;

void check(bool ok, const char* what)
{
    if (!ok) {
        std::fprintf(stderr, "app: check failed: %s\n", what);
        ++failures;
    }
}

}  // namespace

int main()
{
    nft::PortMapping mapping;
    mapping.host_port = 8080;
    mapping.container_port = 80;
    mapping.protocol = nft::Protocol::udp;
    mapping.publish_mode = nft::PublishMode::host;
    mapping.name = "web";
    nft::PortMapping copy = mapping;
    check(copy == mapping, "PortMapping equality");

    nft::PublishedPort published{"task-1", "10.0.0.2", mapping};
    check(published.mapping.host_port == 8080, "PublishedPort holds its mapping");

    check(nft::to_string(nft::Protocol::udp) == "udp", "to_string(Protocol::udp)");
    check(nft::to_string(nft::PublishMode::ingress) == "ingress", "to_string(PublishMode::ingress)");

    std::error_code code = nft::make_error_code(nft::errc::port_conflict);
    check(code == nft::errc::port_conflict, "error_code compares equal to its errc");
    check(std::string_view(code.category().name()) == "warren-nft", "error category name");
    check(!code.message().empty(), "port_conflict has a message");
    check(code.message() != nft::make_error_code(nft::errc::kernel_error).message(),
          "port_conflict and kernel_error messages differ");

    try {
        throw nft::Error(nft::errc::port_conflict, "tcp 8080 is taken", 0, "publish task-1");
    } catch (const std::system_error& e) {
        const auto* error = dynamic_cast<const nft::Error*>(&e);
        check(error != nullptr, "Error derives from std::system_error");
        check(e.code() == nft::errc::port_conflict, "Error::code()");
        check(std::string_view(e.what()).find("tcp 8080 is taken") != std::string_view::npos,
              "Error::what() carries the message");
        if (error) {
            check(error->kernel_errno() == 0, "Error::kernel_errno()");
            check(error->operation() == "publish task-1", "Error::operation()");
        }
    }

    // The publisher itself needs CAP_NET_ADMIN, so it is only named, not constructed: taking
    // member addresses still makes the link resolve its symbols in the installed library.
    static_assert(!std::is_copy_constructible_v<nft::HostPortPublisher>);
    static_assert(nft::HostPortPublisher::max_ports_per_request > 0);
    void (nft::HostPortPublisher::*unpublish)(std::string_view) = &nft::HostPortPublisher::unpublish_ports;
    std::vector<nft::PublishedPort> (nft::HostPortPublisher::*all)() const = &nft::HostPortPublisher::all_published_ports;
    check(unpublish != nullptr && all != nullptr, "HostPortPublisher members resolve");

    nft::KernelFeatures features;
    check(!features.destroy_messages && !features.batch_acks, "KernelFeatures defaults");

    if (failures != 0)
        return 1;
    std::puts("app: OK");
    return 0;
}
