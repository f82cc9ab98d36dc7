#!/usr/bin/env python3
"""Prints the load benchmark's results (benches/load/run) as a Markdown table, fieldproof next to its anchor."""

import sys
from collections import defaultdict

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
for row in rows:
    if len(row) != 10:
        sys.exit(f"a malformed result line: {row}")
runs = defaultdict(dict)
order = []
memory = []
for backend, path, conns, who, requests, seconds, p50, p99, errors, load in rows:
    if path == "RSS after load":
        memory.append(f"{backend}: fieldproof's resident memory after the load: {int(requests) / 1024:.0f} MiB")
        continue
    key = (backend, path, conns)
    if key not in runs:
        order.append(key)
    runs[key].setdefault(who, []).append((int(requests) / float(seconds), float(p50), float(p99), int(errors), load))


def median(results):
    """The run with the median rate (the lower middle one of an even count), with every run's errors."""
    middle = sorted(results)[(len(results) - 1) // 2]
    return middle[:3] + (sum(r[3] for r in results),) + middle[4:]


runs = {key: {who: median(results) for who, results in sides.items()} for key, sides in runs.items()}

print("| database | path | conns | fieldproof req/s | p50 ms | p99 ms | errors | load | anchor | anchor req/s | anchor p99 ms | load | ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in order:
    mine = runs[key].get("fieldproof")
    anchor = next(((who, r) for who, r in runs[key].items() if who != "fieldproof"), None)
    cells = list(key)
    cells += [f"{mine[0]:,.0f}", f"{mine[1]:.2f}", f"{mine[2]:.2f}", str(mine[3]), mine[4]] if mine else ["-"] * 5
    if anchor:
        who, r = anchor
        cells += [who, f"{r[0]:,.0f}", f"{r[2]:.2f}", r[4], f"{mine[0] / r[0]:.2f}" if mine and r[0] else "-"]
    else:
        cells += ["-"] * 5
    print("| " + " | ".join(cells) + " |")
for line in memory:
    print(f"\n{line}")
