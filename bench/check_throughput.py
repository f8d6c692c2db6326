"""Benchmark: how fast `raftref check` reads a trace, against plain JSON parsing of the same file.

Generates traces with the simulator (3 nodes, default fault mix; --sizes 100000,1000000 gives
about 117k and 3.0M events with client proposals, 106k and 1.1M without), then measures, each
in a fresh process so peak memory is its own:
  - parse: orjson.loads of every line (the floor any checker pays), events per second;
  - check: checker.check_files on the same file, events per second;
  - their ratio (goal: check >= 60% of the parse rate) and each one's peak RSS.
The second pair of traces has no client workload, so the log stays small however long the
trace: peak memory there must not grow with the trace's length.

Times are CPU seconds of the measuring process (time.process_time), not wall time: on a
shared machine wall time counts the waits for a core. Each measurement is repeated (--repeat,
parse and check alternating): printed are the median ratio with its spread (min-max over the
pairs) and the ratio of the fastest runs ("best"), which contention disturbs least.
--baseline DIR also measures the checker package found in DIR (for example
`git archive COMMIT checker | tar -x -C DIR`) in the same run, for before/after figures.

Usage: python bench/check_throughput.py [--sizes 100000,1000000] [--repeat 3] [--dir DIR]
                                        [--keep] [--baseline DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import simulate_at_least

PARSE = """
import resource, sys, time, orjson
t = time.process_time(); n = 0
with open(sys.argv[1], 'rb') as f:
    for line in f:
        orjson.loads(line); n += 1
dt = time.process_time() - t
print(n - 1, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CHECK = """
import resource, sys, time
import checker
from checker import check_files
assert checker.__file__.startswith(sys.argv[2]), (checker.__file__, sys.argv[2])
t = time.process_time()
report = check_files([sys.argv[1]])
dt = time.process_time() - t
assert report.ok, report.violated
print(report.events, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

ROOT = Path(__file__).resolve().parent.parent


def measure(program: str, path: Path, tree: Path | None = None) -> tuple[int, float, float]:
    """(events, CPU seconds, peak MiB) of ``program`` on ``path``; with ``tree``, the checker
    package is imported from there."""
    env = None
    args = [str(path)]
    if program is CHECK:
        root = tree or ROOT
        args.append(str(root))
        env = {**os.environ, "PYTHONPATH": str(root)}
    # cwd: not the project folder, whose checker/ would shadow PYTHONPATH for ``python -c``.
    out = subprocess.run([sys.executable, "-c", program, *args], check=True, env=env,
                         cwd=path.parent, capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]) / 1024


def spread(values: list[float]) -> str:
    return f"{min(values):.0%}-{max(values):.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true",
                        help="keep the traces in --dir and reuse those already there")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a folder holding another checker package to measure too")
    parser.add_argument("--workloads", default="proposals,none")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="raftref-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for workload in args.workloads.split(","):
        proposals = workload == "proposals"
        for size in sizes:
            path = workdir / f"trace-{size}-{'workload' if proposals else 'idle'}.jsonl"
            t = time.perf_counter()
            if not (args.keep and path.exists()):
                simulate_at_least(path, size, proposals)
            gen = time.perf_counter() - t
            parse_s, check_s, base_s = [], [], []
            for _ in range(args.repeat):
                n, p, parse_mb = measure(PARSE, path)
                _, c, check_mb = measure(CHECK, path)
                parse_s.append(p)
                check_s.append(c)
                if args.baseline is not None:
                    _, b, base_mb = measure(CHECK, path, args.baseline)
                    base_s.append(b)
            ratios = [p / c for p, c in zip(parse_s, check_s, strict=True)]
            row = {
                "best_ratio": min(parse_s) / min(check_s),
                "workload": "proposals" if proposals else "none (fixed log)",
                "events": n, "file_mb": path.stat().st_size / 2**20, "generate_s": gen,
                "parse_ev_s": n / statistics.median(parse_s),
                "check_ev_s": n / statistics.median(check_s),
                "ratio": statistics.median(ratios), "ratio_spread": spread(ratios),
                "parse_peak_mb": parse_mb, "check_peak_mb": check_mb,
            }
            if base_s:
                base_ratios = [p / b for p, b in zip(parse_s, base_s, strict=True)]
                row.update(baseline_ratio=statistics.median(base_ratios),
                           baseline_spread=spread(base_ratios), baseline_peak_mb=base_mb,
                           baseline_best=min(parse_s) / min(base_s))
            rows.append(row)
            if not args.keep:
                path.unlink()
    head = (f"{'workload':<17} {'events':>9} {'file MB':>8} {'parse ev/s':>11} "
            f"{'check ev/s':>11} {'check/parse':>11} {'(spread)':>9} {'best':>5} "
            f"{'parse MiB':>9} {'check MiB':>9}")
    if args.baseline is not None:
        head += f" {'baseline':>9} {'(spread)':>9} {'best':>5} {'base MiB':>9}"
    print(f"CPU time, {args.repeat} runs each (load average {os.getloadavg()[0]:.1f})")
    print(head)
    print("-" * len(head))
    for r in rows:
        line = (f"{r['workload']:<17} {r['events']:>9,} {r['file_mb']:>8.1f}"
                f" {r['parse_ev_s']:>11,.0f} {r['check_ev_s']:>11,.0f} {r['ratio']:>11.0%}"
                f" {r['ratio_spread']:>9} {r['best_ratio']:>5.0%} {r['parse_peak_mb']:>9.0f}"
                f" {r['check_peak_mb']:>9.0f}")
        if "baseline_ratio" in r:
            line += (f" {r['baseline_ratio']:>9.0%} {r['baseline_spread']:>9}"
                     f" {r['baseline_best']:>5.0%} {r['baseline_peak_mb']:>9.0f}")
        print(line)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
