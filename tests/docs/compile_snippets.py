#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compiles and links every C++ example of README.md and docs/*.md against the built library,
from the doc files themselves, so that an example that no longer compiles fails the suite.

A block fenced as ```cpp is a whole program and is compiled as printed. A block fenced as
```cpp fragment is a few lines of a program: it is compiled inside a function that has what such
lines use (`publisher`, `ports`, `task`, `ip`, `log`; in a block of its own, so that it may declare
its own), after #include <warren/nft.hpp> and with
`namespace nft = warren::nft`.

Usage: compile_snippets.py --source-root DIR --cxx CXX --include DIR --library LIB [--cxxflag F ...]
Prints one line per example and ends with "summary: N passed, N failed, 0 skipped"; exits 0 or 1.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```cpp( fragment)?[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)

FRAGMENT_BEFORE = """#include <warren/nft.hpp>

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace nft = warren::nft;

// What the fragments of the docs use without declaring it.
[[maybe_unused]] static void log(std::string_view, int, std::string_view) {}

[[maybe_unused]] static void fragment([[maybe_unused]] nft::HostPortPublisher& publisher,
                                     [[maybe_unused]] std::vector<nft::PortMapping> ports,
                                     [[maybe_unused]] std::string task, [[maybe_unused]] std::string ip)
{
    {  // a block of its own: a fragment may declare its own `publisher`
#line {line} "{path}"
"""
FRAGMENT_AFTER = """
    }
}

int main() {}
"""


def examples(root):
    paths = ["README.md"] + sorted(os.path.join("docs", name) for name in os.listdir(os.path.join(root, "docs"))
                                   if name.endswith(".md"))
    for path in paths:
        text = open(os.path.join(root, path), encoding="utf-8").read()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start(2)) + 1
            yield path, line, bool(match.group(1)), match.group(2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-root", required=True)
    parser.add_argument("--cxx", required=True)
    parser.add_argument("--include", required=True)
    parser.add_argument("--library", required=True)
    parser.add_argument("--cxxflag", action="append", default=[])
    args = parser.parse_args()

    libdir = os.path.dirname(os.path.abspath(args.library))
    passed = failed = 0
    found = list(examples(args.source_root))
    if not found:
        print("no ```cpp examples found: the docs moved, or the pattern is wrong")
        failed += 1
    with tempfile.TemporaryDirectory(prefix="warren-nft-doc-examples.") as tmp:
        for path, line, fragment, code in found:
            name = f"{path}:{line}" + (" (fragment)" if fragment else "")
            if fragment:
                source = (FRAGMENT_BEFORE.replace("{line}", str(line)).replace("{path}", path) + code + FRAGMENT_AFTER)
            else:
                source = f'#line {line} "{path}"\n' + code
            cpp = os.path.join(tmp, "example.cpp")
            with open(cpp, "w", encoding="utf-8") as f:
                f.write(source)
            command = [args.cxx, "-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Werror", *args.cxxflag,
                       "-I", args.include, cpp, "-o", os.path.join(tmp, "example"),
                       "-L", libdir, "-lwarren-nft", f"-Wl,-rpath,{libdir}", "-pthread"]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode == 0:
                passed += 1
                print(f"ok    {name}")
            else:
                failed += 1
                print(f"FAIL  {name}")
                print("\n".join("      | " + l for l in (result.stdout + result.stderr).splitlines()[:40]))
    print(f"summary: {passed} passed, {failed} failed, 0 skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
