// SPDX-License-Identifier: Apache-2.0
// Lets several publishers share one FakeBackend, as several processes share one kernel.
#pragma once

#include "publisher/publisher_on.hpp"
#include "ruleset/fake_backend.hpp"
#include "ruleset/forwarding_backend.hpp"

#include <memory>

namespace warren::nft::test {

class SharedBackend final : public ruleset::ForwardingBackend {
public:
    explicit SharedBackend(ruleset::FakeBackend& fake) : ForwardingBackend(fake) {}
};

inline std::unique_ptr<ruleset::Backend> share(ruleset::FakeBackend& fake) { return std::make_unique<SharedBackend>(fake); }

}  // namespace warren::nft::test
