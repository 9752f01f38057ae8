// SPDX-License-Identifier: Apache-2.0
// Decodes what the kernel reports about set elements and comments, for dumps and change
// announcements alike, and each message of the dumps that read a table back.
#pragma once

#include "ruleset/backend.hpp"
#include "ruleset/objects.hpp"

#include <linux/netlink.h>

#include <libnftnl/set.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace warren::nft::netlink {

// The comment in nftables userdata (a rule's or an element's, by `type`); empty if it has none.
std::string comment_of(const void* data, std::uint32_t length, std::uint8_t type);

// An element of set `set` as libnftnl parsed it: key, value, comment and counters.
ruleset::Element decode_element(nftnl_set_elem* element, const std::string& set);

// One message of each reply that reads a table back. Each leaves out (false, std::nullopt) a
// message that does not parse or that is of another table.
// NEWTABLE: its flags and owner into `out`; `own_port_id` tells whether the owner is us.
bool decode_table(const nlmsghdr* nlh, std::uint32_t own_port_id, ruleset::TableSnapshot& out);
// NEWCHAIN: the chain, with its hook when it is a base chain.
std::optional<ruleset::Chain> decode_chain(const nlmsghdr* nlh);
// NEWRULE of table `table`: its chain and its comment (empty if none).
std::optional<std::pair<std::string, std::string>> decode_rule_comment(const nlmsghdr* nlh, const std::string& table);
// NEWRULE of table `table`: the rule, each expression as the model describes it; expr::Foreign for
// one it does not (another kind, or attributes the encoder never writes). Set ids read back as 0:
// the kernel does not report them (ruleset::as_reported()).
std::optional<ruleset::Rule> decode_rule(const nlmsghdr* nlh, const std::string& table);
// NEWSET of table `table`: its name and shape.
std::optional<std::pair<std::string, ruleset::SetShape>> decode_set(const nlmsghdr* nlh, const std::string& table);
// The libnftnl parser a message is handed to: nftnl_rule_nlmsg_parse, nftnl_set_nlmsg_parse or
// nftnl_set_elems_nlmsg_parse. Each reads the attributes as its own kind's, whatever the message
// type says (DELSETELEM and DESTROYSETELEM carry elements as NEWSETELEM does).
enum class NftnlParser { rule, set, elements };

// Whether libnftnl's `parser` may parse the message: it dereferences the name of every expression
// without checking there is one, copies table and set names with strdup(), and writes an element's
// attributes of types above NFTA_SET_ELEM_MAX past its array on the stack. The kernel never sends
// such a message; a corrupted one is left out instead of corrupting the process.
bool safe_for_libnftnl(const nlmsghdr* nlh, NftnlParser parser);

// NEWSETELEM: its elements, appended to `out` as elements of set `set`.
void decode_elements(const nlmsghdr* nlh, const std::string& set, std::vector<ruleset::Element>& out);
// NEWGEN: the ruleset's generation id.
std::optional<std::uint32_t> decode_generation(const nlmsghdr* nlh);

}  // namespace warren::nft::netlink
