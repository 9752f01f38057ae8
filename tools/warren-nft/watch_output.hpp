// SPDX-License-Identifier: Apache-2.0
// The lines `warren-nft watch` prints: one when it is ready, one per repair, one when it stops; as
// text for people or, with --json, one JSON object per line for scripts (docs/cli.md).
#pragma once

#include <warren/nft/host_port_publisher.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace warren::cli {

// The lines, without their newline.
// Ready: `tasks` tasks with `ports` ports were in the table and are kept from now on.
std::string format_watch_start(std::size_t tasks, std::size_t ports, bool json);
// One repair attempt of the self-healing publisher.
std::string format_repair(const nft::RepairReport& report, bool json);
// Stopped by `signal` ("SIGTERM"); the table stays as it is.
std::string format_watch_stop(std::string_view signal, bool json);

}  // namespace warren::cli
