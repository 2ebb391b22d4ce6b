#!/usr/bin/env python3
"""Argon2id latency and cost per Lambda memory size, derived from measured CPU time.

Lambda gives a function CPU in proportion to its memory: 1769 MB is one vCPU, less is that
share of one (more adds a second vCPU, which Argon2id with p = 1 does not use). So one hash
that takes C ms of CPU takes C * 1769 / M ms of wall time at M MB (M < 1769). This script
measures C (`cargo run -p gatehouse --example argon2_cost`: on-CPU time of the hash and the
verify with the production parameters, this thread only, so the machine's other load does not
count) and prints, per memory size, the latency and the cost per million registrations (one
hash) and logins (one verify) as Markdown (the table of docs/memory-sizing.md):

    python3 infra/bench/memory_sizing.py [--samples 15] [--json measured.json]

Besides the hash, each request waits for its sequential DynamoDB round trips (design.md
section 3: 3 for a registration, 3 for a successful login), taken as IO_MS each (not scaled by
memory), and pays the request fee. Prices: Lambda arm64, us-east-1.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

VCPU_MB = 1769
SIZES = (256, 512, 1024, 1769)
PRICE_GB_S = 0.0000133334  # arm64, us-east-1, per GB-second
PRICE_REQUEST = 0.20 / 1_000_000
IO_MS = 5.0  # one in-region DynamoDB round trip
SEQUENTIAL_CALLS = {"registration": 3, "login": 3}
MAX_SLOWDOWN = 2.0  # the size chosen: the smallest at which a hash takes at most 2x its 1-vCPU time


def measure(root: Path, samples: int) -> dict:
    out = subprocess.run(["cargo", "run", "-q", "-p", "gatehouse", "--example", "argon2_cost", "--", str(samples)],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def rows(hash_ms: float, verify_ms: float) -> list[dict]:
    out = []
    for m in SIZES:
        share = min(m / VCPU_MB, 1.0)
        r = {"mb": m, "share": share}
        for op, cpu in (("registration", hash_ms), ("login", verify_ms)):
            argon = cpu / share
            latency = argon + SEQUENTIAL_CALLS[op] * IO_MS
            billed = math.ceil(latency)  # 1 ms billing granularity
            r[op] = {"argon_ms": argon, "latency_ms": latency,
                     "cost_per_million": (billed / 1000 * m / 1024 * PRICE_GB_S + PRICE_REQUEST) * 1_000_000}
        out.append(r)
    return out


def chosen(table: list[dict], hash_ms: float) -> int:
    return next(r["mb"] for r in table if r["registration"]["argon_ms"] <= MAX_SLOWDOWN * hash_ms)


def markdown(table: list[dict], hash_ms: float, verify_ms: float) -> str:
    lines = ["| memory | CPU share | Argon2id hash | registration latency | $ per million registrations | "
             "Argon2id verify | login latency | $ per million logins |", "|---|---|---|---|---|---|---|---|"]
    for r in table:
        g, l = r["registration"], r["login"]
        lines.append(f"| {r['mb']} MB | {r['share']:.2f} vCPU | {g['argon_ms']:.0f} ms | {g['latency_ms']:.0f} ms | "
                     f"${g['cost_per_million']:.2f} | {l['argon_ms']:.0f} ms | {l['latency_ms']:.0f} ms | ${l['cost_per_million']:.2f} |")
    lines.append("")
    lines.append(f"Measured: Argon2id hash {hash_ms:.1f} ms, verify {verify_ms:.1f} ms of CPU (medians); chosen size "
                 f"{chosen(table, hash_ms)} MB (the smallest at which a hash takes at most {MAX_SLOWDOWN:g}x its 1-vCPU time).")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--json", help="use these measurements (the example's output) instead of running it")
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[2]
    data = json.loads(Path(args.json).read_text()) if args.json else measure(root, args.samples)
    hash_ms, verify_ms = statistics.median(data["hash_cpu_ms"]), statistics.median(data["verify_cpu_ms"])
    print(markdown(rows(hash_ms, verify_ms), hash_ms, verify_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
