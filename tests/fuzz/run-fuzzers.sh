#!/usr/bin/env bash
# Runs every fuzz target of BUILD_DIR (a -Dfuzzing=true build) for SECONDS each, from its committed
# seeds (copied: the run's own corpus stays in BUILD_DIR/fuzz-work), and prints one line per target
# and a last line "fuzz: N passed, N failed". A target fails on any input that crashes it, except
# inputs that stop inside libnftnl (Debian's, not built here): it exits the process on an attribute
# of the wrong size ("nf_tables kernel ABI is broken") and trusts the nesting of what the kernel
# sends; no code of ours runs there. Those are counted and reported (docs/reliability.md), and the
# run goes on (-fork).
set -uo pipefail
build_dir=${1:?usage: run-fuzzers.sh BUILD_DIR SECONDS}
seconds=${2:?usage: run-fuzzers.sh BUILD_DIR SECONDS}
corpora="$(cd "$(dirname "$0")" && pwd)/corpus"
work="$build_dir/fuzz-work"
rm -rf "$work"
passed=0 failed=0

# Whether the input stops inside libnftnl: its exit, or a crash whose innermost frame (beyond the
# sanitizer's interceptors and libc) is libnftnl's.
in_libnftnl() {
    local output
    output=$("$1" "$2" 2>&1)
    grep -q 'nf_tables kernel ABI is broken' <<<"$output" && return 0
    grep -E '^ +#[0-9]+ 0x' <<<"$output" | grep -vE '__interceptor_|libc\.so|__sanitizer|sanitizer_common' | head -1 |
        grep -q 'libnftnl\.so'
}
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for seeds in "$corpora"/*/; do
    target=$(basename "$seeds")
    exe="$build_dir/tests/fuzz/$target"
    mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
    if [ ! -x "$exe" ]; then
        echo "fuzz/$target: failed (not built: $exe)"
        failed=$((failed + 1))
        continue
    fi
    "$exe" -fork=1 -ignore_crashes=1 -ignore_timeouts=0 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/$target/artifacts/" "$work/$target/corpus" "$seeds" >"$work/$target/log.txt" 2>&1
    status=$?
    stats=$(grep -E '^#[0-9]+: cov:' "$work/$target/log.txt" | tail -1)
    execs=$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$stats")
    corpus=$(find "$work/$target/corpus" -type f | wc -l)
    exits=0 crashes=()
    for artifact in "$work/$target/artifacts"/*; do
        [ -e "$artifact" ] || continue
        if in_libnftnl "$exe" "$artifact"; then
            exits=$((exits + 1))
        else
            crashes+=("$artifact")
        fi
    done
    summary="${execs:-0} execs, $corpus inputs in the corpus, $(ls "$seeds" | wc -l) seeds"
    [ "$exits" -gt 0 ] && summary+=", $exits inputs stopped inside libnftnl"
    # With -ignore_crashes the exit status is 1 after any crash, libnftnl's included: the inputs decide.
    if [ -z "$execs" ] || [ ${#crashes[@]} -gt 0 ] || { [ "$status" -ne 0 ] && [ "$exits" -eq 0 ]; }; then
        echo "fuzz/$target: failed ($summary; exit $status; ${#crashes[@]} crashing inputs: ${crashes[*]:-none}; log: $work/$target/log.txt)"
        for artifact in "${crashes[@]:0:1}"; do "$exe" "$artifact" 2>&1 | grep -E 'ERROR|SUMMARY|#[0-9] |fuzz check' | head -15; done
        failed=$((failed + 1))
    else
        echo "fuzz/$target: passed ($summary)"
        passed=$((passed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
