// SPDX-License-Identifier: Apache-2.0
// Methods `nft-cli` (one `nft -f -` process per publish) and `libnftables` (nft's library in process,
// nft_run_cmd_from_buffer). Both write exactly what warren-nft writes, as nft text, into the tables
// warren-nft created (ip warren, and ip6 warren for tasks with an IPv6 address): the same kernel
// work, so the difference is the tooling (process start, parsing, nft's cache of the ruleset).
#include "method.hpp"
#include "tool_process.hpp"

#ifdef WARREN_BENCH_HAVE_LIBNFTABLES
#include <nftables/libnftables.h>
#endif

#include <memory>
#include <utility>
#include <stdexcept>

namespace bench {
namespace {

// One element statement per table the service has an address for: one script, one transaction.
std::string elements_script(const Task& service, bool add)
{
    const std::string verb = add ? "add" : "delete";
    std::string script;
    using Table = std::pair<const char*, const std::string*>;
    for (const auto& [table, container_ip] : {Table{"ip", &service.container_ip}, Table{"ip6", &service.container_ipv6}}) {
        if (container_ip->empty())
            continue;
        std::string ports;
        for (const auto& port : service.ports) {
            ports += ports.empty() ? "" : ", ";
            ports += std::string(warren::nft::to_string(port.protocol)) + " . " + std::to_string(port.host_port);
            if (add)  // nft wants an element's comment on its key, before the mapped value
                ports += " comment \"task=" + service.id + "\" : " + *container_ip + " . " + std::to_string(port.container_port);
        }
        // The ports-map elements only: warren-nft's tables do not count, so they have no backends set.
        script += verb + " element " + table + " warren ports { " + ports + " }\n";
    }
    return script;
}

class NftCli final : public Method {
public:
    void prepare(std::span<const Task> filler, AddressFamily family) override { publish_with_library(filler, family); }
    void publish(const Task& service) override { run_tool({"nft", "-f", "-"}, elements_script(service, true)); }
    void unpublish(const Task& service) override { run_tool({"nft", "-f", "-"}, elements_script(service, false)); }
};

#ifdef WARREN_BENCH_HAVE_LIBNFTABLES
class Libnftables final : public Method {
public:
    Libnftables() : context_(nft_ctx_new(NFT_CTX_DEFAULT))
    {
        if (!context_)
            throw std::runtime_error("libnftables: nft_ctx_new failed");
        nft_ctx_buffer_output(context_.get());
        nft_ctx_buffer_error(context_.get());
    }
    void prepare(std::span<const Task> filler, AddressFamily family) override { publish_with_library(filler, family); }
    void publish(const Task& service) override { run(elements_script(service, true)); }
    void unpublish(const Task& service) override { run(elements_script(service, false)); }

private:
    void run(const std::string& script)
    {
        if (nft_run_cmd_from_buffer(context_.get(), script.c_str()) != 0)
            throw std::runtime_error("libnftables refused `" + script + "`: " + nft_ctx_get_error_buffer(context_.get()));
    }

    struct Free {
        void operator()(nft_ctx* context) const noexcept { nft_ctx_free(context); }
    };
    std::unique_ptr<nft_ctx, Free> context_;
};
#endif

}  // namespace

MethodInfo nft_cli_method()
{
    return {"nft-cli", "one `nft -f -` process per publish, the same elements as text", [] { return missing_program("nft"); },
            [] { return std::make_unique<NftCli>(); }};
}

MethodInfo libnftables_method()
{
#ifdef WARREN_BENCH_HAVE_LIBNFTABLES
    return {"libnftables", "nft_run_cmd_from_buffer in process, the same elements as text",
            [] { return std::optional<std::string>(); }, [] { return std::make_unique<Libnftables>(); }};
#else
    return {"libnftables", "nft_run_cmd_from_buffer in process, the same elements as text",
            [] { return std::optional<std::string>("built without libnftables (install libnftables-dev and rebuild)"); },
            []() -> std::unique_ptr<Method> { throw std::logic_error("libnftables is not built in"); }};
#endif
}

}  // namespace bench
