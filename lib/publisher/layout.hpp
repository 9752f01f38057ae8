// SPDX-License-Identifier: Apache-2.0
// The warren tables, one per address family: their fixed layout (schema), how a published port
// becomes elements and back (element_codec), and what makes a table complete (repair).
#pragma once

#include "publisher/address.hpp"
#include "publisher/element_codec.hpp"
#include "publisher/repair.hpp"
#include "publisher/schema.hpp"
