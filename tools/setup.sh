#!/usr/bin/env bash
# Installs what warren-nft needs on Debian 12 (only what is missing), then configures and builds
# into BUILD_DIR (default: build). Used by tools/test.sh and tools/demo.sh; safe to run again.
# With SETUP_SUITES="unit kernel ..." it builds only what the tests of those meson suites run.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true

packages=(g++ clang libclang-rt-dev clang-format dpkg-dev meson ninja-build pkg-config python3 libmnl-dev libnftnl-dev libboost-dev catch2 nlohmann-json3-dev libcli11-dev nftables iproute2 util-linux iptables libnftables-dev gnuplot-nox conntrack python3-prometheus-client zsh)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$build_dir/build.ninja" ]; then
    # Warnings are errors here (the test script, CI), not in default_options: a packager's build with
    # other compilers or flags must not fail on a new warning.
    meson setup "$build_dir" -Dwerror=true "$@" >/dev/null
fi
targets=()
if [ -n "${SETUP_SUITES:-}" ]; then
    # The executables the suites' tests run, as ninja targets (paths relative to the build directory).
    mapfile -t targets < <(meson introspect --tests "$build_dir" | python3 -c '
import json, os, sys
build, suites = os.path.realpath(sys.argv[1]), {"warren-nft:" + s for s in sys.argv[2:]}
for test in json.load(sys.stdin):
    if suites & set(test["suite"]):
        print(os.path.relpath(test["cmd"][0], build))' "$build_dir" $SETUP_SUITES)
    [ ${#targets[@]} -gt 0 ] || { echo "setup: no tests in suites: $SETUP_SUITES" >&2; exit 1; }
fi
ninja -C "$build_dir" "${targets[@]}" >/dev/null
echo "setup: built $build_dir${SETUP_SUITES:+ (for the suites $SETUP_SUITES)}"
