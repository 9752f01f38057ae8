// SPDX-License-Identifier: Apache-2.0
// Elements of map `ports` whose comments anyone with `nft` can write, none of which a publisher
// writes: bytes that are not UTF-8, terminal escape sequences, a newline that would forge a line of
// output, and task ids or names that validation refuses. The kernel and CLI tests add them with
// `nft -f` in the test's own network namespace, after a publish created the table; the unit tests
// put them into the fake backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace untrusted {

struct Element {
    std::uint16_t host_port;  // tcp, every IPv4 address
    std::string comment;      // its raw bytes; nft takes any but '"' inside the quotes
};

// All of them lead to destination_ip:80.
inline const std::string destination_ip = "10.99.0.9";

inline const std::vector<Element>& elements()
{
    static const std::vector<Element> all{
        {9001, "task=web\xff\xfe"},                             // not UTF-8
        {9002, "task=evil\x1b[31mred\x1b]0;title\x07"},         // terminal escape sequences
        {9003, "task=x\nweb-1  ipv4  *  80/tcp  10.0.0.1:80"},  // a newline that would forge a row
        {9004, "task=" + std::string(65, 'a')},                 // a task id one too long
        {9005, "task=a;b name=web"},                            // a character task ids cannot have
        {9006, "task=ok name=web\tui"},                         // a name with a tab
        {9007, "task=ok name="},                                // an empty name after name=
        {9008, "task="},                                        // no task id at all
        {9009, "task=caf\xc3\xa9"},                             // valid UTF-8, but not a task id
    };
    return all;
}

// The `nft -f` script that adds every one of them to map ip warren ports, in one transaction.
inline std::string nft_script()
{
    std::string list;
    for (const auto& element : elements())
        list += std::string(list.empty() ? "" : ", ") + "tcp . " + std::to_string(element.host_port) + " comment \"" +
                element.comment + "\" : " + destination_ip + " . 80";
    return "add element ip warren ports { " + list + " }\n";
}

}  // namespace untrusted
