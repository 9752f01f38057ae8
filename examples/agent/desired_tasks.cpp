// SPDX-License-Identifier: Apache-2.0
#include "desired_tasks.hpp"

#include "printable.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>

namespace warren::agent {

namespace {

using nlohmann::json;

// `where` is a JSON pointer: "" for the document, "/tasks/0" for the first task.
[[noreturn]] void fail(const std::string& where, const std::string& what)
{
    throw DesiredTasksError((where.empty() ? "/" : where) + ": " + what);
}

const json& object_at(const json& value, const std::string& where, std::initializer_list<std::string_view> known)
{
    if (!value.is_object())
        fail(where, "expected an object, found " + std::string(value.type_name()));
    // A misspelt key would otherwise be a field silently left at its default.
    for (const auto& item : value.items()) {
        bool is_known = false;
        for (const auto key : known)
            is_known = is_known || item.key() == key;
        if (!is_known)
            fail(where, "unknown key " + nft::quote(item.key()));
    }
    return value;
}

const json* member(const json& object, const std::string& key, const std::string& where, bool required)
{
    const auto found = object.find(key);
    if (found != object.end())
        return &*found;
    if (required)
        fail(where, "missing key \"" + key + "\"");
    return nullptr;
}

std::string string_member(const json& object, const std::string& key, const std::string& where, bool required)
{
    const auto* value = member(object, key, where, required);
    if (value == nullptr)
        return {};
    if (!value->is_string())
        fail(where + "/" + key, "expected a string, found " + std::string(value->type_name()));
    return value->get<std::string>();
}

std::uint16_t port_member(const json& object, const std::string& key, const std::string& where)
{
    const auto& value = *member(object, key, where, true);
    if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > 65535)
        fail(where + "/" + key, "expected a port number from 1 to 65535, found " + nft::excerpt(value.dump()));
    return static_cast<std::uint16_t>(value.get<std::int64_t>());
}

nft::Protocol protocol_member(const json& object, const std::string& where)
{
    const auto* value = member(object, "protocol", where, false);
    if (value == nullptr)
        return nft::Protocol::tcp;
    for (const auto protocol : {nft::Protocol::tcp, nft::Protocol::udp, nft::Protocol::sctp})
        if (value->is_string() && value->get<std::string>() == nft::to_string(protocol))
            return protocol;
    fail(where + "/protocol", "expected \"tcp\", \"udp\" or \"sctp\", found " + nft::excerpt(value->dump()));
}

const json& array_member(const json& object, const std::string& key, const std::string& where)
{
    const auto& value = *member(object, key, where, true);
    if (!value.is_array())
        fail(where + "/" + key, "expected an array, found " + std::string(value.type_name()));
    return value;
}

nft::PortMapping parse_port(const json& value, const std::string& where)
{
    const auto& port = object_at(value, where, {"protocol", "host_port", "container_port", "host_ip", "name"});
    nft::PortMapping mapping;
    mapping.protocol = protocol_member(port, where);
    mapping.host_port = port_member(port, "host_port", where);
    mapping.container_port = port_member(port, "container_port", where);
    mapping.host_ip = string_member(port, "host_ip", where, false);
    mapping.name = string_member(port, "name", where, false);
    return mapping;
}

nft::TaskPorts parse_task(const json& value, const std::string& where)
{
    const auto& task = object_at(value, where, {"task_id", "container_ip", "container_ipv6", "ports"});
    nft::TaskPorts parsed;
    parsed.task_id = string_member(task, "task_id", where, true);
    parsed.container_ip = string_member(task, "container_ip", where, true);
    parsed.container_ipv6 = string_member(task, "container_ipv6", where, false);
    const auto& ports = array_member(task, "ports", where);
    for (std::size_t i = 0; i < ports.size(); ++i)
        parsed.ports.push_back(parse_port(ports[i], where + "/ports/" + std::to_string(i)));
    return parsed;
}

}  // namespace

std::vector<nft::TaskPorts> parse_desired_tasks(std::string_view text)
{
    json document;
    try {
        document = json::parse(text);
    } catch (const json::parse_error& error) {
        // Its message quotes the bytes last read, which may be anything.
        throw DesiredTasksError("not JSON: " + nft::excerpt(error.what(), 200));
    }
    const auto& root = object_at(document, "", {"tasks"});
    const auto& tasks = array_member(root, "tasks", "");
    std::vector<nft::TaskPorts> desired;
    for (std::size_t i = 0; i < tasks.size(); ++i)
        desired.push_back(parse_task(tasks[i], "/tasks/" + std::to_string(i)));
    return desired;
}

std::vector<nft::TaskPorts> load_desired_tasks(const std::string& path)
{
    const auto shown = nft::printable(path);
    std::ifstream file(path, std::ios::binary);
    if (!file)
        throw DesiredTasksError(shown + ": cannot open: " + std::strerror(errno));
    std::ostringstream text;
    text << file.rdbuf();
    if (file.bad())
        throw DesiredTasksError(shown + ": cannot read: " + std::strerror(errno));
    try {
        return parse_desired_tasks(text.str());
    } catch (const DesiredTasksError& error) {
        throw DesiredTasksError(shown + ": " + error.what());
    }
}

}  // namespace warren::agent
