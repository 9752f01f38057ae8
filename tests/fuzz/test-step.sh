#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fuzz step of tools/test.sh: builds the targets with clang (ASan+UBSan, -Werror) in build-fuzz
# and runs each for FUZZ_SECONDS (default 20) with run-fuzzers.sh. Ends with "summary: N passed,
# N failed, N skipped", one count per target: all skipped, with the reason, where clang++ is missing
# or cannot link libFuzzer; all failed when the build breaks; a target without a result failed.
# With the argument "build" it only builds (tools/test.sh builds ahead, while other suites run).
set -uo pipefail
cd "$(dirname "$0")/../.."
targets=$(ls tests/fuzz/corpus | wc -l)

skip() {
    echo "fuzz: skipped ($1)"
    echo "summary: 0 passed, 0 failed, $targets skipped"
    exit 0
}
probe=$(mktemp)
trap 'rm -f "$probe"' EXIT
command -v clang++ >/dev/null || skip "clang++ is not installed"
echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer -o "$probe" - >/dev/null 2>&1 ||
    skip "clang++ cannot link libFuzzer (-fsanitize=fuzzer; libclang-rt-dev missing)"

if ! { [ -f build-fuzz/build.ninja ] || CC=clang CXX=clang++ meson setup build-fuzz -Dfuzzing=true -Dwerror=true \
        -Db_sanitize=address,undefined -Db_lundef=false -Dcpp_args=-fsanitize=fuzzer-no-link; } ||
    ! meson compile -C build-fuzz fuzz; then
    echo "fuzz: the build failed"
    echo "summary: 0 passed, $targets failed, 0 skipped"
    exit 1
fi
[ "${1:-}" = build ] && exit 0
output=$(tests/fuzz/run-fuzzers.sh build-fuzz "${FUZZ_SECONDS:-20}")
status=$?
echo "$output"
passed=$(grep -cE '^fuzz/[^:]+: passed' <<<"$output")
echo "summary: $passed passed, $((targets - passed)) failed, 0 skipped"
[ "$status" -eq 0 ] && [ "$passed" -eq "$targets" ]
