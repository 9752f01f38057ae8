// SPDX-License-Identifier: Apache-2.0
// What the heal mode does to table ip warren: what firewalld reloads, admins and config-management
// runs do on a real node, each one `nft -f -` transaction of another process.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace bench {

struct DamageKind {
    std::string name;         // as --heal-damages takes it, e.g. "flush-ruleset"
    std::string description;  // the nft commands, for --help and the report
    // The nft script that does it now, in the calling thread's namespace: kinds that name a rule or
    // chain by handle read the handle first, since every repair gives them new handles.
    std::function<std::string()> script;
};

// In the order of the report.
const std::vector<DamageKind>& damage_kinds();
const DamageKind* find_damage(const std::string& name);

// Runs `script` with `nft -f -` in the calling thread's namespace; throws with nft's error unless it
// committed.
void apply_damage(const std::string& script);

}  // namespace bench
