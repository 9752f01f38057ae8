// SPDX-License-Identifier: Apache-2.0
#include "nft_state.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace kt {

std::string nft(std::vector<std::string> args)
{
    args.insert(args.begin(), "nft");
    return check_output(std::move(args));
}

void nft_script(const std::string& script)
{
    Command cmd;
    cmd.argv = {"nft", "-f", "-"};
    cmd.input = script;
    check_output(cmd);
}

std::string settled_listing(const std::vector<std::string>& args)
{
    auto listing = nft(args);
    for (int tries = 0; tries < 5; ++tries) {
        auto again = nft(args);
        if (again == listing)
            break;
        listing = std::move(again);
    }
    return listing;
}

std::string ruleset() { return nft({"list", "ruleset"}); }

std::string warren_table() { return nft({"list", "table", "ip", "warren"}); }

bool warren_table_exists()
{
    Command cmd;
    cmd.argv = {"nft", "list", "table", "ip", "warren"};
    return run(cmd).exit_code == 0;
}

std::string rule_handle(const std::string& family, const std::string& chain, const std::string& comment)
{
    const auto listing = nft({"-a", "list", "chain", family, "warren", chain});
    const auto at = listing.find("comment \"" + comment + "\" # handle ");
    if (at == std::string::npos)
        throw std::runtime_error("no rule with comment \"" + comment + "\" in " + listing);
    const auto handle = at + comment.size() + std::string("comment \"\" # handle ").size();
    return listing.substr(handle, listing.find('\n', handle) - handle);
}

std::size_t listed_elements(const std::string& family, const std::string& map, const std::string& needle)
{
    const auto listing = settled_listing({"list", "map", family, "warren", map});
    std::size_t count = 0;
    for (auto at = listing.find(needle); at != std::string::npos; at = listing.find(needle, at + 1))
        ++count;
    return count;
}

std::string without_ingress_script(const std::string& family)
{
    const std::string table = family + " warren";
    std::string script;
    for (const std::string chain : {"prerouting", "output"}) {
        const auto listing = nft({"-a", "list", "chain", family, "warren", chain});
        for (auto at = listing.find("map @ingress"); at != std::string::npos; at = listing.find("map @ingress", at + 1)) {
            const auto handle = listing.find("# handle ", at) + std::string("# handle ").size();
            script += "delete rule " + table + " " + chain + " handle " +
                      listing.substr(handle, listing.find('\n', handle) - handle) + "\n";
        }
    }
    return script + "delete map " + table + " ingress\ndelete set " + table + " ingress_backends\n";
}

namespace {

using nlohmann::json;

// Checked accessors: each throws when the value is of another type.
const json::array_t& items(const json& value) { return value.get_ref<const json::array_t&>(); }
const std::string& str(const json& value) { return value.get_ref<const std::string&>(); }
long integer(const json& value)
{
    if (!value.is_number())
        throw std::runtime_error("JSON value is not a number: " + value.dump());
    return value.get<long>();
}

// Object member; nullptr when absent or when `value` is no object (find() then returns end()).
const json* member(const json& value, const char* key)
{
    const auto it = value.find(key);
    return it == value.end() ? nullptr : &*it;
}

// The objects of `nft -j ...` output ({"nftables": [ {"metainfo": ...}, {"map": {...}}, ... ]}).
json::array_t nft_objects(const std::vector<std::string>& args)
{
    auto list = args;
    list.insert(list.begin(), "-j");
    const auto document = json::parse(nft(list));
    return items(document.at("nftables"));
}

// An element key or value: a plain value, a concatenation, or {"elem": {"val": ..., "comment": ...}}.
struct ElementPart {
    std::vector<const json*> fields;
    std::string comment;
};

ElementPart element_part(const json& value)
{
    ElementPart part;
    const json* v = &value;
    if (const auto* elem = member(*v, "elem")) {
        if (const auto* comment = member(*elem, "comment"))
            part.comment = str(*comment);
        v = &elem->at("val");
    }
    if (const auto* concat = member(*v, "concat")) {
        for (const auto& field : items(*concat))
            part.fields.push_back(&field);
    } else {
        part.fields.push_back(v);
    }
    return part;
}

std::string protocol_name(const json& value)
{
    if (value.is_string())
        return str(value);
    return "proto-" + std::to_string(integer(value));
}

const json& set_object(const json::array_t& objects, const char* kind)
{
    for (const auto& object : objects)
        if (const auto* found = member(object, kind))
            return *found;
    throw std::runtime_error(std::string("nft -j output holds no ") + kind);
}

}  // namespace

namespace {

// Appends the elements of a {"map": ...} object's value, when it is map ports or bound_ports.
void append_ports(const json& map, std::vector<KernelPort>& ports, bool& have_ports_map)
{
    const auto& name = str(map.at("name"));
    const bool bound = name == "bound_ports";
    if (!bound && name != "ports")
        return;
    have_ports_map = have_ports_map || !bound;
    const auto* elements = member(map, "elem");
    if (!elements)
        return;
    const std::size_t key_fields = bound ? 3 : 2;
    for (const auto& pair : items(*elements)) {
        const auto& kv = items(pair);  // [key, value]
        if (kv.size() != 2)
            throw std::runtime_error("unexpected map element " + pair.dump());
        const auto key = element_part(kv[0]);
        const auto value = element_part(kv[1]);
        if (key.fields.size() != key_fields || value.fields.size() != 2)
            throw std::runtime_error("unexpected map element " + pair.dump());
        const std::size_t at = key_fields - 2;  // where protocol and port start
        ports.push_back(KernelPort{protocol_name(*key.fields[at]), integer(*key.fields[at + 1]), str(*value.fields[0]),
                                   integer(*value.fields[1]), key.comment, bound ? str(*key.fields[0]) : ""});
    }
}

// The elements of a {"set": ...} object's value (set backends), sorted.
std::vector<KernelBackendCounters> backends_of(const json& set)
{
    std::vector<KernelBackendCounters> backends;
    if (const auto* elements = member(set, "elem")) {
        for (const auto& element : items(*elements)) {
            const auto key = element_part(element);
            if (key.fields.size() != 3)
                throw std::runtime_error("unexpected set element " + element.dump());
            KernelBackendCounters backend{
                KernelBackend{str(*key.fields[0]), protocol_name(*key.fields[1]), integer(*key.fields[2])}, 0, 0};
            // {"elem": {"val": ..., "counter": {"packets": N, "bytes": M}}}
            if (const auto* elem = member(element, "elem"))
                if (const auto* counter = member(*elem, "counter")) {
                    backend.packets = integer(counter->at("packets"));
                    backend.bytes = integer(counter->at("bytes"));
                }
            backends.push_back(backend);
        }
    }
    std::sort(backends.begin(), backends.end());
    return backends;
}

}  // namespace

std::vector<KernelPort> kernel_ports()
{
    std::vector<KernelPort> ports;
    bool have_ports_map = false;
    for (const auto& object : nft_objects({"list", "table", "ip", "warren"}))
        if (const auto* map = member(object, "map"))
            append_ports(*map, ports, have_ports_map);
    if (!have_ports_map)
        throw std::runtime_error("table ip warren has no map ports");
    std::sort(ports.begin(), ports.end());
    return ports;
}

std::map<std::string, WarrenTable> warren_tables()
{
    std::map<std::string, WarrenTable> out;
    std::map<std::string, bool> have_ports_map;
    for (const auto& object : nft_objects({"list", "ruleset"})) {
        for (const char* kind : {"table", "map", "set"}) {
            const auto* value = member(object, kind);
            if (!value || str(value->at(std::string(kind) == "table" ? "name" : "table")) != "warren")
                continue;
            const auto& family = str(value->at("family"));
            if (family != "ip" && family != "ip6")
                continue;
            auto& table = out[family];
            if (std::string(kind) == "map")
                append_ports(*value, table.ports, have_ports_map[family]);
            else if (std::string(kind) == "set" && str(value->at("name")) == "backends") {
                table.has_backends = true;
                for (const auto& counted : backends_of(*value))
                    table.backends.push_back(counted.backend);
            }
        }
    }
    for (auto& [family, table] : out) {
        if (!have_ports_map[family])
            throw std::runtime_error("table " + family + " warren has no map ports");
        std::sort(table.ports.begin(), table.ports.end());
    }
    return out;
}

std::vector<KernelBackendCounters> kernel_backend_counters()
{
    return backends_of(set_object(nft_objects({"list", "set", "ip", "warren", "backends"}), "set"));
}

bool kernel_has_backends()
{
    for (const auto& object : nft_objects({"list", "table", "ip", "warren"}))
        if (const auto* set = member(object, "set"); set && str(set->at("name")) == "backends")
            return true;
    return false;
}

bool kernel_backends_counted()
{
    if (!kernel_has_backends())
        return false;
    const auto objects = nft_objects({"list", "set", "ip", "warren", "backends"});
    // {"set": {..., "stmt": [{"counter": null}]}}
    if (const auto* statements = member(set_object(objects, "set"), "stmt"))
        for (const auto& statement : items(*statements))
            if (statement.contains("counter"))
                return true;
    return false;
}

std::vector<KernelBackend> kernel_backends()
{
    std::vector<KernelBackend> backends;
    for (const auto& counted : kernel_backend_counters())
        backends.push_back(counted.backend);
    return backends;
}

std::vector<KernelChain> warren_chains()
{
    std::vector<KernelChain> chains;
    for (const auto& object : nft_objects({"list", "table", "ip", "warren"})) {
        const auto* chain = member(object, "chain");
        if (!chain)
            continue;
        KernelChain c;
        c.name = str(chain->at("name"));
        if (const auto* type = member(*chain, "type"))
            c.type = str(*type);
        if (const auto* hook = member(*chain, "hook"))
            c.hook = str(*hook);
        if (const auto* prio = member(*chain, "prio"))
            c.priority = integer(*prio);
        chains.push_back(c);
    }
    std::sort(chains.begin(), chains.end());
    return chains;
}

std::vector<std::string> tables()
{
    std::vector<std::string> out;
    for (const auto& object : nft_objects({"list", "tables"}))
        if (const auto* table = member(object, "table"))
            out.push_back(str(table->at("family")) + " " + str(table->at("name")));
    std::sort(out.begin(), out.end());
    return out;
}

std::ostream& operator<<(std::ostream& out, const KernelPort& port)
{
    return out << (port.host_ip.empty() ? "" : port.host_ip + " . ") << port.protocol << " . " << port.host_port << " comment \""
               << port.comment << "\" : " << port.container_ip << " . " << port.container_port;
}

std::ostream& operator<<(std::ostream& out, const KernelBackend& backend)
{
    return out << backend.container_ip << " . " << backend.protocol << " . " << backend.port;
}

std::ostream& operator<<(std::ostream& out, const KernelChain& chain)
{
    return out << chain.name << " { type " << chain.type << " hook " << chain.hook << " priority " << chain.priority << " }";
}

// --- nft monitor -------------------------------------------------------------------------------

namespace {
std::string sentinel_table(int n) { return "kt-monitor-sentinel-" + std::to_string(n); }

// Offset just past the "# new generation" line that follows the sentinel's delete, or npos.
std::size_t after_sentinel(const std::string& text, int n, std::size_t from)
{
    const auto del = text.find("delete table ip " + sentinel_table(n) + "\n", from);
    if (del == std::string::npos)
        return std::string::npos;
    const auto gen = text.find("# new generation", del);
    if (gen == std::string::npos)
        return std::string::npos;
    const auto end = text.find('\n', gen);
    return end == std::string::npos ? std::string::npos : end + 1;
}
}  // namespace

Monitor::Monitor() : monitor_({"nft", "monitor"})
{
    // The monitor subscribes some time after it starts: repeat the sentinel until it shows up.
    for (int attempt = 0; attempt < 50; ++attempt) {
        sentinel();
        if (wait_for_sentinel(0)) {
            start_ = after_sentinel(monitor_.output(), sentinels_, 0);
            return;
        }
    }
    throw std::runtime_error("`nft monitor` printed nothing for a test transaction; output so far: " + monitor_.output());
}

void Monitor::sentinel()
{
    ++sentinels_;
    nft_script("add table ip " + sentinel_table(sentinels_) + "\ndelete table ip " + sentinel_table(sentinels_) + "\n");
}

bool Monitor::wait_for_sentinel(std::size_t from)
{
    const int n = sentinels_;
    return monitor_.read_until([&](const std::string& text) { return after_sentinel(text, n, from) != std::string::npos; },
                               std::chrono::milliseconds(200));
}

MonitorLog Monitor::finish()
{
    sentinel();
    // Generous: the wait ends when the sentinel shows. nft monitor falls far behind on element
    // events of sets it did not cache (it warns and reads the set again), and the 6.1 VM emulates
    // its CPU.
    if (!monitor_.read_until(
            [&](const std::string& text) { return after_sentinel(text, sentinels_, start_) != std::string::npos; },
            std::chrono::seconds(60)))
        throw std::runtime_error("`nft monitor` did not report the closing sentinel; output: " + monitor_.output());
    const auto& text = monitor_.output();
    const auto end = text.find("add table ip " + sentinel_table(sentinels_) + "\n", start_);
    MonitorLog log;
    log.text = text.substr(start_, end - start_);
    std::size_t pos = 0;
    while (pos < log.text.size()) {
        auto eol = log.text.find('\n', pos);
        if (eol == std::string::npos)
            eol = log.text.size();
        const auto line = log.text.substr(pos, eol - pos);
        if (!line.empty()) {
            log.lines.push_back(line);
            if (line.starts_with("# new generation"))
                ++log.generations;
        }
        pos = eol + 1;
    }
    return log;
}

}  // namespace kt
