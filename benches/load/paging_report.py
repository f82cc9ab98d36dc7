#!/usr/bin/env python3
"""Prints the paging benchmark's results (benches/load/paging) as a Markdown table: per database, size
and page, the median over the rounds of req/s, p50 and p99, each round's p99, the errors and the
1-minute load averages; and each page's median p99 at the largest size over that at the smallest."""

import statistics
import sys
from collections import defaultdict

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
for row in rows:
    if len(row) != 10:
        sys.exit(f"a malformed result line: {row}")
runs = defaultdict(list)
order = []
for backend, page, conns, size, requests, seconds, p50, p99, errors, load in rows:
    key = (backend, int(size), page, conns)
    if key not in runs:
        order.append(key)
    runs[key].append((int(requests) / float(seconds), float(p50), float(p99), int(errors), load))
order.sort(key=lambda k: (["sqlite", "postgres"].index(k[0]) if k[0] in ("sqlite", "postgres") else 9, k[1], k[2]))


def median(key, column):
    return statistics.median(r[column] for r in runs[key])


sizes = defaultdict(list)
for backend, size, page, conns in order:
    sizes[(backend, page, conns)].append(size)

print("| database | incidents | page | req/s | p50 ms | p99 ms | p99 per round ms | errors | load | p99 ratio largest / smallest |")
print("|---|---|---|---|---|---|---|---|---|---|")
for key in order:
    backend, size, page, conns = key
    known = sizes[(backend, page, conns)]
    smallest, largest = min(known), max(known)
    ratio = "-"
    if size == largest and largest != smallest:
        ratio = f"{median(key, 2) / median((backend, smallest, page, conns), 2):.2f}"
    rounds = " / ".join(f"{r[2]:.1f}" for r in runs[key])
    loads = " / ".join(r[4] for r in runs[key])
    print(f"| {backend} | {size:,} | {page} | {median(key, 0):,.0f} | {median(key, 1):.2f} | {median(key, 2):.2f} | "
          f"{rounds} | {sum(r[3] for r in runs[key])} | {loads} | {ratio} |")
