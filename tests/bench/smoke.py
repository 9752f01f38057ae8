#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Smoke run of warren-nft-bench (small R and N, every mode and method) so that the tool cannot rot:
# the run must succeed, every figure must be well-formed and agree between stdout, JSON and CSV,
# usage errors must be refused with exit 2, the machine's own ruleset and links must be untouched,
# and tools/bench-plot.sh must turn the JSON into charts. Figures are not compared with targets:
# timing belongs to the benchmark itself, not to a test.
# Usage: smoke.py WARREN_NFT_BENCH BENCH_PLOT_SH
# Prints one line per check and ends with "summary: N passed, N failed, N skipped".
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

bench, plot = sys.argv[1], sys.argv[2]
results = {"passed": 0, "failed": 0, "skipped": 0}


def report(name, problems=None, skip=None):
    if skip:
        results["skipped"] += 1
        print(f"skip - {name}: {skip}")
    elif problems:
        results["failed"] += 1
        print(f"FAIL - {name}:")
        for p in problems:
            print(f"    {p}")
    else:
        results["passed"] += 1
        print(f"ok - {name}")


def run(args, timeout=800):  # below meson's 900 s, so that a hang is reported, not killed
    try:
        return subprocess.run([bench] + args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, -1, e.stdout or "", f"timed out after {timeout} s")


def host_view():
    """What the machine's own namespace looks like (read only): the bench must not change it."""
    view = {}
    nft = shutil.which("nft") or "/usr/sbin/nft"
    for name, argv in {"ruleset": [nft, "list", "ruleset"], "links": ["ip", "-o", "link", "show"]}.items():
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
        except FileNotFoundError:
            out = "(not available)"
        # Link counters change all the time; names and flags must not.
        view[name] = "\n".join(l.split(" link/")[0] for l in out.splitlines()) if name == "links" else out
    return view


# --- usage errors: refused before anything runs, exit 2, one clear line --------------------------
problems = []
for args, expect in [(["--reps", "0"], "--reps"), (["--methods", "warren-nft,bogus"], "bogus"),
                     (["--bulk", "10x0"], "--bulk"), (["--ports", "0"], "--ports"),
                     (["--table-sizes", "9999999"], "--table-sizes"), (["--mode", "speed"], "--mode"),
                     (["--rounds", "0"], "--rounds"), (["--no-such-option"], "no-such-option")]:
    r = run(args, timeout=60)
    if r.returncode != 2 or expect not in r.stderr or r.stdout:
        problems.append(f"{args}: exit {r.returncode}, stderr {r.stderr.strip()!r}, stdout {r.stdout[:80]!r}")
r = run(["--help"], timeout=60)
for option in ["--mode", "--all", "--methods", "--ports", "--table-sizes", "--reps", "--warmup", "--rounds", "--max-seconds",
               "--bulk", "--datapath-sizes", "--datapath-seconds", "--datapath-runs", "--memory-ports", "--json", "--csv"]:
    if option not in r.stdout:
        problems.append(f"--help does not document {option}")
if r.returncode != 0:
    problems.append(f"--help: exit {r.returncode}")
report("usage errors exit 2 and name the option; --help documents every option", problems)

# --- one small run of every mode -----------------------------------------------------------------
work = tempfile.mkdtemp(prefix="bench-smoke.")
json_path, csv_path = os.path.join(work, "results.json"), os.path.join(work, "results.csv")
sizes, ports, reps, rounds = [0, 40], [1, 3], 5, 2
before = host_view()
r = run(["--mode", "latency,bulk,memory,datapath", "--reps", str(reps), "--warmup", "1", "--rounds", str(rounds),
         "--table-sizes", ",".join(map(str, sizes)), "--ports", ",".join(map(str, ports)), "--max-seconds", "20",
         "--bulk", "30x1,5x4", "--memory-ports", "2000",
         "--datapath-sizes", "2,40", "--datapath-seconds", "0.3", "--datapath-runs", "1",
         "--json", json_path, "--csv", csv_path])
after = host_view()
if r.returncode == 77:  # the bench could not create a network namespace here: nothing can run
    print("SKIP: " + r.stderr.strip())
    print("summary: 0 passed, 0 failed, 10 skipped")
    sys.exit(77)
print(r.stdout)
if r.returncode != 0:
    report("the smoke run succeeds", [f"exit {r.returncode}", r.stderr[-2000:]])
else:
    report("the smoke run succeeds")
report("the machine's own ruleset and links are unchanged by the run",
       [f"{k} changed:\n--- before\n{before[k]}\n--- after\n{after[k]}" for k in before if before[k] != after[k]])

try:
    data = json.load(open(json_path))
except Exception as e:  # noqa: BLE001 - any failure to read is the finding
    data = None
    report("--json writes valid JSON", [repr(e)])
if data is not None:
    report("--json writes valid JSON")

    problems = []
    method_names = ["warren-nft", "warren-nft-counters", "floor", "iptables-fork", "iptables-restore", "nft-cli",
                    "libnftables"]
    cells = {(c["method"], c["ports"], c["table_size"]): c for c in data.get("latency", [])}
    ran = set()
    for m in method_names:
        for p in ports:
            for n in sizes:
                c = cells.get((m, p, n))
                if c is None:
                    problems.append(f"no latency cell for {m} P={p} N={n}")
                    continue
                if c.get("error"):
                    problems.append(f"{m} P={p} N={n} failed: {c['error']}")
                    continue
                if c.get("skipped"):
                    if not isinstance(c["skipped"], str) or len(c["skipped"]) < 5:
                        problems.append(f"{m} P={p} N={n} skipped without a reason")
                    continue
                ran.add(m)
                if not (c["repetitions"] == reps or (c["time_bounded"] and 1 <= c["repetitions"] < reps)):
                    problems.append(f"{m} P={p} N={n}: {c['repetitions']} repetitions of {reps}")
                if c.get("rounds") != rounds:
                    problems.append(f"{m} P={p} N={n}: measured in {c.get('rounds')} rounds, not {rounds}")
                for phase in ("publish_us", "unpublish_us"):
                    q = c.get(phase, {})
                    seq = [q.get(k) for k in ("min", "p50", "p90", "p99", "max")]
                    if None in seq or not (0 < seq[0] <= seq[1] <= seq[2] <= seq[3] <= seq[4]):
                        problems.append(f"{m} P={p} N={n} {phase} not ordered positive percentiles: {q}")
                if c.get("peak_rss_kib", 0) <= 0:
                    problems.append(f"{m} P={p} N={n}: no peak RSS")
                forks = m in ("iptables-fork", "iptables-restore", "nft-cli")
                if forks != (c.get("tool_peak_rss_kib", 0) > 0):
                    problems.append(f"{m} P={p} N={n}: tool_peak_rss_kib {c.get('tool_peak_rss_kib')} (forks: {forks})")
    for must in ("warren-nft", "warren-nft-counters", "floor"):  # they need nothing but the kernel
        if must not in ran:
            problems.append(f"{must} did not run")
    for m in method_names:
        if m in ran and m not in r.stdout:
            problems.append(f"{m} is missing from the stdout table")
    report(f"latency: every method x P x N cell is measured or skipped with a reason ({len(ran)} methods ran)", problems)

    problems = []
    try:
        rows = list(csv.DictReader(open(csv_path)))
        if len(rows) != len(data["latency"]):
            problems.append(f"{len(rows)} CSV rows for {len(data['latency'])} cells")
        for row in rows:
            c = cells.get((row["method"], int(row["ports"]), int(row["table_size"])))
            if c is None:
                problems.append(f"CSV row without JSON cell: {row}")
            elif "publish_us" in c and abs(float(row["publish_p50_us"]) - c["publish_us"]["p50"]) > 0.051:
                problems.append(f"CSV and JSON disagree on {row['method']}: {row['publish_p50_us']} vs {c['publish_us']['p50']}")
            elif c.get("skipped") and row["skipped"] != c["skipped"]:
                problems.append(f"CSV skip reason differs for {row['method']}")
    except Exception as e:  # noqa: BLE001
        problems.append(repr(e))
    report("--csv has one row per latency cell, agreeing with the JSON", problems)

    problems = []
    bulk = {(b["tasks"], b["ports_per_task"]): b for b in data.get("bulk", [])}
    for shape in [(30, 1), (5, 4)]:
        b = bulk.get(shape)
        if b is None or b.get("error"):
            problems.append(f"bulk {shape}: {b}")
        elif b["adopted_ports"] != shape[0] * shape[1] or not (b["publish_seconds"] > 0 and b["adopt_seconds"] > 0):
            problems.append(f"bulk {shape}: {b}")
    report("bulk: both shapes published and adopted by a restarted publisher", problems)

    m = data.get("memory", {})
    rss = m.get("rss_bytes", {})
    ok = m.get("ports") == 2000 and not m.get("error") and all(rss.get(k, 0) > 0 for k in
                                                             ("before_publish", "after_publish", "before_adopt", "after_adopt"))
    report("memory: resident sets measured around publishing and adopting", None if ok else [json.dumps(m)])

    problems = []
    datapath = {(d["layout"], d["table_size"]): d for d in data.get("datapath", [])}
    for layout in ("warren-nft", "iptables-fork"):
        for n in (2, 40):
            d = datapath.get((layout, n))
            if d is None:
                problems.append(f"no datapath cell {layout} N={n}")
            elif d.get("skipped"):
                if layout == "warren-nft":
                    problems.append(f"warren-nft data path skipped: {d['skipped']}")
            elif len(d.get("connections_per_second", [])) != 1 or not d.get("median", 0) > 0:
                problems.append(f"datapath {layout} N={n}: {d}")
    report("datapath: connections went through the published port in each layout", problems)

    problems = [] if isinstance(data.get("targets"), list) and data["targets"] else ["no targets evaluated"]
    for t in data.get("targets", []):
        if not {"target", "measured", "met"} <= t.keys():
            problems.append(f"malformed target {t}")
    report("the targets of docs/performance.md are evaluated in the JSON", problems)

    # --- the chart script ---------------------------------------------------------------------
    if not shutil.which("gnuplot"):
        report("bench-plot.sh draws the results", skip="gnuplot is not installed (tools/setup.sh installs gnuplot-nox)")
    else:
        prefix = os.path.join(work, "chart")
        p = subprocess.run([plot, json_path, prefix], capture_output=True, text=True, timeout=300)
        problems = [] if p.returncode == 0 else [f"exit {p.returncode}: {p.stderr.strip()}"]
        for suffix in (".svg", ".png", "-datapath.svg", "-datapath.png"):
            chart = prefix + suffix
            if not (os.path.exists(chart) and os.path.getsize(chart) > 0):
                problems.append(f"{chart} missing or empty")
        report("bench-plot.sh draws the results", problems)

shutil.rmtree(work, ignore_errors=True)
print(f"summary: {results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
sys.exit(1 if results["failed"] else 0)
