#!/usr/bin/env bash
# Runs every test suite of warren-nft and ends with one line: "N passed, N failed[, N skipped]".
#   unit    the publisher's policy, validation and netlink encoding over the in-memory fake backend
#   bench   a smoke run of warren-nft-bench (every mode and method, small R and N) and bench-plot.sh
#   kernel  real nf_tables in network namespaces the tests create themselves (incl. real traffic)
#   cli     the warren-nft binary, run in network namespaces the tests create
#   agent   the example agent (examples/agent), run in network namespaces the tests create, its
#           /metrics read with python3-prometheus-client's parser
#   install meson install into a scratch directory, then build a consumer with pkg-config and
#           another as a meson subproject (tools/check-install.sh)
#   vm-6.1  the kernel suite again, in qemu on Debian 12's stock kernel 6.1 (tests/vm/run-6.1.sh, normal
#           build only); skipped, with its reason, when qemu or the kernel package cannot be had
#   chaos   tests/chaos: a publisher killed with SIGKILL hundreds of times, and publishers at work
#           while other processes damage the ruleset (docs/reliability.md)
#   fuzz    each libFuzzer target of tests/fuzz for a bounded time (clang build in build-fuzz)
#   builds  tools/check-builds.sh: release, debug, plain with Debian's hardening flags, and clang, with -Werror
#   format  tools/check-format.sh: the tree is formatted as .clang-format says
# unit and kernel run twice: in a normal build and in an AddressSanitizer+UndefinedBehaviorSanitizer build;
# unit, kernel (its concurrency tests included) and chaos a third time in a ThreadSanitizer build.
# Counts are Catch2 test cases (bench: the smoke script's checks). A suite that cannot run (no namespaces here) counts as skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh build || exit 1
tools/setup.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug || exit 1

# Steps that are scripts of their own: each ends its output with "summary: N passed, N failed, N skipped".
steps=()
run_step() {
    local name=$1
    shift
    "$@" >"build/meson-logs/step-$name.txt" 2>&1
    echo $? >"build/meson-logs/step-$name.status"
    steps+=("$name")
}

# The suites spend most of their time waiting for the kernel, other processes and timeouts, so the
# builds they do not need yet compile meanwhile, at a lower priority than the tests (nice 10): the
# TSan build while the normal and ASan suites run, then the fuzz build and tools/check-builds.sh
# while the TSan suites and the install check run. Nothing runs beside the qemu suite (vm-6.1).
# -Wno-tsan: GCC warns that TSan does not model std::atomic_thread_fence, which Boost.Asio uses.
# The TSan build compiles only what its suites run.
tsan_suites="unit kernel chaos"
SETUP_SUITES=$tsan_suites nice -n 10 tools/setup.sh build-tsan -Db_sanitize=thread -Dcpp_args=-Wno-tsan \
    >build/meson-logs/setup-tsan.txt 2>&1 &
tsan_build=$!

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# ASan makes every process of the suites about 3 times slower, and a compile runs beside them.
for build in build:1 build-asan:3; do
    meson test -C "${build%:*}" --no-rebuild --print-errorlogs --num-processes 1 --timeout-multiplier "${build#*:}" \
        >"${build%:*}/meson-logs/test-run.txt" 2>&1
done
wait $tsan_build || { cat build/meson-logs/setup-tsan.txt; exit 1; }

# check-builds.sh only compiles; its result is read with the other steps' below.
{ nice -n 10 tests/fuzz/test-step.sh build; nice -n 10 tools/check-builds.sh >build/meson-logs/step-builds.txt 2>&1
  echo $? >build/meson-logs/step-builds.status; } >build/meson-logs/fuzz-build.txt 2>&1 &
ahead_builds=$!

# A race report fails its test (exit 66). tests/tsan-suppressions.txt says which reports are false.
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$PWD/tests/tsan-suppressions.txt" \
    meson test -C build-tsan --no-rebuild --print-errorlogs --num-processes 1 --timeout-multiplier 4 \
    $(printf -- '--suite %s ' $tsan_suites) >build-tsan/meson-logs/test-run.txt 2>&1

tools/check-install.sh build >build/meson-logs/check-install.txt 2>&1
install_status=$?

wait $ahead_builds
steps+=(builds)
tests/vm/run-6.1.sh build >build/meson-logs/vm-6.1.txt 2>&1
vm_status=$?

run_step fuzz tests/fuzz/test-step.sh
run_step format tools/check-format.sh

python3 - build build-asan build-tsan "$install_status" "$vm_status" "${steps[@]}" <<'PY'
import json, re, subprocess, sys
passed = failed = skipped = 0

def why(label, out):
    """Names what failed, in a few lines: the failed Catch2 test cases, or a sanitizer's verdict."""
    lines = out.splitlines()
    rule = "-" * 79
    case, told = None, {}
    for i, line in enumerate(lines):
        # A test case's header: a rule, its name (then its sections), a rule, then where it is.
        if line == rule and i + 1 < len(lines) and lines[i + 1] != rule and not re.search(r":\d+$", lines[i + 1]):
            case = lines[i + 1]
        if "FAILED:" in line and case and case not in told:
            # The first failed assertion, its expansion and messages: up to the next blank line.
            detail = []
            for next_line in lines[i + 1:i + 12]:
                if not next_line.strip():
                    break
                detail.append(next_line.strip()[:160])
            told[case] = detail
    for case, detail in list(told.items())[:5]:
        print(f"  {label} failed: {case}")
        for line in detail:
            print(f"    {line}")
    for line in lines:
        if re.search(r"(WARNING|ERROR): (Thread|Address|UndefinedBehavior|Leak)Sanitizer|^SUMMARY: |runtime error: ", line):
            print(f"  {label}: {line.strip()[:200]}")
    if not told and not any("Sanitizer" in l for l in lines):
        for line in lines[-4:]:
            print(f"  {label}: {line.strip()[:200]}")
steps = []
while not sys.argv[-1].isdigit():
    steps.insert(0, sys.argv.pop())
vm_status = int(sys.argv.pop())
install_status = int(sys.argv.pop())
for build in sys.argv[1:]:
    with open(f"{build}/meson-logs/testlog.json") as log:
        results = [json.loads(line) for line in log if line.strip()]
    for r in results:
        name, result, out = r["name"], r["result"], r.get("stdout", "") or ""
        label = f"{build}/{name.split(' / ')[-1]}"
        m_sum = re.search(r"^summary: (\d+) passed, (\d+) failed, (\d+) skipped$", out, re.M)
        m_all = re.search(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)", out)
        m_mix = re.search(r"test cases:\s*(\d+)\s*\|\s*(?:(\d+) passed\s*\|\s*)?(\d+) failed", out)
        if m_sum:  # a script's checks (tests/bench/smoke.py), not Catch2 test cases
            ok, bad, skip = (int(g) for g in m_sum.groups())
            if result not in ("OK", "SKIP") and bad == 0:
                bad = 1
            passed += ok; failed += bad; skipped += skip
            print(f"{label}: {ok} passed, {bad} failed" + (f", {skip} skipped" if skip else "") +
                  ("" if result in ("OK", "SKIP") else f" ({result})"))
        elif result == "SKIP":
            listing = subprocess.run(r["command"][:1] + ["--list-test-names-only"], capture_output=True, text=True)
            n = len([l for l in listing.stdout.splitlines() if l.strip()]) or 1
            reason = next((l for l in out.splitlines() if l.startswith("SKIP")), "SKIP: no reason given")
            print(f"{label}: {n} skipped ({reason})")
            skipped += n
        elif m_all and result == "OK":
            n = int(m_all.group(1)); passed += n
            print(f"{label}: {n} passed")
        elif m_mix:
            total, ok, bad = int(m_mix.group(1)), int(m_mix.group(2) or 0), int(m_mix.group(3))
            passed += ok; failed += bad
            print(f"{label}: {ok} passed, {bad} failed ({result})")
            why(label, out + "\n" + (r.get("stderr", "") or ""))
        else:
            failed += 1
            print(f"{label}: {result}, no test summary (crash or timeout); counted as 1 failed")
            why(label, out + "\n" + (r.get("stderr", "") or ""))
if install_status == 0:
    passed += 1
    print("install: 1 passed")
else:
    failed += 1
    print("install: 1 failed (see build/meson-logs/check-install.txt)")
    print(open("build/meson-logs/check-install.txt").read()[-3000:])
vm_log = open("build/meson-logs/vm-6.1.txt").read()
vm_lines = [l for l in vm_log.splitlines() if re.match(r"vm-6\.1: (\d+ passed|skipped)", l)]
vm_line = vm_lines[-1] if vm_lines else ""
m_vm = re.match(r"vm-6\.1: (\d+) passed, (\d+) failed", vm_line)
if vm_status == 77:
    listing = subprocess.run(["build/tests/kernel/kernel-tests", "--list-test-names-only"], capture_output=True, text=True)
    n = len([l for l in listing.stdout.splitlines() if l.strip()]) or 1
    reason = vm_line.partition("skipped")[2].strip() or "(no reason given)"
    print(f"vm-6.1: {n} skipped {reason}")
    skipped += n
elif m_vm:
    ok, bad = int(m_vm.group(1)), int(m_vm.group(2))
    if vm_status != 0 and bad == 0:
        bad = 1
        vm_line += f" [exit {vm_status}; counted as 1 failed]"
    passed += ok; failed += bad
    print(vm_line)
else:
    failed += 1
    print(f"vm-6.1: exit {vm_status}, no result line; counted as 1 failed")
if vm_status not in (0, 77):
    print("  (see build/meson-logs/vm-6.1.txt)")
    print(vm_log[-3000:])
for step in steps:
    out = open(f"build/meson-logs/step-{step}.txt").read()
    status = int(open(f"build/meson-logs/step-{step}.status").read())
    sums = re.findall(r"^summary: (\d+) passed, (\d+) failed, (\d+) skipped$", out, re.M)
    if not sums:
        failed += 1
        print(f"{step}: exit {status}, no summary line; counted as 1 failed")
        print(out[-3000:])
        continue
    ok, bad, skip = (int(g) for g in sums[-1])
    if status != 0 and bad == 0:
        bad = 1
    passed += ok; failed += bad; skipped += skip
    for line in out.splitlines():  # a step's own per-item results (fuzz/TARGET: ...)
        if line.startswith(f"{step}/"):
            print(line)
    print(f"{step}: {ok} passed, {bad} failed" + (f", {skip} skipped" if skip else ""))
    if bad or skip:
        print("\n".join("  " + l for l in out.splitlines() if not l.startswith("summary:"))[-3000:])
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
