"""Benchmark: how fast the trace store ingests a trace, beside how fast the checker checks it.

Generates a trace of exactly 10^6 events with the simulator (3 nodes, default fault mix), then
measures on that one file, each in a fresh process and into a fresh database:
  - check: checker.check_files, events per second (the reference figure);
  - ingest: checker.store.ingest as `raftref db ingest` runs it (stores every event, checks
    the run in the same read of the file, stores the results);
  - ingest --no-check: events stored, nothing checked;
and prints events per second and the ratio to the check rate, with the database's size. The
modes run in turn, --repeat rounds of them: seconds and events per second are each mode's best
round; a ratio to the check is the median over the rounds of the ratio within a round (the
modes of one round run minutes apart at most, so under the same load; on a machine shared with
other work, best-of-rounds ratios swung from 17% to 34% for the same code). Each mode's CPU
time (user + system, of its process) and the same median ratio of CPU rates are printed too.

With --dir, the trace stays there and a later run with the same --events reuses it.

Usage: python bench/store_bench.py [--events 1000000] [--repeat 2] [--dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import run_python, simulate_at_least

CHECK = """
import sys, time
from checker import check_files
t, c = time.perf_counter(), time.process_time()
report = check_files([sys.argv[1]])  # argv[2:] unused: the same call shape as INGEST
print(report.events, time.perf_counter() - t, time.process_time() - c)
"""

INGEST = """
import sys, time
from checker.store import ingest
t, c = time.perf_counter(), time.process_time()
[run] = ingest(sys.argv[2], [sys.argv[1]], ingested_at="bench", check=sys.argv[3] == "check")
print(run.events, time.perf_counter() - t, time.process_time() - c)
"""

MODES = [("check (checker.check_files)", None), ("ingest (db ingest: store + check)", "check"),
         ("ingest --no-check (store only)", "none")]


def make_trace(path: Path, events: int) -> int:
    """A trace of exactly ``events`` events: a long enough simulation, cut after that many
    events (a prefix of a valid trace is a valid trace)."""
    simulate_at_least(path, events)
    with path.open("rb") as f:
        lines = [f.readline() for _ in range(events + 1)]  # the header, then the events
    path.write_bytes(b"".join(lines))
    return events


def run(program: str, *args: str) -> tuple[int, float, float]:
    """Events, wall-clock seconds and CPU seconds of ``program`` in a fresh process."""
    out = run_python(program, *args)
    return int(out[0]), float(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=2, help="rounds (best of them counts)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="raftref-store-bench-"))
    trace = workdir / f"trace-{args.events}.jsonl"
    t = time.perf_counter()
    if args.dir is not None and trace.exists():  # made by an earlier run: same seed, same file
        events = args.events
        how = "from an earlier run"
    else:
        events = make_trace(trace, args.events)
        how = f"generated in {time.perf_counter() - t:.0f}s"
    print(f"trace: {events:,} events, {trace.stat().st_size / 2**20:.0f} MB, {how}",
          file=sys.stderr)
    best: dict[str, tuple[int, float, float | None]] = {}  # label -> events, seconds, DB MB
    cpu: dict[str, float] = {}  # label -> its least CPU seconds over the rounds
    rounds: list[dict[str, tuple[float, float]]] = []  # per round: label -> (seconds, CPU s)
    for _ in range(args.repeat):  # rounds interleave the modes
        rounds.append({})
        for label, mode in MODES:
            db = workdir / f"bench-{mode}.db"
            db.unlink(missing_ok=True)
            program = CHECK if mode is None else INGEST
            n, secs, cpu_secs = run(program, str(trace), str(db), str(mode))
            cpu[label] = min(cpu.get(label, cpu_secs), cpu_secs)
            rounds[-1][label] = (secs, cpu_secs)
            size = db.stat().st_size / 2**20 if db.exists() else None
            db.unlink(missing_ok=True)
            if label not in best or secs < best[label][1]:
                best[label] = (n, secs, size)
    check = MODES[0][0]

    def vs_check(label: str, which: int) -> float:
        """The median over the rounds of (check's time / this mode's time) in that round."""
        return statistics.median(r[check][which] / r[label][which] for r in rounds)

    rows = [{"what": label, "events": n, "seconds": secs, "ev_s": n / secs,
             "vs_check": vs_check(label, 0), "cpu_seconds": cpu[label],
             "cpu_vs_check": vs_check(label, 1), "db_mb": size,
             "rounds": [r[label] for r in rounds]}
            for label, (n, secs, size) in best.items()]
    if args.dir is None:
        trace.unlink()  # a --dir keeps its trace for the next run
    head = (f"{'what':<34} {'events':>10} {'seconds':>8} {'events/s':>10} {'vs check':>9} "
            f"{'CPU s':>7} {'vs check':>9} {'DB MB':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        size = f"{r['db_mb']:.0f}" if r["db_mb"] is not None else "-"
        print(f"{r['what']:<34} {r['events']:>10,} {r['seconds']:>8.1f} {r['ev_s']:>10,.0f} "
              f"{r['vs_check']:>8.0%} {r['cpu_seconds']:>7.1f} {r['cpu_vs_check']:>8.0%} "
              f"{size:>7}")
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
