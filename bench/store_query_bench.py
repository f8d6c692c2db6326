"""Benchmark: time and peak memory of `raftref db query DB "SELECT * FROM events"` on a store
of many events, for each output (terminal table, --csv, --json, --jsonl), beside the start-up
of the same command (`SELECT 1`) measured in the same run.

Builds a store of exactly --events events (a simulated 3-node trace, default fault mix, stored
with ingest --no-check), then runs each query as its own process with its output going to a
file, and reads that process's peak RSS from the kernel (os.wait4). --tree DIR runs the
queries with the code of that checkout (default: this one; repeat it to compare, for example
with the tree before a change, from `git archive COMMIT | tar -x -C DIR`); an output a tree does
not offer shows as "n/a", and a run past --timeout is stopped and shown with the memory it had
reached.

Usage: python bench/store_query_bench.py [--events 250000] [--dir DIR] [--timeout 300]
                                         [--tree DIR]... [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL = "SELECT * FROM events"


def modes(events: int) -> list[tuple[str, str, list[str]]]:
    """(label, SQL, flags); --json on a tenth of the rows beside all of them shows whether
    memory grows with the rows."""
    tenth = max(events // 10, 1)
    return [
        ("start-up (SELECT 1)", "SELECT 1", []),
        ("table (first 100 rows)", SQL, []),
        ("--csv (every row)", SQL, ["--csv"]),
        (f"--json --limit {tenth}", SQL, ["--json", "--limit", str(tenth)]),
        ("--json (every row)", SQL, ["--json"]),
        ("--jsonl (every row)", SQL, ["--jsonl"]),
    ]

INGEST = """
import sys
from checker.store import ingest
ingest(sys.argv[1], [sys.argv[2]], ingested_at="bench", check=False)
"""


def measure(tree: Path, args: list[str], out: Path, timeout: float) -> dict[str, object]:
    """Run ``python -m raftref ARGS`` with ``tree``'s code; its time, peak RSS and output."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "raftref", *args], cwd=tree, env=env,
                                stdout=sink, stderr=subprocess.PIPE)
    timed_out = False
    while True:  # wait4 gives this child's own peak RSS, which subprocess.wait does not
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - start > timeout:
            os.kill(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            timed_out = True
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
    seconds = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    size = out.stat().st_size
    out.unlink()
    return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "out_mb": size / 2**20,
            "exit": proc.returncode, "timed_out": timed_out,
            "unsupported": "no such option" in stderr.lower(), "stderr": stderr.strip()[-200:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=250_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds after which a query is stopped (its memory so far shown)")
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="run the queries with this checkout's code (repeatable; "
                             "default: this checkout)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="raftref-query-bench-"))
    db = workdir / f"query-{args.events}.db"
    if not db.exists():
        from store_bench import make_trace  # the simulator is needed only for a new store

        trace = workdir / f"trace-{args.events}.jsonl"
        make_trace(trace, args.events)
        subprocess.run([sys.executable, "-c", INGEST, str(db), str(trace)], check=True, cwd=ROOT)
        trace.unlink()
    print(f"store: {db} ({db.stat().st_size / 2**20:.0f} MB, {args.events:,} events); query: "
          f"{SQL}", file=sys.stderr)
    rows = []
    for tree in args.tree or [ROOT]:
        for label, sql, flags in modes(args.events):
            result = measure(tree.resolve(), ["db", "query", str(db.resolve()), sql, *flags],
                             workdir / "out", args.timeout)
            rows.append({"tree": str(tree), "what": label, **result})
    head = f"{'tree':<24} {'what':<24} {'seconds':>8} {'peak RSS MB':>12} {'output MB':>10}  exit"
    print(head)
    print("-" * len(head))
    for r in rows:
        tree = Path(str(r["tree"])).name or str(r["tree"])
        if r["unsupported"]:
            print(f"{tree:<24} {r['what']:<24} {'n/a':>8}")
            continue
        end = f"stopped after {args.timeout:g}s" if r["timed_out"] else str(r["exit"])
        print(f"{tree:<24} {r['what']:<24} {r['seconds']:>8.1f} {r['rss_mb']:>12.0f} "
              f"{r['out_mb']:>10.1f}  {end}")
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
