#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds warren-nft the ways a packager or another developer would, each with warnings as errors,
# and reports each build as one check:
#   release         GCC, --buildtype=release (-O3, where GCC's flow analysis warns most)
#   plain-hardened  GCC, --buildtype=plain with Debian's dpkg-buildflags (hardening=+all), as a
#                   Debian package build compiles it
#   clang           clang++, --buildtype=debugoptimized
# Each compiles the library and the tools (what a package ships); nothing is run. The test script's
# own builds cover the rest with -Werror: GCC debugoptimized (build), GCC debug with ASan+UBSan
# (build-asan), GCC with TSan (build-tsan) and clang with libFuzzer (build-fuzz, the library). The builds live in
# build-variants/NAME and are reused on the next run.
# Ends with "summary: N passed, N failed, N skipped"; exits 0 when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
setup_env=()  # the environment meson setup sees: compiler and flags (read once, at setup)
variant() {
    local name=$1
    shift
    local dir=build-variants/$name log=build-variants/$name.log
    mkdir -p build-variants
    if { [ -f "$dir/build.ninja" ] || env "${setup_env[@]}" meson setup "$dir" -Dwerror=true "$@"; } >"$log" 2>&1 &&
        ninja -C "$dir" >>"$log" 2>&1; then
        echo "builds: $name: passed"
        passed=$((passed + 1))
    else
        echo "builds: $name: FAILED (build-variants/$name.log):"
        grep -E "error|warning" "$log" | head -n 20 | sed 's/^/    /'
        failed=$((failed + 1))
    fi
}

variant release --buildtype=release -Dtests=false
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
setup_env=("CPPFLAGS=$(dpkg-buildflags --get CPPFLAGS)" "CXXFLAGS=$(dpkg-buildflags --get CXXFLAGS)"
           "LDFLAGS=$(dpkg-buildflags --get LDFLAGS)")
variant plain-hardened --buildtype=plain -Dtests=false
if command -v clang++ >/dev/null; then
    setup_env=(CXX=clang++)
    variant clang --buildtype=debugoptimized -Dtests=false
else
    echo "builds: clang: skipped (clang++ is not installed)"
    skipped=$((skipped + 1))
fi
echo "summary: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
