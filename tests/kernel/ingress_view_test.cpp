// SPDX-License-Identifier: Apache-2.0
// The ingress view over the real kernel (docs/ingress.md, "The ingress view"): a plain publisher
// reads the ingress elements once and then follows the kernel's announcements, so what nft and
// another publisher change behind its back is what its next call plans from.
#include "nft_state.hpp"
#include "support.hpp"

using namespace kt;
using Catch::Matchers::Contains;
using warren::nft::IngressBackend;

namespace {

// How many times `needle` occurs in table ip warren's `set` as nft lists it.
std::size_t listed(const std::string& set, const std::string& needle)
{
    const auto listing = nft({"list", set == "ingress" ? "map" : "set", "ip", "warren", set});
    std::size_t count = 0;
    for (auto at = listing.find(needle); at != std::string::npos; at = listing.find(needle, at + 1))
        ++count;
    return count;
}

}  // namespace

TEST_CASE_METHOD(FreshNetns, "ingress elements nft or another publisher change are seen by the next ingress call",
                 "[ingress][follow]")
{
    HostPortPublisher publisher;
    const std::vector web{ingress(tcp(18080, 80))};
    const std::vector<IngressBackend> two{{"10.88.0.5"}, {"10.88.0.6"}};
    publisher.publish_ingress("web", web, two);
    REQUIRE(listed("ingress", "tcp . 18080 . ") == 256);

    // Slots and a record deleted with nft: publishing the same again writes them back (a view that
    // missed the deletion would send nothing).
    nft({"delete", "element", "ip", "warren", "ingress", "{ tcp . 18080 . 0, tcp . 18080 . 200 }"});
    nft({"delete", "element", "ip", "warren", "ingress_backends", "{ tcp . 18080 . 10.88.0.6 . 80 }"});
    REQUIRE(listed("ingress", "tcp . 18080 . ") == 254);
    publisher.publish_ingress("web", web, two);
    CHECK(listed("ingress", "tcp . 18080 . ") == 256);
    CHECK(listed("ingress", ": 10.88.0.5 . 80") == 128);
    CHECK_THAT(nft({"list", "set", "ip", "warren", "ingress_backends"}),
               Contains("tcp . 18080 . 10.88.0.6 . 80 comment \"task=web weight=1\""));

    // An orphan slot added with nft (no claim of port 18081): the next ingress change deletes it.
    nft({"add", "element", "ip", "warren", "ingress", "{ tcp . 18081 . 7 : 10.88.0.66 . 80 }"});
    REQUIRE(listed("ingress", "tcp . 18081 . ") == 1);
    publisher.drain_backend("web", "10.88.0.6");
    CHECK(listed("ingress", "tcp . 18081 . ") == 0);
    CHECK(listed("ingress", ": 10.88.0.5 . 80") == 256);

    // A slot nft points elsewhere (deleted and added again): the next change sees the damage and
    // sends it back to an active backend, deleting the element nft wrote (not one it imagines).
    nft({"delete", "element", "ip", "warren", "ingress", "{ tcp . 18080 . 9 }"});
    nft({"add", "element", "ip", "warren", "ingress", "{ tcp . 18080 . 9 : 10.88.0.66 . 80 }"});
    publisher.publish_ingress("web", web, std::vector<IngressBackend>{{"10.88.0.5"}, {"10.88.0.7"}});
    CHECK(listed("ingress", "10.88.0.66") == 0);
    CHECK(listed("ingress", "tcp . 18080 . ") == 256);
    CHECK(listed("ingress", ": 10.88.0.5 . 80") == 128);
    CHECK(listed("ingress", ": 10.88.0.7 . 80") == 128);

    // Another publisher claims a port and lets another go: the first sees both.
    HostPortPublisher other;
    other.publish_ingress("db", std::vector{ingress(tcp(18090, 80))}, std::vector<IngressBackend>{{"10.88.0.8"}});
    CHECK(expect_error([&] {
              publisher.publish_ingress("mine", std::vector{ingress(tcp(18090, 80))}, std::vector<IngressBackend>{{"10.88.0.9"}});
          }).code() == errc::port_conflict);
    other.unpublish_ports("db");
    publisher.publish_ingress("mine", std::vector{ingress(tcp(18090, 80))}, std::vector<IngressBackend>{{"10.88.0.9"}});
    CHECK(listed("ingress", ": 10.88.0.9 . 80") == 256);

    // The claim deleted with nft: the service's slots and records are leftovers now, deleted by the
    // next ingress change; its unpublish has nothing left to delete.
    nft({"delete", "element", "ip", "warren", "ports", "{ tcp . 18080 }"});
    publisher.unpublish_ports("mine");
    CHECK(listed("ingress", "tcp . 18080 . ") == 0);
    CHECK(listed("ingress_backends", "tcp . 18080 . ") == 0);
    CHECK(listed("ingress", "tcp . 18090 . ") == 0);
    publisher.unpublish_ports("web");
    CHECK(publisher.ingress_services().empty());
}
