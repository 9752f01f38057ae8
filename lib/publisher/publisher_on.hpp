// SPDX-License-Identifier: Apache-2.0
// A publisher with the public policy over a backend of the caller's choice: the in-memory fake and
// the test doubles of the unit tests. Not part of the public API, whose publishers always talk to
// the kernel.
#pragma once

#include "ruleset/backend.hpp"

#include <warren/nft/host_port_publisher.hpp>
#include <warren/nft/publisher_engine.hpp>

#include <memory>

namespace warren::nft {

HostPortPublisher publisher_on(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options = {});
PublisherEngine engine_on(std::unique_ptr<ruleset::Backend> backend, PublisherOptions options = {});

}  // namespace warren::nft
