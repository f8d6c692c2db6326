"""Benchmark: how fast `raftref check` reads a trace, against plain JSON parsing of the same file.

Generates traces of about 10^5 and 10^6 events with the simulator (3 nodes, default fault mix),
then measures, each in a fresh process so peak memory is its own:
  - parse: orjson.loads of every line (the floor any checker pays), events per second;
  - check: checker.check_files on the same file, events per second;
  - their ratio (goal: check >= 40% of the parse rate) and each one's peak RSS.
A second pair of traces has no client workload, so the log stays small however long the trace:
peak memory there must not grow with the trace's length.

Usage: python bench/check_throughput.py [--sizes 100000,1000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchlib import run_python, simulate_at_least

PARSE = """
import resource, sys, time, orjson
t = time.perf_counter(); n = 0
with open(sys.argv[1], 'rb') as f:
    for line in f:
        orjson.loads(line); n += 1
dt = time.perf_counter() - t
print(n - 1, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CHECK = """
import resource, sys, time
from checker import check_files
t = time.perf_counter()
report = check_files([sys.argv[1]])
dt = time.perf_counter() - t
assert report.ok, report.violated
print(report.events, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure(program: str, path: Path) -> tuple[int, float, float]:
    out = run_python(program, str(path))
    return int(out[0]), float(out[1]), int(out[2]) / 1024  # events, seconds, MiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="raftref-bench-"))
    rows = []
    for workload in (True, False):
        for size in sizes:
            path = workdir / f"trace-{size}-{'workload' if workload else 'idle'}.jsonl"
            t = time.perf_counter()
            simulate_at_least(path, size, workload)
            gen = time.perf_counter() - t
            n, parse_s, parse_mb = measure(PARSE, path)
            _, check_s, check_mb = measure(CHECK, path)
            rows.append({
                "workload": "proposals" if workload else "none (fixed log)",
                "events": n, "file_mb": path.stat().st_size / 2**20, "generate_s": gen,
                "parse_ev_s": n / parse_s, "check_ev_s": n / check_s,
                "ratio": parse_s / check_s, "parse_peak_mb": parse_mb, "check_peak_mb": check_mb,
            })
            path.unlink()
    head = (f"{'workload':<17} {'events':>9} {'file MB':>8} {'parse ev/s':>11} "
            f"{'check ev/s':>11} {'check/parse':>11} {'parse MiB':>9} {'check MiB':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['workload']:<17} {r['events']:>9,} {r['file_mb']:>8.1f}"
              f" {r['parse_ev_s']:>11,.0f} {r['check_ev_s']:>11,.0f} {r['ratio']:>10.0%}"
              f" {r['parse_peak_mb']:>9.0f} {r['check_peak_mb']:>9.0f}")
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
