// SPDX-License-Identifier: Apache-2.0
#include "usage_messages.hpp"

#include "printable.hpp"

#include <algorithm>

namespace warren::cli {

namespace {

using nft::quote;

// Enough for any of CLI11's sentences with an argument of ordinary length.
constexpr std::size_t cli11_message_limit = 200;

const CLI::App* given_command(const CLI::App& app)
{
    const auto commands = app.get_subcommands();
    return commands.empty() ? nullptr : commands.front();
}

std::string command_name(const CLI::App& app)
{
    const auto* command = given_command(app);
    return command ? "warren-nft " + command->get_name() : "warren-nft";
}

}  // namespace

std::string option_names(const CLI::Option& option)
{
    auto names = option.get_name(false, true);  // "-p,--publish"
    std::replace(names.begin(), names.end(), ',', '/');
    return names;
}

std::string help_command(const CLI::App& app) { return command_name(app) + " --help"; }

std::string misplaced_argument(const CLI::App& app)
{
    const auto extras = app.remaining(true);
    const auto see = "; see '" + help_command(app) + "'";
    if (extras.empty())
        return given_command(app) ? std::string() : "a command is required: " + std::string(command_list) + see;
    const auto& first = extras.front();
    if (!given_command(app) && !first.starts_with('-'))
        return "unknown command " + quote(first) + "; use " + std::string(command_list) + see;
    if (first.starts_with('-') && first.size() > 1)
        return "unknown option " + quote(first) + " for " + command_name(app) + see;
    return "unexpected argument " + quote(first) + " for " + command_name(app) + see;
}

std::string refused_option(const CLI::App& app, const CLI::ParseError& error)
{
    const std::string what = error.what();
    const auto see = "; see '" + help_command(app) + "'";
    // CLI11 starts its sentence about an option's values with the option's name.
    const auto colon = what.find(':');
    const auto* command = given_command(app);
    const CLI::Option* option = nullptr;
    if (colon != std::string::npos && dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr)
        option = (command ? command : &app)->get_option_no_throw(what.substr(0, colon));
    if (option == nullptr)
        return nft::excerpt(what, cli11_message_limit) + see;
    const auto names = option_names(*option);
    if (option->results().empty())
        return "option " + names + " needs a value, " + option->get_type_name() + see;
    return "option " + names + " takes one value; give it once" + see;
}

}  // namespace warren::cli
