// SPDX-License-Identifier: Apache-2.0
// Lets several publishers share one FakeBackend, as several processes share one kernel.
#pragma once

#include "ruleset/fake_backend.hpp"

#include <memory>

namespace warren::nft::test {

class SharedBackend final : public ruleset::Backend {
public:
    explicit SharedBackend(ruleset::FakeBackend& fake) : fake_(fake) {}
    const KernelFeatures& features() const noexcept override { return fake_.features(); }
    std::uint32_t generation() override { return fake_.generation(); }
    ruleset::TableSnapshot snapshot(const ruleset::Table& table, std::span<const std::string> chains,
                                    std::span<const std::string> element_sets) override
    {
        return fake_.snapshot(table, chains, element_sets);
    }
    void commit(const ruleset::Transaction& tx, std::optional<std::uint32_t> generation) override
    {
        fake_.commit(tx, generation);
    }
    std::unique_ptr<ruleset::ChangeFeed> follow(const ruleset::Table& table) override { return fake_.follow(table); }

private:
    ruleset::FakeBackend& fake_;
};

inline std::unique_ptr<ruleset::Backend> share(ruleset::FakeBackend& fake) { return std::make_unique<SharedBackend>(fake); }

}  // namespace warren::nft::test
