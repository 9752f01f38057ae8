// SPDX-License-Identifier: Apache-2.0
// The agent's desired tasks file: the tasks whose ports this node publishes, as JSON (docs/user-guide.md):
//   {"tasks": [{"task_id": "web-1", "container_ip": "10.88.0.5", "container_ipv6": "",
//               "ports": [{"protocol": "tcp", "host_port": 8080, "container_port": 80,
//                          "host_ip": "", "name": "http"}]}]}
// container_ipv6, protocol (default tcp), host_ip and name may be left out. The structure is checked
// here; the values (task ids, addresses, port conflicts) by the publisher's reconcile().
#pragma once

#include <warren/nft/host_port_publisher.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace warren::agent {

// What is wrong with a tasks file, with where: "tasks.json: /tasks/0/ports/1/host_port: ...".
class DesiredTasksError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The tasks of a file's text. Throws DesiredTasksError.
std::vector<nft::TaskPorts> parse_desired_tasks(std::string_view text);

// The tasks of the file at `path`. Throws DesiredTasksError, its message starting with the path.
std::vector<nft::TaskPorts> load_desired_tasks(const std::string& path);

}  // namespace warren::agent
