#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks that warren-nft can be consumed the two ways a user would, without touching the system:
#
#  1. installed: `meson install --destdir TMP` from BUILD_DIR, then tests/install/app.cpp is built
#     as a consumer would build it,  c++ -std=c++20 app.cpp $(pkg-config --cflags --libs warren-nft),
#     with pkg-config, the compiler and the loader pointed at the staged tree, and run;
#     and the installed executables are run from the staged tree without LD_LIBRARY_PATH (their
#     rpath must lead to the staged library);
#  2. as a meson subproject: tests/install/subproject-consumer is built with the source tree of
#     BUILD_DIR as its subprojects/warren-nft, and its test (the same app) is run.
#
# Usage: tools/check-install.sh BUILD_DIR
# Prints what it checked and then OK, or FAIL with the reasons; exits 0 or 1.
# Everything it writes, except what `meson install` may rebuild in BUILD_DIR, is in a temporary
# directory that it removes on exit.
set -uo pipefail

usage() {
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
}
[ $# -eq 1 ] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cxx=${CXX:-c++}
failures=()

pass() { echo "  ok    $1"; }
fail() {
    echo "  FAIL  $1"
    failures+=("$1")
    if [ $# -ge 2 ] && [ -s "$2" ]; then  # the log: all of it, or its first and last 30 lines
        if [ "$(wc -l < "$2")" -le 60 ]; then
            cat "$2"
        else
            head -n 30 "$2"
            echo "[...]"
            tail -n 30 "$2"
        fi | sed 's/^/        | /'
    fi
}
finish() {
    if [ ${#failures[@]} -eq 0 ]; then
        echo "OK"
        exit 0
    fi
    echo "FAIL: ${#failures[@]} problem(s):"
    printf '  - %s\n' "${failures[@]}"
    exit 1
}

build=$(cd "$1" 2>/dev/null && pwd) || { echo "FAIL: no such directory: $1"; exit 1; }
if [ ! -f "$build/meson-info/meson-info.json" ]; then
    echo "FAIL: $build is not a meson build directory"
    exit 1
fi
for tool in meson pkg-config python3 "$cxx"; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not found"; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/warren-nft-check-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# What the build directory was configured with.
python3 - "$build" > "$tmp/layout" <<'EOF' || { echo "FAIL: cannot introspect $build"; exit 1; }
import json, os, subprocess, sys
build = sys.argv[1]
info = json.load(open(os.path.join(build, 'meson-info', 'meson-info.json')))
opts = {o['name']: o['value'] for o in json.loads(subprocess.check_output(
    ['meson', 'introspect', '--buildoptions', build]))}
project = json.loads(subprocess.check_output(['meson', 'introspect', '--projectinfo', build]))
def under_prefix(d):
    return d if os.path.isabs(d) else os.path.join(opts['prefix'], d)
print(info['directories']['source'])
print(under_prefix(opts['libdir']))
print(under_prefix(opts['includedir']))
print(project['version'])
print(under_prefix(opts['bindir']))
EOF
{ read -r srcdir; read -r libdir; read -r includedir; read -r version; read -r bindir; } < "$tmp/layout"
echo "check-install: $build (source $srcdir, version $version)"

# ---------------------------------------------------------------------------------------------
check_installed() {
    echo "installed, consumed through pkg-config:"
    root=$tmp/root
    staged_lib=$root$libdir
    staged_inc=$root$includedir
    pcdir=$staged_lib/pkgconfig

    if meson install -C "$build" --destdir "$root" > "$tmp/install.log" 2>&1; then
        pass "meson install --destdir"
    else
        fail "meson install --destdir failed" "$tmp/install.log"
        return
    fi

    if [ -f "$pcdir/warren-nft.pc" ]; then
        pass "warren-nft.pc installed in $libdir/pkgconfig"
    else
        find "$root" -name '*.pc' > "$tmp/pcs"
        fail "no warren-nft.pc in $libdir/pkgconfig (found: $(tr '\n' ' ' < "$tmp/pcs"))"
    fi
    if [ -f "$staged_inc/warren/nft.hpp" ]; then
        pass "headers installed in $includedir/warren"
    else
        fail "no warren/nft.hpp in $includedir"
    fi
    if ls "$staged_lib"/libwarren-nft.so* >/dev/null 2>&1; then
        pass "library installed in $libdir"
    else
        fail "no libwarren-nft.so in $libdir"
    fi
    [ ${#failures[@]} -eq 0 ] || return

    # The installed executables, as a user runs them: no LD_LIBRARY_PATH, and the library they load
    # is the staged one (not one installed on this machine before).
    for exe in warren-nft warren-nft-bench; do
        staged_exe=$root$bindir/$exe
        if [ ! -x "$staged_exe" ]; then
            fail "no $exe in $bindir"
            continue
        fi
        if env -u LD_LIBRARY_PATH "$staged_exe" --version > "$tmp/$exe-version.log" 2>&1; then
            pass "$bindir/$exe --version runs without LD_LIBRARY_PATH: $(head -n 1 "$tmp/$exe-version.log")"
        else
            fail "$bindir/$exe --version fails without LD_LIBRARY_PATH" "$tmp/$exe-version.log"
        fi
        # warren-nft-bench links the library's internals statically: only a shared one is checked.
        resolved=$(env -u LD_LIBRARY_PATH ldd "$staged_exe" 2>&1 | awk '$1 ~ /^libwarren-nft\.so/ {print $3}')
        [ -z "$resolved" ] || resolved=$(realpath -m -- "$resolved")  # the rpath's bin/../lib, resolved
        case $resolved in
            "") [ "$exe" = warren-nft-bench ] || fail "$exe does not load libwarren-nft" ;;
            "$staged_lib"/*) pass "$exe loads $resolved" ;;
            *) fail "$exe loads libwarren-nft from '$resolved', not from the staged $libdir" ;;
        esac
    done

    # pkg-config reads the staged .pc and prefixes the paths it prints with the staging root. System
    # directories are kept, so that a /usr prefix still points into the staging root.
    export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export PKG_CONFIG_SYSROOT_DIR=$root
    export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
    export PKG_CONFIG_ALLOW_SYSTEM_LIBS=1

    if pkg-config --validate warren-nft > "$tmp/validate.log" 2>&1; then
        pass "pkg-config --validate warren-nft"
    else
        fail "pkg-config --validate warren-nft" "$tmp/validate.log"
    fi
    pc_version=$(pkg-config --modversion warren-nft 2>"$tmp/modversion.log")
    if [ "$pc_version" = "$version" ]; then
        pass "pkg-config --modversion warren-nft = $version"
    else
        fail "pkg-config --modversion warren-nft is '$pc_version', the project is $version" "$tmp/modversion.log"
    fi
    if cflags=$(pkg-config --cflags warren-nft 2>"$tmp/cflags.log") &&
       libs=$(pkg-config --libs warren-nft 2>"$tmp/libs.log"); then
        pass "pkg-config --cflags --libs warren-nft: $cflags $libs"
    else
        cat "$tmp/libs.log" >> "$tmp/cflags.log" 2>/dev/null
        fail "pkg-config --cflags --libs warren-nft (are the Requires.private .pc files installed?)" "$tmp/cflags.log"
        return
    fi
    # shellcheck disable=SC2086
    set -- $cflags
    case " $* " in
        *" -I$staged_inc "*) pass "Cflags point at the staged $includedir" ;;
        *) fail "Cflags '$cflags' do not point at the staged $includedir" ;;
    esac
    # shellcheck disable=SC2086
    set -- $libs
    libs_words=" $* "
    case $libs_words in
        *" -L$staged_lib "*) pass "Libs point at the staged $libdir" ;;
        *) fail "Libs '$libs' do not point at the staged $libdir" ;;
    esac
    case $libs_words in
        *" -lwarren-nft "*) pass "Libs link -lwarren-nft" ;;
        *) fail "Libs '$libs' do not link -lwarren-nft" ;;
    esac

    mkdir -p "$tmp/app"
    cp "$here/tests/install/app.cpp" "$tmp/app/"
    # shellcheck disable=SC2046  # the consumer's command line, word splitting intended
    if (cd "$tmp/app" && "$cxx" -std=c++20 app.cpp $(pkg-config --cflags --libs warren-nft) -o app) \
            > "$tmp/app-build.log" 2>&1; then
        pass "$cxx -std=c++20 app.cpp \$(pkg-config --cflags --libs warren-nft)"
    else
        fail "building app.cpp against the installed warren-nft" "$tmp/app-build.log"
    fi

    # The compiler must have taken the headers from the staging tree, not from the source tree or
    # from an earlier installation.
    # shellcheck disable=SC2086
    if (cd "$tmp/app" && "$cxx" -std=c++20 -M app.cpp $cflags) > "$tmp/app.deps" 2>&1 &&
       grep -q "$staged_inc/warren/nft.hpp" "$tmp/app.deps"; then
        pass "app.cpp includes the staged warren/nft.hpp"
    else
        fail "app.cpp does not include $staged_inc/warren/nft.hpp" "$tmp/app.deps"
    fi

    # Every installed header compiles on its own, cleanly.
    headers=$(cd "$staged_inc" && find warren -name '*.hpp' | sort)
    bad_headers=()
    for h in $headers; do
        # shellcheck disable=SC2086
        if ! printf '#include <%s>\n' "$h" |
                "$cxx" -std=c++20 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++ - $cflags \
                >> "$tmp/headers.log" 2>&1; then
            bad_headers+=("$h")
        fi
    done
    if [ ${#bad_headers[@]} -eq 0 ]; then
        pass "each installed header compiles alone with -Wall -Wextra -Wpedantic -Werror ($(wc -w <<< "$headers"))"
    else
        fail "installed headers that do not compile alone: ${bad_headers[*]}" "$tmp/headers.log"
    fi

    if [ -x "$tmp/app/app" ]; then
        export LD_LIBRARY_PATH="$staged_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        resolved=$(ldd "$tmp/app/app" 2>&1 | awk '$1 ~ /^libwarren-nft\.so/ {print $3}')
        case $resolved in
            "$staged_lib"/*) pass "app loads $resolved" ;;
            *) fail "app loads libwarren-nft from '${resolved:-nowhere}', not from the staged $libdir" ;;
        esac
        if (cd "$tmp/app" && ./app) > "$tmp/app-run.log" 2>&1; then
            pass "app runs"
        else
            fail "app failed" "$tmp/app-run.log"
        fi
    fi
}

# ---------------------------------------------------------------------------------------------
check_subproject() {
    echo "as a meson subproject:"
    consumer=$tmp/consumer
    mkdir -p "$consumer/subprojects"
    cp "$here/tests/install/subproject-consumer/meson.build" "$here/tests/install/app.cpp" "$consumer/"
    ln -s "$srcdir" "$consumer/subprojects/warren-nft"

    if meson setup "$tmp/consumer-build" "$consumer" --force-fallback-for=warren-nft \
            > "$tmp/consumer-setup.log" 2>&1; then
        # (the consumer's meson.build also asserts that the plain lookup finds the override)
        pass "meson setup: dependency('warren-nft') from the subproject and its override_dependency()"
        if meson compile -C "$tmp/consumer-build" > "$tmp/consumer-build.log" 2>&1; then
            pass "meson compile"
            if meson test -C "$tmp/consumer-build" --print-errorlogs > "$tmp/consumer-test.log" 2>&1; then
                pass "meson test (app)"
            else
                fail "meson test (app)" "$tmp/consumer-test.log"
            fi
        else
            fail "meson compile of the subproject consumer" "$tmp/consumer-build.log"
        fi
    else
        fail "meson setup of the subproject consumer" "$tmp/consumer-setup.log"
    fi
}

# Each check runs in a subshell, so that its environment (PKG_CONFIG_*, LD_LIBRARY_PATH) stays
# its own; failures are passed back through a file.
( check_installed; printf '%s\n' "${failures[@]}" > "$tmp/failures.installed" )
( check_subproject; printf '%s\n' "${failures[@]}" > "$tmp/failures.subproject" )
for f in "$tmp/failures.installed" "$tmp/failures.subproject"; do
    [ -f "$f" ] || { failures+=("internal error: $(basename "$f") not written"); continue; }
    while IFS= read -r line; do
        [ -n "$line" ] && failures+=("$line")
    done < "$f"
done
finish
