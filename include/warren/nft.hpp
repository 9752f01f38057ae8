// SPDX-License-Identifier: Apache-2.0
// warren-nft: publish container ports on the host with nftables, over netlink.
#pragma once

#include <warren/nft/error.hpp>
#include <warren/nft/host_port_publisher.hpp>
#include <warren/nft/ingress.hpp>
#include <warren/nft/inspection.hpp>
#include <warren/nft/kernel_features.hpp>
#include <warren/nft/metrics.hpp>
#include <warren/nft/port_mapping.hpp>
#include <warren/nft/publisher_engine.hpp>
#include <warren/nft/validation.hpp>
