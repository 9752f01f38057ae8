#!/usr/bin/env python3
# Checks the dynamic symbol table of the shared library against the public API.
#   1. every exported symbol of warren-nft's own (warren::nft::...) is listed in exported-symbols.txt,
#      and every listed one is exported: the public headers and the library agree;
#   2. no exported symbol names an internal namespace or type (ruleset::, netlink::, layout::, ...),
#      not even inside the template arguments of a standard library instantiation;
#   3. the test-only in-memory backend is not in the library at all.
# Ends with "summary: N passed, N failed, 0 skipped" (counted by tools/test.sh).
import re
import subprocess
import sys

library, expected_file = sys.argv[1], sys.argv[2]
nm = subprocess.run(["nm", "-D", "--defined-only", "-C", library], capture_output=True, text=True, check=True)
exported = set()
for line in nm.stdout.splitlines():
    parts = line.split(" ", 2)
    if len(parts) == 3:
        exported.add(parts[2])
all_symbols = subprocess.run(["nm", "-C", library], capture_output=True, text=True, check=True).stdout

ours = {s for s in exported if re.search(r"\bwarren::nft::", s) and not s.startswith("std::")}
with open(expected_file) as f:
    expected = {l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")}

internal = re.compile(r"warren::nft::(ruleset|netlink|layout|validation|detail|test)::|"
                      r"warren::nft::(TaskIndex|TableView|Healer|FlowCleaner|KernelChangeFeed|FakeBackend)\b")
checks = []
unexpected, missing = sorted(ours - expected), sorted(expected - ours)
checks.append(("the exported warren::nft symbols are exactly the listed public API", not unexpected and not missing,
               [f"  exported but not listed: {s}" for s in unexpected] + [f"  listed but not exported: {s}" for s in missing]))
leaks = sorted(s for s in exported if internal.search(s))
checks.append(("no exported symbol names an internal type", not leaks, [f"  {s}" for s in leaks]))
checks.append(("the in-memory test backend is not in the shipped library", "FakeBackend" not in all_symbols, []))

failed = 0
for name, ok, details in checks:
    print(("PASS " if ok else "FAIL ") + name)
    for d in details:
        print(d)
    failed += not ok
print(f"{len(exported)} symbols exported, {len(ours)} of them warren::nft's own")
print(f"summary: {len(checks) - failed} passed, {failed} failed, 0 skipped")
sys.exit(1 if failed else 0)
