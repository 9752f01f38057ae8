#!/usr/bin/env bash
# Turns the JSON written by `warren-nft-bench --json FILE` into charts with gnuplot.
# Run with --help for usage. Installs gnuplot-nox (Debian) if gnuplot is missing, like tools/setup.sh.
set -euo pipefail

prog=bench-plot

usage() {
    cat <<'EOF'
Usage: tools/bench-plot.sh RESULTS.json OUTPUT_PREFIX
       tools/bench-plot.sh --help

Draws the results of `warren-nft-bench --json RESULTS.json` with gnuplot:

  OUTPUT_PREFIX.svg, OUTPUT_PREFIX.png
      Rule-commit latency against table size (ports already published), one line per method,
      log-scale y axis in microseconds. Left panel publish, right panel unpublish; one row per
      service size (the 3-port service first, then the others, e.g. 1 port). Lines and points are
      the median (p50); vertical bars span p90 to p99. Methods that were skipped are left out and
      listed under the chart with the reason; so are cells run with fewer repetitions than asked.
  OUTPUT_PREFIX-datapath.svg, OUTPUT_PREFIX-datapath.png
      Only when the results have a "datapath" section: new connections per second per rule
      layout at each table size (bars: median; whiskers: slowest to fastest run). For the
      warren-nft-ingress layout the table size counts ingress services of one port each.

A "bulk" section (and a "memory" one) is printed to standard output as a small table. The
"foreign_writer" and "heal" sections are not drawn (warren-nft-bench prints them as text).
Installs gnuplot (Debian package gnuplot-nox, with sudo when not root) if it is missing.

Exit status: 0 charts written, 1 failure (unreadable or invalid results, no latency data,
gnuplot failed), 2 usage error.
EOF
}

die() {
    echo "$prog: $1" >&2
    exit "${2:-1}"
}

case ${1:-} in
    -h | --help)
        usage
        exit 0
        ;;
    --) shift ;;
    -?*) die "unknown option '$1' (see --help)" 2 ;;
esac
[ $# -eq 2 ] || die "expected RESULTS.json and OUTPUT_PREFIX (see --help)" 2
results=$1
prefix=$2
[ -n "$prefix" ] || die "OUTPUT_PREFIX is empty" 2
[ -e "$results" ] || die "$results: no such file"
if [ ! -f "$results" ] || [ ! -r "$results" ]; then
    die "$results: not a readable file"
fi
outdir=$(dirname -- "$prefix")
[ -d "$outdir" ] || die "$outdir: output directory does not exist"
[ -w "$outdir" ] || die "$outdir: output directory is not writable"
command -v python3 >/dev/null || die "python3 is needed to read the results (apt-get install python3)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-plot.XXXXXX")
# BENCH_PLOT_KEEP_TMP=1 keeps the data and gnuplot files, for debugging a chart.
trap '[ -n "${BENCH_PLOT_KEEP_TMP:-}" ] || rm -rf -- "$tmp"' EXIT

# ---------------------------------------------------------------------------------------------
# Extract: JSON -> gnuplot data files and gnuplot variable files in $tmp; text tables to stdout.
#   latency.gp                       titles, methods (name, colour, style), rows, axes, footnote
#   lat-R-M.dat                      row R (service size), method M: x, publish p50 p90 p99,
#                                    unpublish p50 p90 p99 (NaN when absent)
#   datapath.gp, dp-L.dat            only with datapath data: x, median, min, max, label
#   summary.txt                      bulk and memory tables, printed after the charts
# ---------------------------------------------------------------------------------------------
python3 - "$results" "$tmp" <<'PY'
import json
import math
import os
import statistics
import sys
import textwrap

path, tmp = sys.argv[1], sys.argv[2]


def fail(message):
    print(f"bench-plot: {message}", file=sys.stderr)
    sys.exit(1)


def unexpected(kind, value, traceback):
    """One line instead of a traceback for results shaped in a way this script did not foresee."""
    print(f"bench-plot: {path}: could not read the results ({kind.__name__}: {value})", file=sys.stderr)


sys.excepthook = unexpected     # the exit status stays 1


try:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
except OSError as e:
    fail(f"{path}: cannot read: {e.strerror}")
except UnicodeDecodeError:
    fail(f"{path}: not valid JSON (not UTF-8 text)")
except json.JSONDecodeError as e:
    fail(f"{path}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")
except RecursionError:
    fail(f"{path}: not valid JSON (nested too deeply)")
if not isinstance(doc, dict):
    fail(f"{path}: not warren-nft-bench results (the top level is not a JSON object)")


def number(value):
    """A finite JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def positive(value):
    v = number(value)
    return v if v is not None and v > 0 else None


def skip_reason(entry):
    """None when the entry ran; the reason (a non-empty string) when it was skipped."""
    s = entry.get("skipped")
    if s is None or s is False or s == "":
        return None
    if isinstance(s, str):
        return " ".join(s.split())
    return "no reason given"


def grouped(n):
    return f"{int(n):,}" if float(n).is_integer() else f"{n:,.1f}"


def clean(text):
    return " ".join(str(text).split())


def gp_string(text):
    """A gnuplot single-quoted string: only '' needs escaping."""
    return "'" + clean(text).replace("'", "''") + "'"


def gp_lines(lines):
    return ' . "\\n" . '.join(gp_string(line) for line in lines) if lines else "''"


def gp_value(v):
    return "NaN" if v is None else repr(float(v))


def ports_label(p):
    return f"{p} port" if p == 1 else f"{p} ports"


def join_limited(items, limit):
    items = list(items)
    if len(items) > limit:
        return "; ".join(items[:limit]) + f"; and {len(items) - limit} more"
    return "; ".join(items)


FOOTNOTE_WIDTH = 190  # characters of a footnote line on the 1400-pixel-wide charts


def footnote_lines(items, limit=6):
    """items: list of text lines; keeps the chart readable when many cells were skipped."""
    if len(items) > limit:
        return items[: limit - 1] + [f"... and {len(items) - limit + 1} more (see the JSON)"]
    return items


# Method styles: fixed for the known methods so that charts of different runs compare at a glance.
KNOWN = {
    # name: (colour, dashtype, line width, point type)
    "warren-nft": ("#0b5cad", 1, 3.0, 7),
    "warren-nft-policy": ("#08306b", 3, 2.0, 7),
    "warren-nft-ingress": ("#00a6a6", 1, 2.0, 7),   # a data-path layout only
    "warren-nft-socket-check": ("#4292c6", 5, 2.0, 7),
    "warren-nft-counters": ("#6baed6", 4, 2.0, 7),
    "floor": ("#7f7f7f", 2, 2.0, 6),
    "libnftables": ("#2ca02c", 1, 2.0, 5),
    "nft-cli": ("#9467bd", 1, 2.0, 9),
    "iptables-restore": ("#ff7f0e", 1, 2.0, 11),
    "iptables-fork": ("#d62728", 1, 2.0, 13),
}
EXTRA_COLOURS = ["#17becf", "#8c564b", "#e377c2", "#bcbd22", "#1f77b4", "#393b79"]

machine = doc.get("machine") if isinstance(doc.get("machine"), dict) else {}
parts = []
if machine.get("cpu"):
    cpus = number(machine.get("cpus"))
    parts.append(clean(machine["cpu"]) + (f", {int(cpus)} CPUs" if cpus else ""))
elif number(machine.get("cpus")):
    parts.append(f"{int(machine['cpus'])} CPUs")
if number(machine.get("memory_mib")):
    parts.append(f"{grouped(machine['memory_mib'])} MiB")
if machine.get("os"):
    parts.append(clean(machine["os"]))
if machine.get("kernel"):
    parts.append("kernel " + clean(machine["kernel"]))
if machine.get("sandbox"):
    parts.append("sandbox " + clean(machine["sandbox"]))
machine_text = ", ".join(parts) if parts else "machine not described in the results"
tool = clean(doc.get("tool") or "warren-nft-bench")
if doc.get("version"):
    tool += " " + clean(doc["version"])

# ---- latency ---------------------------------------------------------------------------------
latency = doc.get("latency")
if latency is None:
    fail(f"{path}: no latency data (no \"latency\" section: was the latency mode run?)")
if not isinstance(latency, list):
    fail(f"{path}: \"latency\" is not a list")

PHASES = ("publish_us", "unpublish_us")
order = []            # methods in order of first appearance
cells = {}            # (method, ports, table) -> {phase: (p50, p90, p99)}
skipped = {}          # method -> {reason: [(ports, table)]}
short_runs = {}       # method -> [(ports, table, repetitions, requested, time_bounded)]
for i, entry in enumerate(latency):
    if not isinstance(entry, dict):
        fail(f"{path}: latency[{i}] is not an object")
    method = entry.get("method")
    ports = number(entry.get("ports"))
    table = number(entry.get("table_size"))
    if not isinstance(method, str) or not method.strip():
        fail(f"{path}: latency[{i}] has no \"method\"")
    if ports is None or table is None or ports < 0 or table < 0:
        fail(f"{path}: latency[{i}] ({method}) needs numeric \"ports\" and \"table_size\"")
    method, ports, table = clean(method), int(ports), int(table)
    if method not in order:
        order.append(method)
    reason = skip_reason(entry)
    if reason is not None:
        skipped.setdefault(method, {}).setdefault(reason, []).append((ports, table))
        continue
    figures = {}
    for phase in PHASES:
        stats = entry.get(phase)
        if isinstance(stats, dict) and positive(stats.get("p50")) is not None:
            figures[phase] = tuple(positive(stats.get(k)) for k in ("p50", "p90", "p99"))
    if not figures:
        continue
    cells[(method, ports, table)] = figures
    reps, requested = number(entry.get("repetitions")), number(entry.get("requested_repetitions"))
    if reps is not None and requested is not None and reps < requested:
        short_runs.setdefault(method, []).append(
            (ports, table, int(reps), int(requested), entry.get("time_bounded") is True))

if not cells:
    if skipped:
        fail(f"{path}: no latency data (every latency cell was skipped)")
    fail(f"{path}: no latency data (the \"latency\" section has no figures)")

methods = [m for m in order if any(k[0] == m for k in cells)]
all_ports = sorted({k[1] for k in cells})
rows = ([3] if 3 in all_ports else []) + [p for p in all_ports if p != 3]
tables = sorted({k[2] for k in cells})
xpos = {t: i for i, t in enumerate(tables)}
n = len(methods)
# Methods are drawn apart at one table size, to its right: the first on its tic, none left of it
# (a point left of the tic of the smallest table would read as a smaller one, below 0 for 0).
spread = 0.06 if n <= 6 else 0.36 / n

values = [v for figs in cells.values() for triple in figs.values() for v in triple if v is not None]
ymin = 10 ** math.floor(math.log10(min(values)))
ymax = 10 ** math.ceil(math.log10(max(values)))
if ymax <= ymin:
    ymax = ymin * 10


def us_label(v):
    return f"{v:,.0f}" if v >= 1 else f"{v:g}"


ytics = []
decades = round(math.log10(ymax / ymin))
v = ymin
while v <= ymax * 1.0001:
    for step in ((1, 2, 5) if decades <= 2 else (1,)):   # a narrow range gets 2 and 5 too
        if v * step <= ymax * 1.0001:
            ytics.append(f'"{us_label(v * step)}" {v * step:g}')
    v *= 10

notes = []
for method in order:
    if method not in skipped:
        continue
    reasons = skipped[method]
    if method not in methods:
        for reason in reasons:
            notes.append(f"Left out, skipped: {method} – {reason}")
        continue
    for reason, where in reasons.items():
        by_ports = {}
        for p, t in sorted(where):
            by_ports.setdefault(p, []).append(grouped(t))
        place = join_limited((f"{ports_label(p)}, table {', '.join(ts)}" for p, ts in by_ports.items()), 3)
        notes.append(f"Skipped: {method} at {place} – {reason}")
skip_notes = footnote_lines(notes)

short_notes = []
for method in order:
    if method not in short_runs:
        continue
    runs = short_runs[method]
    bounded = any(r[4] for r in runs)
    text = join_limited((f"{ports_label(p)}, table {grouped(t)}: {r} of {q}" for p, t, r, q, _ in sorted(runs)), 4)
    short_notes.append(f"{method}{' (time bound)' if bounded else ''}: {text}")
short_line = ("Fewer repetitions than requested: " + "; ".join(short_notes)) if short_notes else None

# Wrapped to what the chart's width holds at the footnote's font (a longer line is cut off).
footnote = []
for line in skip_notes + ([short_line] if short_line else []):
    footnote += textwrap.wrap(line, width=FOOTNOTE_WIDTH, subsequent_indent="  ")

with open(os.path.join(tmp, "latency.gp"), "w") as f:
    f.write(f"title1 = {gp_string('Rule-commit latency vs table size, ' + tool)}\n")
    f.write(f"title2 = {gp_string(machine_text)}\n")
    f.write("note = " + gp_string("lines and points: median (p50); vertical bars: p90 to p99; "
                                  "table size = ports already published before the measured service; "
                                  "methods are drawn side by side, from each table size's tic rightwards") + "\n")
    f.write(f"footnote = {gp_lines(footnote)}\n")
    f.write(f"nfoot = {len(footnote)}\n")
    f.write(f"nrows = {len(rows)}\n")
    f.write(f"array rowports[{len(rows)}] = [{', '.join(str(p) for p in rows)}]\n")
    f.write(f"array rowname[{len(rows)}]\n")
    for r, p in enumerate(rows, 1):
        f.write(f"rowname[{r}] = {gp_string(ports_label(p).replace(' ', '-', 1).replace('ports', 'port') + ' service')}\n")
    f.write(f"nmeth = {n}\n")
    for name in ("mname", "mcolor", "mdash", "mlw", "mpt"):
        f.write(f"array {name}[{n}]\n")
    extra = 0
    for i, method in enumerate(methods, 1):
        if method in KNOWN:
            colour, dash, width, point = KNOWN[method]
        else:
            colour, dash, width, point = EXTRA_COLOURS[extra % len(EXTRA_COLOURS)], 1, 2.0, 4 + 2 * extra
            extra += 1
        f.write(f"mname[{i}] = {gp_string(method)}; mcolor[{i}] = '{colour}'; "
                f"mdash[{i}] = {dash}; mlw[{i}] = {width}; mpt[{i}] = {point}\n")
    f.write(f"xmin = -0.3; xmax = {len(tables) - 1 + (n - 1) * spread + 0.3:.4f}\n")
    f.write(f"ymin = {ymin * 0.999:g}; ymax = {ymax * 1.001:g}\n")   # a hair wider: the end tics show
    f.write("xtics_cmd = " + gp_string("set xtics (" + ", ".join(f'"{grouped(t)}" {xpos[t]}' for t in tables) + ")") + "\n")
    f.write("ytics_cmd = " + gp_string("set ytics (" + ", ".join(ytics) + ")") + "\n")

for r, p in enumerate(rows, 1):
    for i, method in enumerate(methods, 1):
        with open(os.path.join(tmp, f"lat-{r}-{i}.dat"), "w") as f:
            f.write("# x publish_p50 p90 p99 unpublish_p50 p90 p99\n")
            for t in tables:
                figs = cells.get((method, p, t), {})
                line = [xpos[t] + (i - 1) * spread]
                for phase in PHASES:
                    line += list(figs.get(phase, (None, None, None)))
                f.write(" ".join(f"{line[0]:.4f}" if k == 0 else gp_value(x) for k, x in enumerate(line)) + "\n")

# ---- datapath --------------------------------------------------------------------------------
datapath = doc.get("datapath")
if datapath is not None:
    if not isinstance(datapath, list):
        fail(f"{path}: \"datapath\" is not a list")
    layouts, bars, dp_skipped = [], {}, {}
    for i, entry in enumerate(datapath):
        if not isinstance(entry, dict):
            fail(f"{path}: datapath[{i}] is not an object")
        layout = entry.get("layout")
        table = number(entry.get("table_size"))
        if not isinstance(layout, str) or not layout.strip() or table is None:
            fail(f"{path}: datapath[{i}] needs \"layout\" and a numeric \"table_size\"")
        layout, table = clean(layout), int(table)
        if layout not in layouts:
            layouts.append(layout)
        reason = skip_reason(entry)
        if reason is not None:
            dp_skipped.setdefault(layout, {}).setdefault(reason, []).append(table)
            continue
        runs = entry.get("connections_per_second")
        runs = [x for x in (number(r) for r in runs) if x is not None] if isinstance(runs, list) else []
        median = number(entry.get("median"))
        if median is None and runs:
            median = statistics.median(runs)
        if median is None:
            continue
        bars[(layout, table)] = (median, min(runs + [median]), max(runs + [median]), len(runs))
    drawn = [l for l in layouts if any(k[0] == l for k in bars)]
    if drawn:
        dtables = sorted({k[1] for k in bars})
        m = len(drawn)
        width = min(0.8 / m, 0.25)
        dnotes = []
        for layout in layouts:
            for reason, where in dp_skipped.get(layout, {}).items():
                if layout in drawn:
                    dnotes.append(f"Skipped: {layout} at table {', '.join(grouped(t) for t in sorted(where))} – {reason}")
                else:
                    dnotes.append(f"Left out, skipped: {layout} – {reason}")
        dfoot = [w for line in footnote_lines(dnotes)
                 for w in textwrap.wrap(line, width=FOOTNOTE_WIDTH, subsequent_indent="  ")]
        nruns = sorted({b[3] for b in bars.values()})
        runs_text = (f"median of {nruns[0]} runs" if len(nruns) == 1 and nruns[0] > 1 else "median of the runs")
        top = max(b[2] for b in bars.values())
        with open(os.path.join(tmp, "datapath.gp"), "w") as f:
            f.write(f"title1 = {gp_string('Data path: new TCP connections per second through DNAT, ' + tool)}\n")
            f.write(f"title2 = {gp_string(machine_text)}\n")
            f.write("note = " + gp_string(f"bars: {runs_text}; whiskers: slowest to fastest run; "
                                          "the port under test is published last among the table's ports") + "\n")
            f.write(f"footnote = {gp_lines(dfoot)}\n")
            f.write(f"nfoot = {len(dfoot)}\n")
            f.write(f"nlay = {m}\nboxw = {width:.4f}\n")
            f.write(f"array lname[{m}]\narray lcolor[{m}]\n")
            extra = 0
            for i, layout in enumerate(drawn, 1):
                if layout in KNOWN:
                    colour = KNOWN[layout][0]
                else:
                    colour = EXTRA_COLOURS[extra % len(EXTRA_COLOURS)]
                    extra += 1
                f.write(f"lname[{i}] = {gp_string(layout)}; lcolor[{i}] = '{colour}'\n")
            f.write(f"xmin = -0.5; xmax = {len(dtables) - 0.5}; ymax = {top * 1.18:g}\n")
            f.write("xtics_cmd = " + gp_string("set xtics (" + ", ".join(f'"{grouped(t)}" {k}' for k, t in enumerate(dtables)) + ")") + "\n")
        for i, layout in enumerate(drawn, 1):
            with open(os.path.join(tmp, f"dp-{i}.dat"), "w") as f:
                f.write("# x median min max label\n")
                for k, t in enumerate(dtables):
                    if (layout, t) not in bars:
                        continue
                    med, lo, hi, _ = bars[(layout, t)]
                    label = f"{med / 1000:.1f}k" if med >= 1000 else f"{med:.0f}"
                    f.write(f"{k + (i - 1 - (m - 1) / 2) * width:.4f} {med:g} {lo:g} {hi:g} \"{label}\"\n")
    else:
        print("bench-plot: the datapath section has no figures (every layout skipped): no datapath chart",
              file=sys.stderr)

# ---- bulk and memory: text ---------------------------------------------------------------------
out = []


def table_text(header, body):
    widths = [max(len(str(row[c])) for row in [header] + body) for c in range(len(header))]
    lines = ["  ".join(str(cell).rjust(widths[c]) for c, cell in enumerate(row)) for row in [header] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def fmt(v, digits):
    v = number(v)
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


bulk = doc.get("bulk")
if isinstance(bulk, list) and bulk:
    body, bulk_skips = [], []
    for entry in bulk:
        if not isinstance(entry, dict):
            continue
        reason = skip_reason(entry)
        if reason is not None:
            bulk_skips.append(f"  skipped ({fmt(entry.get('tasks'), 0)} tasks): {reason}")
            continue
        body.append([fmt(entry.get("tasks"), 0), fmt(entry.get("ports_per_task"), 0),
                     fmt(entry.get("publish_seconds"), 3), fmt(entry.get("publish_tasks_per_second"), 0),
                     fmt(entry.get("adopt_seconds"), 3), fmt(entry.get("adopt_tasks_per_second"), 0)])
    out.append("Bulk: publish many tasks, then adopt them (a restarted publisher reading the table)")
    if body:
        out += ["  " + l for l in table_text(
            ["tasks", "ports/task", "publish s", "publish tasks/s", "adopt s", "adopt tasks/s"], body)]
    out += bulk_skips
    out.append("")

memory = doc.get("memory")
if isinstance(memory, dict) and skip_reason(memory) is None:
    ports_list, rss = memory.get("ports"), memory.get("rss_kib")
    line = "Memory:"
    if number(memory.get("bytes_per_port")) is not None:
        line += f" {fmt(memory['bytes_per_port'], 0)} bytes of RSS per published port"
    if isinstance(ports_list, list) and isinstance(rss, list) and ports_list and len(ports_list) == len(rss):
        line += " (" + ", ".join(f"{fmt(p, 0)} ports: {fmt(k, 0)} KiB" for p, k in zip(ports_list, rss)) + ")"
    if line != "Memory:":
        out += [line, ""]

with open(os.path.join(tmp, "summary.txt"), "w") as f:
    f.write("\n".join(out))
PY

# ---------------------------------------------------------------------------------------------
# gnuplot: install if missing, pick the PNG terminal.
# ---------------------------------------------------------------------------------------------
if ! command -v gnuplot >/dev/null; then
    echo "$prog: gnuplot is missing; installing the Debian package gnuplot-nox" >&2
    command -v apt-get >/dev/null || die "gnuplot is missing and there is no apt-get to install it"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    if ! { "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install \
        -y -qq --no-install-recommends gnuplot-nox; } >/dev/null 2>"$tmp/apt.log"; then
        die "could not install gnuplot-nox: $(grep -m1 '^E:' "$tmp/apt.log" || awk 'NF { l = $0 } END { print l }' "$tmp/apt.log")"
    fi
    command -v gnuplot >/dev/null || die "gnuplot-nox installed but there is still no gnuplot command"
fi
if gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo; then
    png_terminal="pngcairo noenhanced font ',11'"
else
    png_terminal="png noenhanced font ',10'"
fi

# ---------------------------------------------------------------------------------------------
# Latency chart. Heights in pixels; all placement in screen coordinates so panels line up.
# ---------------------------------------------------------------------------------------------
cat >"$tmp/latency-draw.gp" <<'GP'
set multiplot
# Header, legend and footnote: a plot of key entries draws only labels and the key (the NaN plot is
# there because gnuplot 5.4.4 fails an assertion on a plot made of key entries only).
unset border; unset xtics; unset ytics; unset title; unset xlabel; unset ylabel
set lmargin at screen 0; set rmargin at screen 1; set tmargin at screen 1; set bmargin at screen 0
set xrange [0:1]; set yrange [0:1]
set label 1 title1 at screen 0.5, 1 - 24.0/H center font ',16'
set label 2 title2 at screen 0.5, 1 - 50.0/H center font ',11'
set label 3 note at screen 0.5, 1 - 72.0/H center font ',10' textcolor rgb '#444444'
set label 4 footnote at screen 0.02, (FOOT - 8.0)/H left font ',10' textcolor rgb '#444444'
set key at screen 0.5, (FOOT + 34.0)/H center center horizontal maxrows 1 samplen 3 spacing 1.2 reverse Left \
    width 1 box lc rgb '#bbbbbb' opaque font ',11'
plot for [i=1:nmeth] keyentry with linespoints lc rgb mcolor[i] dt mdash[i] lw mlw[i] pt mpt[i] ps 1.2 \
    title mname[i], NaN notitle
unset label; unset key

set border 3 lc rgb '#555555'
@xtics_cmd
@ytics_cmd
set tics nomirror out
set mytics 10
set logscale y
set xrange [xmin:xmax]; set yrange [ymin:ymax]
set grid ytics mytics xtics lc rgb '#e4e4e4' lw 1, lc rgb '#f3f3f3' lw 1
set xlabel 'table size (ports already published)' offset 0, 0.3
set ylabel 'latency, µs (log scale)' offset 1.5, 0
do for [r=1:nrows] {
    top = 1 - (HEAD + (r - 1) * ROWH) / H
    set tmargin at screen top - 40.0/H
    set bmargin at screen top - (ROWH - 62.0)/H
    do for [c=1:2] {
        set lmargin at screen (c == 1 ? 0.085 : 0.575)
        set rmargin at screen (c == 1 ? 0.475 : 0.965)
        set title sprintf('%s, %s', (c == 1 ? 'publish' : 'unpublish'), rowname[r]) font ',13'
        p50 = (c == 1 ? 2 : 5)
        plot for [i=1:nmeth] sprintf('%s/lat-%d-%d.dat', dir, r, i) \
                using 1:(column(p50 + 1)):(0):(column(p50 + 2) - column(p50 + 1)) \
                with vectors heads size screen 0.004,90 lc rgb mcolor[i] lw 2 notitle, \
             for [i=1:nmeth] sprintf('%s/lat-%d-%d.dat', dir, r, i) using 1:(column(p50)) \
                with linespoints lc rgb mcolor[i] dt mdash[i] lw mlw[i] pt mpt[i] ps 1.1 notitle
    }
}
unset multiplot
GP

# Data path chart.
cat >"$tmp/datapath-draw.gp" <<'GP'
set multiplot
unset border; unset xtics; unset ytics; unset title; unset xlabel; unset ylabel
set lmargin at screen 0; set rmargin at screen 1; set tmargin at screen 1; set bmargin at screen 0
set xrange [0:1]; set yrange [0:1]
set label 1 title1 at screen 0.5, 1 - 24.0/H center font ',15'
set label 2 title2 at screen 0.5, 1 - 50.0/H center font ',11'
set label 3 note at screen 0.5, 1 - 72.0/H center font ',10' textcolor rgb '#444444'
set label 4 footnote at screen 0.02, (FOOT - 8.0)/H left font ',10' textcolor rgb '#444444'
set key at screen 0.5, (FOOT + 34.0)/H center center horizontal maxrows 1 samplen 2 spacing 1.2 reverse Left \
    width 1 box lc rgb '#bbbbbb' opaque font ',11'
plot for [i=1:nlay] keyentry with boxes fill solid 0.85 border lc rgb '#333333' lc rgb lcolor[i] \
    title lname[i], NaN notitle
unset label; unset key

set border 3 lc rgb '#555555'
@xtics_cmd
set ytics
set tics nomirror out
set xtics scale 0
set format y '%.0s%c'
set xrange [xmin:xmax]; set yrange [0:ymax]
set grid ytics lc rgb '#e4e4e4' lw 1
set xlabel 'table size (ports published; the port under test is the last one)' offset 0, 0.3
set ylabel 'new connections per second' offset 1, 0
set tmargin at screen 1 - HEAD/H
set bmargin at screen (FOOT + 70.0 + 50.0)/H
set lmargin at screen 0.08; set rmargin at screen 0.97
set boxwidth boxw * 0.92 absolute
set style fill solid 0.85 border lc rgb '#333333'
plot for [i=1:nlay] sprintf('%s/dp-%d.dat', dir, i) using 1:2 with boxes lc rgb lcolor[i] notitle, \
     for [i=1:nlay] sprintf('%s/dp-%d.dat', dir, i) using 1:3:(0):($4 - $3) \
        with vectors heads size screen 0.006,90 lc rgb '#222222' lw 1.2 notitle, \
     for [i=1:nlay] sprintf('%s/dp-%d.dat', dir, i) using 1:4:5 with labels offset 0, 0.8 \
        font ',9' notitle
unset multiplot
GP

# render NAME DRAW_SCRIPT VARIABLES_SCRIPT HEIGHT_EXPR -> $tmp/NAME.svg and $tmp/NAME.png
render() {
    local name=$1 draw=$2 vars=$3 height=$4 format terminal
    for format in svg png; do
        if [ "$format" = svg ]; then
            terminal="svg noenhanced font 'Sans,11' background rgb 'white'"
        else
            terminal=$png_terminal
        fi
        cat >"$tmp/$name-$format.gp" <<EOF
set encoding utf8
dir = '$tmp'
load '$vars'
W = 1400
$height
set terminal $terminal size W,H
set output '$tmp/$name.$format'
load '$draw'
set output
EOF
        if ! gnuplot "$tmp/$name-$format.gp" 2>"$tmp/gnuplot.log"; then
            die "gnuplot failed drawing $name.$format: $(awk 'NF { last = $0 } END { print last }' "$tmp/gnuplot.log")"
        fi
        [ -s "$tmp/$name.$format" ] || die "gnuplot wrote no $name.$format"
    done
}

written=()
# Header 96 px; each row of panels 430 px; the legend and footnote strip below.
render latency "$tmp/latency-draw.gp" "$tmp/latency.gp" \
    'HEAD = 96.0; ROWH = 430.0; FOOT = 14.0 + 17.0 * nfoot; H = int(HEAD + nrows * ROWH + FOOT + 64)'
mv -f -- "$tmp/latency.svg" "$prefix.svg"
mv -f -- "$tmp/latency.png" "$prefix.png"
written+=("$prefix.svg" "$prefix.png")
if [ -f "$tmp/datapath.gp" ]; then
    render datapath "$tmp/datapath-draw.gp" "$tmp/datapath.gp" \
        'HEAD = 110.0; FOOT = 14.0 + 17.0 * nfoot; H = int(HEAD + 470 + FOOT + 120)'
    mv -f -- "$tmp/datapath.svg" "$prefix-datapath.svg"
    mv -f -- "$tmp/datapath.png" "$prefix-datapath.png"
    written+=("$prefix-datapath.svg" "$prefix-datapath.png")
fi

if [ -s "$tmp/summary.txt" ]; then
    cat "$tmp/summary.txt"
    echo
fi
printf 'wrote %s\n' "${written[@]}"
