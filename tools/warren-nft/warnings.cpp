// SPDX-License-Identifier: Apache-2.0
#include "warnings.hpp"

#include "printable.hpp"

#include <iostream>

namespace warren::cli {
namespace {

// The library's messages are one printable line already; made sure of here.
void write(std::string_view message)
{
    std::cerr << "warren-nft: " + nft::printable(message, nft::Backslash::keep) + "\n" << std::flush;
}

}  // namespace

Warnings::Warnings() : held_(std::make_shared<Held>()) {}

nft::PublisherOptions::Logger Warnings::held() const
{
    return [held = held_](nft::LogLevel level, std::string_view message) {
        if (level < nft::LogLevel::warning)
            return;
        const std::lock_guard lock(held->mutex);
        held->lines.emplace_back(message);
    };
}

void Warnings::print() const
{
    const std::lock_guard lock(held_->mutex);
    for (const auto& line : held_->lines)
        write(line);
}

nft::PublisherOptions::Logger Warnings::immediate()
{
    return [](nft::LogLevel level, std::string_view message) {
        if (level >= nft::LogLevel::warning)
            write(message);
    };
}

}  // namespace warren::cli
