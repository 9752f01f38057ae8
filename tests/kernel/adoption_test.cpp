// SPDX-License-Identifier: Apache-2.0
// Adopting a table ip warren that someone else made or changed: what the publish repairs in its own
// transaction (a dormant table, a chain's policy drop), checked with real traffic, and what it
// refuses before sending anything (sets that would expire, match ranges or fill up; a table owned by
// another process), checked against the kernel's state before and after; and elements whose comments
// a publisher never writes (written with nft), which it reports as foreign, escaped.
#include "hostile_comments.hpp"
#include "owned_table.hpp"
#include "printable.hpp"
#include "support.hpp"
#include "traffic.hpp"

#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>

using namespace kt;
using Catch::Matchers::Contains;
using warren::nft::printable;

namespace {

constexpr std::uint16_t container_port = 8080;
constexpr std::uint16_t host_port = 18080;

const std::vector<PortMapping> web{tcp(host_port, container_port, "web")};

// Whether a client outside reaches the container through the published port.
bool reaches(const Topology& net)
{
    const auto r =
        exchange(net.client, Transport::tcp, Topology::host_client_side_ip, host_port, "hello", std::chrono::milliseconds(700));
    INFO(r.error);
    return r.replied && r.reply == "web:hello";
}

const std::string remove_table = "; remove the table with `nft delete table ip warren` and publish again";

}  // namespace

TEST_CASE_METHOD(FreshNetns, "a dormant table is woken by the publish that adopts it, and traffic flows", "[adopt][traffic]")
{
    const Topology net;
    const EchoServer server(net.container, Transport::tcp, container_port, "web");
    // The publish creates chains, or updates them, or both: the kernel takes the wake only between.
    enum class Before { nothing, published, damaged };
    const auto before = GENERATE(Before::nothing, Before::published, Before::damaged);
    INFO((before == Before::nothing     ? "an empty table created dormant"
          : before == Before::published ? "a table that carried traffic, made dormant"
                                        : "a table without its output chain, with policy drop in forward, made dormant"));
    if (before != Before::nothing) {
        HostPortPublisher(PublisherOptions{}).publish_ports("web-1", Topology::container_ip, web);
        REQUIRE(reaches(net));
    }
    if (before == Before::damaged) {
        nft({"delete", "chain", "ip", "warren", "output"});
        nft({"chain", "ip", "warren", "forward", "{ policy drop; }"});
    }
    // What users did: nft keeps the table and its elements, but unhooks every chain.
    nft({"add", "table", "ip", "warren", "{ flags dormant; }"});
    REQUIRE_THAT(warren_table(), Contains("flags dormant"));
    CHECK_FALSE(reaches(net));

    // A publisher that did not write the table: the same ports again are enough.
    HostPortPublisher publisher;
    publisher.publish_ports("web-1", Topology::container_ip, web);
    const auto listing = warren_table();
    INFO(listing);
    CHECK_THAT(listing, !Contains("dormant") && !Contains("policy drop") && Contains("chain output"));
    CHECK(kernel_ports() == std::vector{kernel_port("web-1", Topology::container_ip, web[0])});
    CHECK(reaches(net));
}

TEST_CASE_METHOD(FreshNetns, "a chain of ours with policy drop is set back to accept by the next publish", "[adopt]")
{
    HostPortPublisher(PublisherOptions{}).publish_ports("web-1", "10.88.0.2", web);
    nft({"chain", "ip", "warren", "prerouting", "{ policy drop; }"});
    REQUIRE_THAT(nft({"list", "chain", "ip", "warren", "prerouting"}), Contains("policy drop"));

    HostPortPublisher publisher;
    publisher.publish_ports("web-2", "10.88.0.3", std::vector{tcp(28080, 80)});
    const auto listing = warren_table();
    INFO(listing);
    CHECK_THAT(listing, !Contains("policy drop"));
    CHECK_THAT(nft({"list", "chain", "ip", "warren", "prerouting"}), Contains("policy accept"));
    CHECK(kernel_ports().size() == 2);
}

TEST_CASE_METHOD(FreshNetns, "sets that would expire, match ranges or fill up are refused and nothing changes", "[adopt]")
{
    struct Case {
        std::string declaration;  // of map ports, as nft reads it
        std::string message;
    };
    const std::string type = "type inet_proto . inet_service : ipv4_addr . inet_service; ";
    const std::vector<Case> cases{
        {type + "flags timeout; timeout 2s;", "map ip warren ports has flags timeout: its elements would expire"},
        {type + "flags interval;",
         "map ip warren ports has flags interval: its elements are ranges of keys, not the single ports warren-nft writes"},
        {type + "size 2;",
         "map ip warren ports has size 2: the kernel takes no more than 2 elements and refuses more with ENFILE "
         "(\"Too many open files in system\"), so publishing would fail once it is full"},
        {type + "flags dynamic;", "map ip warren ports has flags dynamic: rules may add elements to it that no task published"},
        {type + "flags constant;", "map ip warren ports has flags constant: the kernel refuses to add or delete its elements"},
        {"type inet_service : ipv4_addr;",
         "map ip warren ports is of another layout (its key type and value type differ from warren-nft's): it was made "
         "by another program or version"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.declaration)
        {
            nft_script("table ip warren {\n\tmap ports { " + c.declaration + " }\n}\n");
            const auto before = ruleset();
            HostPortPublisher publisher;
            const auto e = expect_error([&] { publisher.publish_ports("web-1", "10.88.0.2", web); });
            INFO(describe(e));
            CHECK(e.code() == errc::kernel_error);
            CHECK(e.kernel_errno() == 0);
            CHECK(std::string(e.what()) == c.message + remove_table + ": kernel error");
            CHECK(ruleset() == before);
            // The advice works: without the table, the same publish succeeds.
            nft({"delete", "table", "ip", "warren"});
            publisher.publish_ports("web-1", "10.88.0.2", web);
            CHECK(kernel_ports().size() == 1);
        }
    }
}

TEST_CASE_METHOD(FreshNetns, "a table owned by another process is refused with its own message", "[adopt]")
{
    OwnedTable owned;
    const auto& snapshot = owned.snapshot();
    CHECK(snapshot.table_flags == NFT_TABLE_F_OWNER);
    // A socket's automatic port id is its process id, when free: how `ss -f netlink -p` finds it.
    REQUIRE(snapshot.owner == static_cast<std::uint32_t>(owned.owner()));
    CHECK_FALSE(snapshot.owned_by_us);

    // Others may read an owned table; any change of theirs, nft's too, is refused with EPERM.
    const auto before = warren_table();
    CHECK_THAT(before, Contains("flags owner"));
    Command add_chain;
    add_chain.argv = {"nft", "add", "chain", "ip", "warren", "c"};
    CHECK_THAT(run(add_chain).err, Contains("Operation not permitted"));

    HostPortPublisher publisher;
    const auto e = expect_error([&] { publisher.publish_ports("web-1", "10.88.0.2", web); });
    INFO(describe(e));
    CHECK(e.code() == errc::kernel_error);
    CHECK(e.kernel_errno() == 0);  // refused before anything was sent
    CHECK(std::string(e.what()) ==
          "table ip warren is owned by another process (netlink port id " + std::to_string(owned.owner()) +
              "): only that process may change it; the kernel deletes the table when that process closes its netlink "
              "socket, so stop it (`ss -f netlink -p` names the process with that port id) or have it delete the "
              "table, then publish again: kernel error");
    CHECK(warren_table() == before);

    // As the message says: once the owner is gone, so is its table, and publishing works.
    owned.release();
    CHECK_FALSE(warren_table_exists());
    publisher.publish_ports("web-1", "10.88.0.2", web);
    CHECK(kernel_ports() == std::vector{kernel_port("web-1", "10.88.0.2", web[0])});
}

namespace {

bool printable_ascii(std::string_view text)
{
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// The foreign elements of `ports` (task id "") by host port; fails on any other port but `own`'s.
std::map<std::uint16_t, PublishedPort> foreign_ports(const std::vector<PublishedPort>& ports, const std::string& own)
{
    std::map<std::uint16_t, PublishedPort> foreign;
    for (const auto& port : ports) {
        INFO(port);
        CHECK(printable_ascii(port.task_id));
        CHECK(printable_ascii(port.mapping.name));
        if (port.task_id == own)
            continue;
        CHECK(port.task_id.empty());
        foreign.emplace(port.mapping.host_port, port);
    }
    return foreign;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "elements with comments a publisher never writes are adopted as foreign, escaped",
                 "[adopt][untrusted]")
{
    HostPortPublisher publisher;
    publisher.publish_ports("web-1", "10.88.0.2", web);
    nft_script(untrusted::nft_script());
    // The running publisher follows them from the kernel's announcements, a new one reads them from
    // the table: the same rules both ways.
    HostPortPublisher adopter;
    for (const auto* reader : {&publisher, &adopter}) {
        const auto foreign = foreign_ports(reader->all_published_ports(), "web-1");
        REQUIRE(foreign.size() == untrusted::elements().size());
        for (const auto& hostile : untrusted::elements()) {
            INFO(printable(hostile.comment));
            const auto& port = foreign.at(hostile.host_port);
            CHECK(port.mapping.name == printable(hostile.comment));
            CHECK(port.container_ip == untrusted::destination_ip);
            CHECK(port.mapping.container_port == 80);
        }
        CHECK(reader->published_ports("web-1") == web);
    }

    // The publishers' own tasks work as ever, and leave the foreign elements alone.
    const std::vector<PortMapping> api{tcp(18081, 8081)};
    adopter.publish_ports("api", "10.88.0.3", api);
    publisher.unpublish_ports("web-1");
    CHECK(publisher.published_ports("api") == api);
    CHECK(adopter.published_ports("web-1").empty());
    const auto listing = warren_table();
    for (const auto& hostile : untrusted::elements())
        CHECK_THAT(listing, Contains("tcp . " + std::to_string(hostile.host_port) + " comment \""));
    CHECK(foreign_ports(adopter.all_published_ports(), "api").size() == untrusted::elements().size());
}
