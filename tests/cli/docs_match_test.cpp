// SPDX-License-Identifier: Apache-2.0
// The options each command takes, as `warren-nft COMMAND --help` lists them, are those docs/cli.md's
// synopsis, the man page's SYNOPSIS and the bash completion name: none missing, none extra. Both
// completions are run by their shells and must offer commands, options and fixed values.
#include "cli_support.hpp"
#include "process.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace kt {
namespace {

const std::vector<std::string> commands{"publish", "unpublish", "drain", "list", "metrics", "flush", "doctor", "watch"};

using Options = std::map<std::string, std::set<std::string>>;  // command -> option names

std::string source_file(const std::string& path)
{
    const char* root = std::getenv("WARREN_NFT_SOURCE");
    REQUIRE(root != nullptr);
    std::ifstream in(std::string(root) + "/" + path);
    REQUIRE(in);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The option names (-p, --publish) in `text` that stand at its start or after a blank, '[', '|' or '('.
std::set<std::string> option_names(const std::string& text)
{
    static const std::regex option(R"((?:^|[\s\[|(])(--?[a-z][a-z-]*))");
    std::set<std::string> names;
    for (std::sregex_iterator it(text.begin(), text.end(), option), end; it != end; ++it)
        names.insert((*it)[1]);
    return names;
}

// What --help lists for the command, --help itself left out.
std::set<std::string> help_options(const std::string& command)
{
    std::set<std::string> names;
    std::istringstream help(cli_ok({command, "--help"}));
    for (std::string line; std::getline(help, line);) {
        static const std::regex entry(R"(^\s+(-[^\s]+))");
        std::smatch match;
        if (!std::regex_search(line, match, entry))
            continue;
        std::istringstream aliases(match[1].str());
        for (std::string name; std::getline(aliases, name, ',');)
            names.insert(name);
    }
    names.erase("-h");
    names.erase("--help");
    return names;
}

// The options of each command in lines where "warren-nft COMMAND" starts a command's part and
// `continues` says whether a line belongs to the one before.
Options synopsis_options(const std::vector<std::string>& lines)
{
    Options options;
    std::string current;
    for (const auto& line : lines) {
        static const std::regex start(R"(warren-nft\s+([a-z]+))");
        std::smatch match;
        std::string rest = line;
        if (line.find("warren-nft") != std::string::npos) {
            current.clear();
            if (std::regex_search(line, match, start) &&
                std::find(commands.begin(), commands.end(), match[1].str()) != commands.end()) {
                current = match[1];
                rest = match.suffix();
            }
        }
        if (!current.empty())
            for (const auto& name : option_names(rest))
                options[current].insert(name);
    }
    return options;
}

std::vector<std::string> lines_between(const std::string& text, const std::string& from, const std::string& to)
{
    const auto start = text.find(from);
    REQUIRE(start != std::string::npos);
    const auto end = text.find(to, start + from.size());
    REQUIRE(end != std::string::npos);
    std::vector<std::string> lines;
    std::istringstream block(text.substr(start + from.size(), end - start - from.size()));
    for (std::string line; std::getline(block, line);)
        lines.push_back(line);
    return lines;
}

std::string unescape_roff(std::string text)
{
    for (std::size_t at = 0; (at = text.find("\\-", at)) != std::string::npos;)
        text.replace(at, 2, "-");
    return text;
}

// A command's options in the bash completion: the words of its "COMMAND) options=..." line.
std::set<std::string> completion_options(const std::string& script, const std::string& command)
{
    const std::regex line("\\n\\s*(?:[a-z| ]*\\b)?" + command + "\\b[a-z| ]*\\) options=\"([^\"]*)\"");
    std::smatch match;
    if (!std::regex_search(script, match, line))
        return {};
    auto names = option_names(match[1].str());
    names.erase("--help");
    return names;
}

}  // namespace

TEST_CASE("--help, docs/cli.md, the man page and the bash completion name the same options", "[cli][docs]")
{
    const auto markdown = synopsis_options(lines_between(source_file("docs/cli.md"), "## Commands\n\n```sh\n", "```"));
    auto man_lines = lines_between(source_file("docs/warren-nft.1"), ".SH SYNOPSIS\n", ".SH DESCRIPTION");
    for (auto& line : man_lines)
        line = unescape_roff(line);
    const auto man = synopsis_options(man_lines);
    const auto completion = source_file("tools/warren-nft/completion/warren-nft.bash");
    const auto zsh = source_file("tools/warren-nft/completion/_warren-nft");

    for (const auto& command : commands) {
        INFO(command);
        const auto help = help_options(command);
        // Each documented name is one --help lists, and each option --help lists is documented by
        // at least one of its names (the synopses give -p for -p,--publish).
        const auto documented = [&](const std::set<std::string>& names) {
            for (const auto& name : names)
                CHECK(help.contains(name));
            const auto help_text = cli_ok({command, "--help"});
            std::istringstream lines(help_text);
            for (std::string line; std::getline(lines, line);) {
                static const std::regex entry(R"(^\s+(-[^\s]+))");
                std::smatch match;
                if (!std::regex_search(line, match, entry) || match[1] == "-h,--help")
                    continue;
                std::istringstream aliases(match[1].str());
                bool named = false;
                for (std::string name; std::getline(aliases, name, ',');)
                    named = named || names.contains(name);
                INFO(match[1].str());
                CHECK(named);
            }
        };
        SECTION("docs/cli.md " + command)
        {
            documented(markdown.contains(command) ? markdown.at(command) : std::set<std::string>{});
        }
        SECTION("warren-nft.1 " + command) { documented(man.contains(command) ? man.at(command) : std::set<std::string>{}); }
        // The completion offers every name of every option.
        SECTION("bash completion " + command) { CHECK(completion_options(completion, command) == help); }
        SECTION("zsh completion " + command)
        {
            for (const auto& name : help)
                CHECK(zsh.find(name) != std::string::npos);
        }
    }
}

namespace {

// What the bash completion offers for the command line `line` (the cursor at its end), as one line.
std::string completed(const std::string& line)
{
    sandbox::Command cmd;
    cmd.argv = {"bash",
                "-c",
                "source \"$1\"; read -ra COMP_WORDS <<< \"$2\"; [[ $2 == *' ' ]] && COMP_WORDS+=(''); "
                "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _warren_nft; echo \"${COMPREPLY[*]}\"",
                "bash",
                std::string(std::getenv("WARREN_NFT_SOURCE")) + "/tools/warren-nft/completion/warren-nft.bash",
                line};
    const auto result = sandbox::run(cmd);
    INFO(result.describe(cmd.argv));
    REQUIRE(result.exit_code == 0);
    return result.out;
}

}  // namespace

TEST_CASE("the bash completion offers commands, their options and fixed values", "[cli][docs]")
{
    REQUIRE(std::getenv("WARREN_NFT_SOURCE") != nullptr);
    CHECK(completed("warren-nft pu") == "publish\n");
    CHECK(completed("warren-nft list --pro") == "--protocol\n");
    CHECK(completed("warren-nft flush ") == "-y --yes --json --help\n");
    CHECK(completed("warren-nft publish --masquerade w") == "when-needed\n");
    CHECK(completed("warren-nft list --protocol ") == "tcp udp sctp\n");
    CHECK(completed("warren-nft publish --task ") == "\n");  // a task id is anything
}

namespace {

// What zsh's completion system offers for the command line `line` (the cursor at its end) with
// tools/warren-nft/completion first in $fpath, sorted: tests/cli/zsh_complete.zsh types it into an
// interactive zsh on a pseudo-terminal and records each match.
std::set<std::string> zsh_completed(const std::string& line)
{
    const std::string root = std::getenv("WARREN_NFT_SOURCE");
    sandbox::Command cmd;
    cmd.argv = {"zsh", "-f", root + "/tests/cli/zsh_complete.zsh", root + "/tools/warren-nft/completion", line};
    const auto result = sandbox::run(cmd);
    INFO(result.describe(cmd.argv));
    REQUIRE(result.exit_code == 0);
    std::set<std::string> matches;
    std::istringstream lines(result.out);
    for (std::string match; std::getline(lines, match);)
        matches.insert(match);
    return matches;
}

bool zsh_installed()
{
    sandbox::Command cmd;
    cmd.argv = {"sh", "-c", "command -v zsh"};
    return sandbox::run(cmd).exit_code == 0;
}

}  // namespace

TEST_CASE("the zsh completion offers commands, their options and fixed values", "[cli][docs]")
{
    REQUIRE(std::getenv("WARREN_NFT_SOURCE") != nullptr);
    if (!zsh_installed()) {
        WARN(
            "SKIPPED: zsh is not installed (Debian package zsh; tools/setup.sh installs it): "
            "tools/warren-nft/completion/_warren-nft is not run");
        return;
    }
    using Set = std::set<std::string>;
    CHECK(zsh_completed("warren-nft ") == Set(commands.begin(), commands.end()));
    CHECK(zsh_completed("warren-nft pu") == Set{"publish"});
    CHECK(zsh_completed("warren-nft list --pro") == Set{"--protocol"});
    CHECK(zsh_completed("warren-nft publish --masquerade w") == Set{"when-needed"});
    CHECK(zsh_completed("warren-nft list --protocol ") == Set{"tcp", "udp", "sctp"});
    // Every option --help lists, by every name, and none it does not (--help too; -h is its short
    // name, which the completion leaves out).
    for (const auto& command : commands) {
        INFO(command);
        auto help = help_options(command);
        help.insert("--help");
        CHECK(zsh_completed("warren-nft " + command + " -") == help);
    }
}

}  // namespace kt
