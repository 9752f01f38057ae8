#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks that every C++ file in git is formatted as .clang-format says (clang-format -i FILE fixes
# one). Ends with "summary: N passed, N failed, N skipped": one check, skipped without clang-format.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
    echo "format: skipped (clang-format is not installed)"
    echo "summary: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
unformatted=()
while IFS= read -r file; do
    clang-format --dry-run -Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
done < <(git ls-files '*.cpp' '*.hpp')
if [ ${#unformatted[@]} -eq 0 ]; then
    echo "format: every C++ file is formatted"
    echo "summary: 1 passed, 0 failed, 0 skipped"
else
    echo "format: ${#unformatted[@]} file(s) differ from .clang-format (run clang-format -i on them):"
    printf '    %s\n' "${unformatted[@]}"
    echo "summary: 0 passed, 1 failed, 0 skipped"
    exit 1
fi
