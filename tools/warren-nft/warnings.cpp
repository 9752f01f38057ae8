// SPDX-License-Identifier: Apache-2.0
#include "warnings.hpp"

#include "printable.hpp"

#include <nlohmann/json.hpp>

#include <iostream>

namespace warren::cli {
namespace {

// The library's messages are one printable line already; made sure of here.
void write(std::string_view message, bool json)
{
    const auto line = nft::printable(message, nft::Backslash::keep);
    if (json)
        std::cerr << nlohmann::ordered_json{{"warning", {{"message", line}}}}.dump() + "\n" << std::flush;
    else
        std::cerr << "warren-nft: " + line + "\n" << std::flush;
}

}  // namespace

Warnings::Warnings(bool json) : held_(std::make_shared<Held>()), json_(json) {}

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
        write(line, json_);
}

nft::PublisherOptions::Logger Warnings::immediate(bool json)
{
    return [json](nft::LogLevel level, std::string_view message) {
        if (level >= nft::LogLevel::warning)
            write(message, json);
    };
}

}  // namespace warren::cli
