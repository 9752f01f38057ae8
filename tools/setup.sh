#!/usr/bin/env bash
# Installs what warren-nft needs on Debian 12 (only what is missing), then configures and builds
# into BUILD_DIR (default: build). Used by tools/test.sh and tools/demo.sh; safe to run again.
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
ninja -C "$build_dir" >/dev/null
echo "setup: built $build_dir"
