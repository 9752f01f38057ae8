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


def ordered(q):
    """Whether q is {min, p50, p90, p99, max} of positive, ordered figures."""
    seq = [q.get(k) for k in ("min", "p50", "p90", "p99", "max")] if isinstance(q, dict) else [None]
    return None not in seq and 0 < seq[0] <= seq[1] <= seq[2] <= seq[3] <= seq[4]


def ran_cell(cells, key, label, problems):
    """The cell at `key` when it ran; otherwise None, noting a problem unless it was skipped with a reason."""
    c = cells.get(key)
    if c is None:
        problems.append(f"no cell {label}")
    elif c.get("error"):
        problems.append(f"{label} failed: {c['error']}")
    elif c.get("skipped"):
        if not isinstance(c["skipped"], str) or len(c["skipped"]) < 5:
            problems.append(f"{label} skipped without a reason")
    else:
        return c
    return None


def check_timings(c, label, reps, rounds, problems):
    """A cell timed like the latency mode's: its repetitions and rounds, ordered publish and unpublish figures."""
    if not (c.get("repetitions") == reps or (c.get("time_bounded") and 1 <= c.get("repetitions", 0) < reps)):
        problems.append(f"{label}: {c.get('repetitions')} repetitions of {reps}")
    if c.get("rounds") != rounds:
        problems.append(f"{label}: measured in {c.get('rounds')} rounds, not {rounds}")
    for phase in ("publish_us", "unpublish_us"):
        if not ordered(c.get(phase)):
            problems.append(f"{label} {phase} not ordered positive percentiles: {c.get(phase)}")


damage_kinds = ["flush-ruleset", "delete-table", "flush-table", "delete-element", "delete-rule", "delete-chain"]

# --- usage errors: refused before anything runs, exit 2, one clear line --------------------------
problems = []
for args, expect in [(["--reps", "0"], "--reps"), (["--methods", "warren-nft,bogus"], "bogus"),
                     (["--bulk", "10x0"], "--bulk"), (["--ports", "0"], "--ports"),
                     (["--table-sizes", "9999999"], "--table-sizes"), (["--mode", "speed"], "--mode"),
                     (["--rounds", "0"], "--rounds"), (["--no-such-option"], "no-such-option"),
                     (["--heal-rounds", "0"], "--heal-rounds"), (["--heal-damages", "bogus"], "bogus"),
                     (["--heal-sizes", "9999999"], "--heal-sizes"), (["--heal-timeout-ms", "0"], "--heal-timeout-ms"),
                     (["--foreign-writer-ms", "0"], "--foreign-writer-ms"),
                     (["--foreign-writer-sizes", "9999999"], "--foreign-writer-sizes"),
                     (["--conntrack-flows", "99999999"], "--conntrack-flows"), (["--family", "ipv5"], "--family"),
                     (["--burst-tasks", "0"], "--burst-tasks"), (["--burst-rounds", "0"], "--burst-rounds"),
                     (["--ingress-backends", "1"], "--ingress-backends"), (["--ingress-backends", "4097"], "--ingress-backends"),
                     (["--ingress-services", "9999999"], "--ingress-services"),
                     (["--datapath-layouts", "warren-nft,bogus"], "bogus"),
                     (["--datapath-layouts", "warren-nft-ingress", "--datapath-sizes", "60000"], "--datapath-sizes")]:
    r = run(args, timeout=60)
    if r.returncode != 2 or expect not in r.stderr or r.stdout:
        problems.append(f"{args}: exit {r.returncode}, stderr {r.stderr.strip()!r}, stdout {r.stdout[:80]!r}")
r = run(["--help"], timeout=60)
for option in ["--mode", "--all", "--methods", "--ports", "--table-sizes", "--reps", "--warmup", "--rounds", "--max-seconds",
               "--bulk", "--datapath-sizes", "--datapath-seconds", "--datapath-runs", "--memory-ports", "--json", "--csv",
               "foreign-writer", "--foreign-writer-ms", "--foreign-writer-sizes", "heal", "--heal-damages", "--heal-sizes",
               "--heal-rounds", "--heal-timeout-ms", "conntrack", "--conntrack-flows", "--family", "burst", "--burst-tasks",
               "--burst-rounds", "ingress", "--ingress-backends", "--ingress-services", "--datapath-layouts", "warren-nft-policy", "warren-nft-ingress", "warren-nft-socket-check"] + damage_kinds:
    if option not in r.stdout:
        problems.append(f"--help does not document {option}")
if r.returncode != 0:
    problems.append(f"--help: exit {r.returncode}")
report("usage errors exit 2 and name the option; --help documents every option", problems)

# --- one small run of every mode -----------------------------------------------------------------
work = tempfile.mkdtemp(prefix="bench-smoke.")
json_path, csv_path = os.path.join(work, "results.json"), os.path.join(work, "results.csv")
sizes, ports, reps, rounds = [0, 40], [1, 3], 5, 2
heal_sizes, heal_rounds, writer_sizes, writer_ms = [2, 40], 2, [0, 40], 2
conntrack_flows = [0, 300]
datapath_layouts = ["warren-nft", "warren-nft-policy", "warren-nft-ingress", "iptables-fork"]
before = host_view()
r = run(["--mode", "latency,bulk,memory,datapath,foreign-writer,heal,conntrack", "--reps", str(reps), "--warmup", "1",
         "--rounds", str(rounds),
         "--table-sizes", ",".join(map(str, sizes)), "--ports", ",".join(map(str, ports)), "--max-seconds", "20",
         "--bulk", "30x1,5x4", "--memory-ports", "2000",
         "--datapath-layouts", ",".join(datapath_layouts), "--datapath-sizes", "2,40", "--datapath-seconds", "0.3",
         "--datapath-runs", "1",
         "--foreign-writer-sizes", ",".join(map(str, writer_sizes)), "--foreign-writer-ms", str(writer_ms),
         "--heal-sizes", ",".join(map(str, heal_sizes)), "--heal-rounds", str(heal_rounds), "--heal-timeout-ms", "1000",
         "--conntrack-flows", ",".join(map(str, conntrack_flows)),
         "--json", json_path, "--csv", csv_path])
after = host_view()
if r.returncode == 77:  # the bench could not create a network namespace here: nothing can run
    print("SKIP: " + r.stderr.strip())
    print("summary: 0 passed, 0 failed, 18 skipped")
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
    method_names = ["warren-nft", "warren-nft-policy", "warren-nft-socket-check", "warren-nft-counters", "floor", "floor-policy",
                    "iptables-fork", "iptables-restore", "nft-cli", "libnftables"]
    cells = {(c["method"], c["ports"], c["table_size"]): c for c in data.get("latency", [])}
    ran = set()
    for m in method_names:
        for p in ports:
            for n in sizes:
                c = ran_cell(cells, (m, p, n), f"latency {m} P={p} N={n}", problems)
                if c is None:
                    continue
                ran.add(m)
                check_timings(c, f"{m} P={p} N={n}", reps, rounds, problems)
                if c.get("peak_rss_kib", 0) <= 0:
                    problems.append(f"{m} P={p} N={n}: no peak RSS")
                forks = m in ("iptables-fork", "iptables-restore", "nft-cli")
                if forks != (c.get("tool_peak_rss_kib", 0) > 0):
                    problems.append(f"{m} P={p} N={n}: tool_peak_rss_kib {c.get('tool_peak_rss_kib')} (forks: {forks})")
    for must in ("warren-nft", "warren-nft-policy", "warren-nft-socket-check", "warren-nft-counters",
                 "floor", "floor-policy"):  # they need nothing but the kernel
        if must not in ran:
            problems.append(f"{must} did not run")
    for m in method_names:
        if m in ran and m not in r.stdout:
            problems.append(f"{m} is missing from the stdout table")
    report(f"latency: every method x P x N cell is measured or skipped with a reason ({len(ran)} methods ran)", problems)

    # Issue 15: the policy and socket-check variants beside plain warren-nft, with the p50 ratios, in
    # the JSON, the stdout section and the 2x goal of the 3-port service at every N.
    problems = []
    side_by_side = {(v.get("method"), v.get("ports"), v.get("table_size")): v for v in data.get("latency_vs_plain", [])}
    section = r.stdout.split("access policy on every port, listening-socket check: p50 in us beside plain warren-nft", 1)
    if len(section) != 2:
        problems.append("no stdout section setting the variants beside plain warren-nft")
    targets = {t.get("target"): t for t in data.get("targets", [])}
    for m in ("warren-nft-policy", "warren-nft-socket-check", "floor-policy"):
        for p in ports:
            for n in sizes:
                ours, plain = cells.get((m, p, n), {}), cells.get(("warren-nft", p, n), {})
                if "publish_us" not in ours or "publish_us" not in plain:
                    continue  # already reported above
                v = side_by_side.get((m, p, n))
                if v is None:
                    problems.append(f"no latency_vs_plain entry for {m} P={p} N={n}")
                    continue
                for phase in ("publish", "unpublish"):
                    ratio = ours[f"{phase}_us"]["p50"] / plain[f"{phase}_us"]["p50"]
                    if v.get(f"{phase}_p50_us") != ours[f"{phase}_us"]["p50"] or \
                            v.get(f"plain_{phase}_p50_us") != plain[f"{phase}_us"]["p50"] or \
                            abs(v.get(f"{phase}_p50_ratio_to_plain", 0) - ratio) > 1e-9:
                        problems.append(f"latency_vs_plain {m} P={p} N={n} {phase} disagrees with the cells: {v}")
                ratio = v["publish_p50_ratio_to_plain"]
                line = f"{m:<24} {p:5} {n:>7,} | {v['publish_p50_us']:9.1f} {v['plain_publish_p50_us']:9.1f} {ratio:6.2f}x"
                if len(section) == 2 and line not in section[1]:
                    problems.append(f"the stdout section lacks {line!r}")
                if p == 3 and m != "floor-policy":  # the floor is evidence, not a goal
                    label = f"{m} publish p50 within 2x of warren-nft, 3 ports, N={n:,}"
                    t = targets.get(label)
                    if t is None or t.get("met") != (ratio <= 2.0) or f"= {ratio:.2f}x" not in t.get("measured", ""):
                        problems.append(f"target {label!r} missing or disagreeing with ratio {ratio:.2f}: {t}")
    if len(side_by_side) != 3 * len(ports) * len(sizes):
        problems.append(f"{len(side_by_side)} latency_vs_plain entries, expected {3 * len(ports) * len(sizes)}")
    if any(t.startswith("floor-policy") for t in targets):
        problems.append("floor-policy is reported as a goal")
    report("latency: warren-nft-policy, warren-nft-socket-check and floor-policy beside plain warren-nft with p50 ratios "
           "in JSON, stdout and the 2x goal (not for the floor)", problems)

    problems = []
    if "latency in microseconds; each row" not in r.stdout or any("family" in c for c in data.get("latency", [])):
        problems.append("the default (IPv4) run names a family in its heading or JSON cells")
    if "dual-stack" in r.stdout:
        problems.append("the default (IPv4) run mentions dual-stack tasks")
    report("latency: the default family is IPv4 and is reported as before --family existed", problems)

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
    for layout in datapath_layouts:
        for n in (2, 40):
            d = datapath.get((layout, n))
            if d is None:
                problems.append(f"no datapath cell {layout} N={n}")
            elif d.get("skipped"):
                if layout != "iptables-fork":
                    problems.append(f"{layout} data path skipped: {d['skipped']}")
            elif len(d.get("connections_per_second", [])) != 1 or not d.get("median", 0) > 0 or \
                    len(d.get("fill_seconds", [])) != 1 or not d["fill_seconds"][0] >= 0:
                problems.append(f"datapath {layout} N={n}: {d}")
            elif not any(l.startswith(f"{layout:<18} table {n:>7,}: ") and "table filled in at most" in l
                         for l in r.stdout.splitlines()):
                problems.append(f"stdout lacks the datapath line of {layout} N={n}")
    targets = {t.get("target"): t for t in data.get("targets", [])}
    # Issue 3 (host-mode ports) and issue 17 (ingress services): the rate at the largest table within
    # 10% of the rate at the smallest, evaluated from the medians.
    for layout in ("warren-nft", "warren-nft-ingress"):
        small, large = datapath.get((layout, 2), {}), datapath.get((layout, 40), {})
        if not (small.get("median", 0) > 0 and large.get("median", 0) > 0):
            continue
        ratio = large["median"] / small["median"]
        t = targets.get(f"data path: {layout} conn/s at N=40 within 10% of N=2")
        if t is None or t.get("met") != (ratio >= 0.9) or f"= {ratio:.3f}" not in t.get("measured", ""):
            problems.append(f"datapath target of {layout} missing or disagreeing with {ratio:.3f}: {t}")
    for n in (2, 40):
        policed, plain = datapath.get(("warren-nft-policy", n), {}), datapath.get(("warren-nft", n), {})
        if not (policed.get("median", 0) > 0 and plain.get("median", 0) > 0):
            continue
        ratio = policed["median"] / plain["median"]
        if abs(policed.get("median_ratio_to_plain", 0) - ratio) > 1e-9:
            problems.append(f"datapath policy N={n}: median_ratio_to_plain {policed.get('median_ratio_to_plain')}, "
                            f"expected {ratio}")
        if f"warren-nft-policy / warren-nft at table {n:,}:" not in r.stdout or f"= {ratio:.3f}" not in r.stdout:
            problems.append(f"stdout lacks the policy / plain line at table {n} with {ratio:.3f}")
        t = targets.get(f"data path: warren-nft-policy conn/s within 10% of warren-nft, N={n:,}")
        if t is None or t.get("met") != (ratio >= 0.9):
            problems.append(f"datapath policy target N={n} missing or disagreeing with {ratio:.3f}: {t}")
    report("datapath: connections went through the published port in each layout (ingress: through the slot map), "
           "the policy layout beside the plain one, the flat-rate goal of the plain and ingress layouts", problems)

    # Whether the publisher beat the goals is the benchmark's finding, not the test's: these check that
    # every cell ran and reported well-formed figures.
    problems = []
    writer = {(c.get("table_size"), c.get("writer")): c for c in data.get("foreign_writer", [])}
    for n in writer_sizes:
        for kind in ("quiet", "busy"):
            c = ran_cell(writer, (n, kind), f"foreign-writer N={n} {kind}", problems)
            if c is None:
                continue
            if c.get("period_us") != writer_ms * 1000 or c.get("rounds") != rounds:
                problems.append(f"foreign-writer N={n} {kind}: period {c.get('period_us')} us, {c.get('rounds')} rounds")
            calls = c.get("publishes", 0) + c.get("failed_publishes", 0)
            if not 1 <= calls <= reps:
                problems.append(f"foreign-writer N={n} {kind}: {calls} publishes of {reps}")
            if c.get("publishes", 0) > 0 and not ordered(c.get("publish_us")):
                problems.append(f"foreign-writer N={n} {kind}: publish_us {c.get('publish_us')}")
            if c.get("failed_publishes", 0) + c.get("failed_unpublishes", 0) > 0 and not c.get("first_failure"):
                problems.append(f"foreign-writer N={n} {kind}: failures without a reason")
            if kind == "busy":
                if not (c.get("foreign_commits", 0) > 1 and c.get("foreign_seconds", 0) > 0):
                    problems.append(f"foreign-writer N={n}: the writer did not commit: {c}")
                if "publish_us" in c and "publish_us" in writer.get((n, "quiet"), {}) and \
                        not c.get("publish_p50_ratio_to_quiet", 0) > 0:
                    problems.append(f"foreign-writer N={n}: no ratio to quiet")
    if "foreign writer:" not in r.stdout:
        problems.append("no foreign writer section in stdout")
    report("foreign-writer: quiet and busy cells at each N, the writer committing, failures counted", problems)

    problems, healed, heal_ran = [], 0, 0
    heal = {(c.get("damage"), c.get("table_size")): c for c in data.get("heal", [])}
    for kind in damage_kinds:
        for n in heal_sizes:
            c = ran_cell(heal, (kind, n), f"heal {kind} N={n}", problems)
            if c is None:
                continue
            heal_ran += 1
            healed += c.get("healed", 0)
            if not 1 <= c.get("rounds", 0) <= heal_rounds or c.get("not_healed") != c["rounds"] - c.get("healed", -1):
                problems.append(f"heal {kind} N={n}: rounds {c.get('rounds')}, healed {c.get('healed')}, "
                                f"not healed {c.get('not_healed')}")
            if c.get("healed", 0) > 0 and not ordered(c.get("outage_ms")):
                problems.append(f"heal {kind} N={n}: outage_ms {c.get('outage_ms')}")
            if c.get("healed", 0) < c.get("rounds", 0) and not c.get("first_problem"):
                problems.append(f"heal {kind} N={n}: rounds not healed without a reason")
            repairs = c.get("on_repair", {})
            if not isinstance(repairs.get("reports"), int) or \
                    (repairs.get("reports", 0) > repairs.get("failed", 0) and not ordered(repairs.get("duration_ms"))):
                problems.append(f"heal {kind} N={n}: on_repair {repairs}")
            if kind not in r.stdout:
                problems.append(f"heal {kind} is missing from stdout")
    report(f"heal: every damage kind x N is measured or skipped with a reason ({heal_ran} ran, "
           f"{healed} rounds healed)", problems)

    problems = []
    conntrack = {(c.get("flows"), c.get("cleanup")): c for c in data.get("conntrack", [])}
    for n in conntrack_flows:
        for cleanup in (False, True):
            label = f"conntrack N={n} cleanup {'on' if cleanup else 'off'}"
            c = ran_cell(conntrack, (n, cleanup), label, problems)
            if c is None:
                continue
            check_timings(c, label, reps, rounds, problems)
            if c.get("tracked", -1) < n:  # the flow generator filled the table
                problems.append(f"{label}: the table held {c.get('tracked')} entries")
            if not isinstance(c.get("warnings"), int) or (c["warnings"] > 0 and not c.get("first_warning")):
                problems.append(f"{label}: warnings {c.get('warnings')} first {c.get('first_warning')}")
            if cleanup and not (c.get("publish_p50_ratio_to_off", 0) > 0 and c.get("unpublish_p50_ratio_to_off", 0) > 0):
                problems.append(f"{label}: no ratio to the cells without cleanup")
            if not cleanup and not ordered(c.get("forget_us")):
                problems.append(f"{label}: forget_us {c.get('forget_us')}")
    if "conntrack cleanup:" not in r.stdout:
        problems.append("no conntrack cleanup section in stdout")
    report("conntrack: publish and unpublish with the cleanup off and on at each number of tracked flows, "
           "forget() alone, the flows inserted", problems)

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

# --- the latency mode with dual-stack tasks ---------------------------------------------------------
# warren-nft publishes each task with both addresses in one transaction, floor sends the same elements
# of both tables in one batch; the report sets their 3-port medians side by side with the ratio, at
# every N, and evaluates the 2x target there. The iptables methods are IPv4 only: skipped, saying so.
dual_json = os.path.join(work, "dual.json")
dual_sizes = [0, 40]
before = host_view()
r = run(["--mode", "latency", "--family", "dual", "--methods", "warren-nft,floor,nft-cli,libnftables,iptables-fork",
         "--ports", "3", "--table-sizes", ",".join(map(str, dual_sizes)), "--reps", str(reps), "--warmup", "1",
         "--rounds", str(rounds), "--max-seconds", "20", "--json", dual_json])
after = host_view()
print(r.stdout)
problems = [f"exit {r.returncode}: {r.stderr[-2000:]}"] if r.returncode != 0 else []
problems += [f"{k} changed" for k in before if before[k] != after[k]]
try:
    dual = json.load(open(dual_json))
except Exception as e:  # noqa: BLE001
    dual = {}
    problems.append(f"no JSON: {e!r}")
cells = {(c["method"], c["ports"], c["table_size"]): c for c in dual.get("latency", [])}
if len(cells) != 5 * len(dual_sizes):
    problems.append(f"{len(cells)} cells, expected {5 * len(dual_sizes)}")
for key, c in cells.items():
    if c.get("family") != "dual":
        problems.append(f"{key}: family {c.get('family')!r}")
for n in dual_sizes:
    for m in ("warren-nft", "floor", "nft-cli", "libnftables"):
        c = ran_cell(cells, (m, 3, n), f"dual {m} N={n}", problems)
        if c is not None:
            check_timings(c, f"dual {m} N={n}", reps, rounds, problems)
        elif m in ("warren-nft", "floor") and cells.get((m, 3, n), {}).get("skipped"):
            problems.append(f"dual {m} N={n} skipped: {cells[(m, 3, n)]['skipped']}")
    fork = cells.get(("iptables-fork", 3, n), {})
    if "not applicable to dual-stack tasks" not in (fork.get("skipped") or ""):
        problems.append(f"dual iptables-fork N={n} is not skipped as not applicable: {fork}")
if "dual-stack tasks (an IPv4 and an IPv6 address" not in r.stdout:
    problems.append("the latency heading does not name the family")
section = r.stdout.split("dual-stack: publish p50 of a 3-port task, warren-nft beside floor", 1)
if len(section) != 2:
    problems.append("no dual-stack section setting warren-nft beside floor")
targets = {t.get("target"): t for t in dual.get("targets", [])}
for n in dual_sizes:
    ours, floor = cells.get(("warren-nft", 3, n), {}), cells.get(("floor", 3, n), {})
    if "publish_us" not in ours or "publish_us" not in floor:
        continue
    ratio = ours["publish_us"]["p50"] / floor["publish_us"]["p50"]
    label = f"dual-stack tasks: warren-nft publish p50 within 2x of floor, 3 ports, N={n:,}"
    t = targets.get(label)
    if t is None:
        problems.append(f"no target {label!r} in {list(targets)}")
    elif t.get("met") != (ratio <= 2.0) or f"= {ratio:.2f}x" not in t.get("measured", ""):
        problems.append(f"target {label!r} disagrees with the cells' ratio {ratio:.2f}: {t}")
    line = f"N={n:<7,} warren-nft {ours['publish_us']['p50']:8.1f} us  floor {floor['publish_us']['p50']:8.1f} us"
    if len(section) == 2 and line not in section[1]:
        problems.append(f"the dual-stack section lacks {line!r}")
report("latency --family dual: warren-nft and floor measured with dual-stack tasks, side by side with the ratio and "
       "the 2x target at every N; the iptables methods not applicable", problems)

# --- the burst mode ----------------------------------------------------------------------------------
# Small bursts: every round of each side measured, the medians and the ratio in the JSON agreeing with
# the rounds and with the stdout table, the asynchronous side's transactions counted.
burst_json_path = os.path.join(work, "burst.json")
burst_tasks, burst_rounds = 200, 3
before = host_view()
r = run(["--mode", "burst", "--burst-tasks", str(burst_tasks), "--burst-rounds", str(burst_rounds), "--json",
         burst_json_path])
after = host_view()
print(r.stdout)
problems = [f"exit {r.returncode}: {r.stderr[-2000:]}"] if r.returncode != 0 else []
problems += [f"{k} changed" for k in before if before[k] != after[k]]
try:
    burst = json.load(open(burst_json_path)).get("burst", {})
except Exception as e:  # noqa: BLE001
    burst = {}
    problems.append(f"no JSON: {e!r}")
if burst.get("error"):
    problems.append(f"burst failed: {burst['error']}")
if burst.get("tasks") != burst_tasks or burst.get("requested_rounds") != burst_rounds:
    problems.append(f"burst of {burst.get('tasks')} tasks, {burst.get('requested_rounds')} rounds")
medians = {}
for side in ("sync", "async"):
    figures = burst.get(side, {})
    for phase in ("publish", "unpublish"):
        rounds_measured = figures.get(f"{phase}_seconds", [])
        if len(rounds_measured) != burst_rounds or not all(x > 0 for x in rounds_measured):
            problems.append(f"{side} {phase}_seconds: {rounds_measured}")
            continue
        m = sorted(rounds_measured)[(burst_rounds + 1) // 2 - 1]
        medians[(side, phase)] = m
        if figures.get(f"{phase}_median_seconds") != m:
            problems.append(f"{side} {phase} median {figures.get(f'{phase}_median_seconds')} is not that of {rounds_measured}")
        if abs(figures.get(f"{phase}_median_us_per_request", 0) - m * 1e6 / burst_tasks) > 1e-6:
            problems.append(f"{side} {phase}: us per request {figures.get(f'{phase}_median_us_per_request')}")
    if side == "async":
        for phase in ("publish", "unpublish"):
            # Absent while the publisher's metrics do not count transactions; the text says so.
            batches = figures.get(f"{phase}_batches")
            if batches is None:
                if "transactions not counted" not in r.stdout:
                    problems.append(f"no async {phase}_batches, and stdout does not say they were not counted")
            elif len(batches) != burst_rounds or not all(1 <= b <= burst_tasks for b in batches):
                problems.append(f"async {phase}_batches (transactions per burst of {burst_tasks}): {batches}")
for phase in ("publish", "unpublish"):
    if ("sync", phase) in medians and ("async", phase) in medians:
        ratio = medians[("sync", phase)] / medians[("async", phase)]
        if abs(burst.get(f"{phase}_ratio_sync_to_async", 0) - ratio) > 1e-9:
            problems.append(f"{phase} ratio {burst.get(f'{phase}_ratio_sync_to_async')}, expected {ratio}")
        row = [l for l in r.stdout.splitlines() if l.startswith(phase + " ")]
        if len(row) != 1 or f"{ratio:.1f}x" not in row[0]:
            problems.append(f"stdout row of {phase} lacks the ratio {ratio:.1f}x: {row}")
if "burst: 200 one-port tasks" not in r.stdout:
    problems.append("no burst section in stdout")
report("burst: every round of the synchronous and the asynchronous side measured, medians, ratios and transactions "
       "agreeing between JSON and stdout", problems)

# --- the ingress mode ---------------------------------------------------------------------------------
# Small sizes: every (B, N) cell measured in its rounds with ordered figures for the four operations, and
# per B the ratio of the p50s at the largest N to those at the smallest, agreeing between JSON and stdout.
ingress_json_path = os.path.join(work, "ingress.json")
ingress_backends, ingress_services = [2, 257], [0, 5]  # 257: a wide port
before = host_view()
r = run(["--mode", "ingress", "--ingress-backends", ",".join(map(str, ingress_backends)), "--ingress-services",
         ",".join(map(str, ingress_services)), "--reps", str(reps), "--warmup", "1", "--rounds", str(rounds),
         "--max-seconds", "20", "--json", ingress_json_path])
after = host_view()
print(r.stdout)
problems = [f"exit {r.returncode}: {r.stderr[-2000:]}"] if r.returncode != 0 else []
problems += [f"{k} changed" for k in before if before[k] != after[k]]
try:
    ingress = json.load(open(ingress_json_path)).get("ingress", {})
except Exception as e:  # noqa: BLE001
    ingress = {}
    problems.append(f"no JSON: {e!r}")
operations = ("add", "replace", "drain", "remove")
cells = {(c.get("backends"), c.get("services")): c for c in ingress.get("cells", [])}
if len(cells) != len(ingress_backends) * len(ingress_services):
    problems.append(f"{len(cells)} cells, expected {len(ingress_backends) * len(ingress_services)}")
for b in ingress_backends:
    for n in ingress_services:
        label = f"ingress B={b} N={n}"
        c = ran_cell(cells, (b, n), label, problems)
        if c is None:
            continue
        if not (c.get("repetitions") == reps or (c.get("time_bounded") and 1 <= c.get("repetitions", 0) < reps)):
            problems.append(f"{label}: {c.get('repetitions')} repetitions of {reps}")
        if c.get("rounds") != rounds:
            problems.append(f"{label}: measured in {c.get('rounds')} rounds, not {rounds}")
        for op in operations:
            if not ordered(c.get(f"{op}_us")):
                problems.append(f"{label} {op}_us not ordered positive percentiles: {c.get(f'{op}_us')}")
    ratios = [x for x in ingress.get("ratios", []) if x.get("backends") == b]
    small, large = cells.get((b, min(ingress_services)), {}), cells.get((b, max(ingress_services)), {})
    if len(ratios) != 1 or ratios[0].get("smallest_services") != min(ingress_services) or \
            ratios[0].get("largest_services") != max(ingress_services):
        problems.append(f"B={b}: ratios {ratios}")
        continue
    line = [l for l in r.stdout.splitlines() if l.startswith(f"B={b}: p50 at N={max(ingress_services):,} / p50 at N=")]
    for op in operations:
        if f"{op}_us" not in small or f"{op}_us" not in large:
            continue
        ratio = large[f"{op}_us"]["p50"] / small[f"{op}_us"]["p50"]
        if abs(ratios[0].get(f"{op}_p50_ratio", 0) - ratio) > 1e-9:
            problems.append(f"B={b} {op}: ratio {ratios[0].get(f'{op}_p50_ratio')}, expected {ratio}")
        if len(line) != 1 or f" {op} {ratio:.2f}x" not in line[0]:
            problems.append(f"B={b}: stdout lacks the {op} ratio {ratio:.2f}x: {line}")
if "ingress: a 1-port TCP ingress service with B backends" not in r.stdout:
    problems.append("no ingress section in stdout")
report("ingress: add, replace, drain and remove of an ingress service timed at every B x N, the p50 ratios of the "
       "largest N to the smallest agreeing between JSON and stdout", problems)

shutil.rmtree(work, ignore_errors=True)
print(f"summary: {results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
sys.exit(1 if results["failed"] else 0)
