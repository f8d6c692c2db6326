"""Benchmark: how long `raftref check-history` takes per history, with and without the split
per key (P-compositionality), against Porcupine's published figures.

Histories are generated from a seeded sequential execution: C clients (1, 10, 50) each issue
one operation at a time; each operation takes effect at an instant drawn inside its window
(invocation to completion, up to 2 x 100 ticks), and the results are those of applying the
operations in the order of those instants, so the history is linearizable. About 2% of the
operations time out (info; half of them took effect) and their client is replaced by a new
process, as Jepsen does; 1% of the writes fail (and did not happen). Models: a register
(read/write) and kv (get/put/append on 10 keys, Porcupine's model). The non-linearizable copy
of each history has one read, late in it, changed to return a value that was overwritten
before the read was invoked (a stale read). Also measured: Porcupine's six kv histories
(traces/histories/porcupine-kv/), whose times with Porcupine (Go) on this machine are quoted
from that directory's README (Go is not installed here, so Porcupine cannot be run).

Each history is checked in a fresh process (`check_history` on its file, parsing included),
and the time printed is that process's CPU seconds (time.process_time): on a shared machine,
wall time counts the waits for a core. "verdict s" is the time to the verdict (no counterexample
search); "with counterexample s" the default run (a non-linearizable key gets up to 1 s more for its
small set). Unsplit runs get --unsplit-timeout seconds (wall) each; past it they print "> T".
--baseline DIR also times the checker package found in DIR (for example `git archive COMMIT
checker | tar -x -C DIR`) in the same run, for before/after figures.

Usage: python bench/history_bench.py [--sizes 1000,3000,10000] [--clients 1,10,50]
                                     [--models register,kv] [--unsplit-timeout 10]
                                     [--baseline DIR] [--dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PORCUPINE = ROOT / "traces" / "histories" / "porcupine-kv"
# Porcupine (Go) on this machine, split per key; and unsplit (README of PORCUPINE).
PORCUPINE_SPLIT = {"c50-ok": 0.94, "c50-bad": 0.52}
PORCUPINE_UNSPLIT = {"c10-ok": 10.2, "c10-bad": 16.1}
KEYS = 10
LATENCY = 100  # ticks from invocation to the instant of effect, and from it to completion

CHECK = """
import sys, time
sys.path.insert(0, sys.argv[1])
import checker
from checker.history import check_history
assert checker.__file__.startswith(sys.argv[1]), (checker.__file__, sys.argv[1])
path, split = sys.argv[2], sys.argv[3] == '1'
timeout, budget = float(sys.argv[4]), float(sys.argv[5])
t = time.process_time()
report = check_history([path], split=split, timeout=timeout, explain_budget=budget)
print(report.verdict.replace(' ', '-'), time.process_time() - t, report.operations)
"""


@dataclass
class Op:
    process: int
    f: str
    key: str | None
    value: Any
    call: int
    at: int  # the instant it takes effect (or would have)
    ret: int
    status: str  # ok | info | fail
    applied: bool
    result: Any = None


def generate(model: str, clients: int, n: int, seed: int) -> list[Op]:
    """A linearizable history of ``n`` operations by ``clients`` clients (see the module's
    note)."""
    rnd = random.Random(seed)
    ready = [(rnd.randint(0, LATENCY), c, c) for c in range(clients)]  # (time, slot, process)
    heapq.heapify(ready)
    ops: list[Op] = []
    for number in range(n):
        now, slot, process = heapq.heappop(ready)
        at = now + rnd.randint(1, LATENCY)
        ret = at + rnd.randint(1, LATENCY)
        key = str(rnd.randrange(KEYS)) if model == "kv" else None
        roll = rnd.random()
        if model == "kv":
            f = "get" if roll < 0.5 else "put" if roll < 0.75 else "append"
        else:
            f = "read" if roll < 0.5 else "write"
        value = None if f in ("get", "read") else (
            f"x {process} {number} y" if model == "kv" else number)
        luck = rnd.random()
        status = "info" if luck < 0.02 else "fail" if luck < 0.03 and value is not None else "ok"
        applied = status == "ok" or (status == "info" and rnd.random() < 0.5)
        ops.append(Op(process, f, key, value, now, at, ret, status, applied))
        # A client whose operation timed out is replaced by a new process (Jepsen's way).
        heapq.heappush(ready, (ret + rnd.randint(0, 10), slot,
                               process + clients if status == "info" else process))
    state: dict[Any, Any] = {}
    for op in sorted(ops, key=lambda o: o.at):
        if not op.applied:
            continue
        empty = "" if model == "kv" else None
        if op.f in ("get", "read"):
            op.result = state.get(op.key, empty)
        elif op.f == "append":
            state[op.key] = state.get(op.key, "") + op.value
        else:
            state[op.key] = op.value
    return ops


def corrupt(ops: list[Op], seed: int) -> list[Op]:
    """A copy of ``ops`` with one read, late in it if possible, returning a stale value: one
    made by a write (and the appends after it) that all completed before some ok write w2
    was invoked, w2 completing before the read was invoked. Every value is unique, so no
    order can make that value again after w2."""
    rnd = random.Random(seed)
    by_at = sorted((op for op in ops if op.applied), key=lambda o: o.at)
    reads = [op for op in ops if op.f in ("get", "read") and op.status == "ok"]
    late = reads[len(reads) * 4 // 5:]
    rnd.shuffle(late)
    for read in late + reads[::-1]:
        made: list[tuple[Any, int]] = []  # each value the key held, and when its makers ended
        value, made_by = None, -1
        stale = None
        for op in by_at:
            if op.at >= read.at or op.key != read.key or op.f in ("get", "read"):
                continue
            if op.f != "append" and op.status == "ok" and op.ret < read.call:
                older = [v for v, t in made if t < op.call and v != read.result]
                stale = older[-1] if older else stale
            if op.f == "append":
                value, made_by = (value or "") + op.value, max(made_by, op.ret)
            else:
                value, made_by = op.value, op.ret
            made.append((value, made_by))
        if stale is not None:
            out = [Op(**vars(op)) for op in ops]
            out[ops.index(read)].result = stale
            return out
    raise ValueError("no read can be made stale")


def write_jsonl(path: Path, model: str, ops: list[Op]) -> int:
    """The history in the contract's format (spec/history.schema.json); returns its lines."""
    events = []
    for op in ops:
        events.append((op.call, 1, op, "invoke"))
        events.append((op.ret, 0, op, op.status))
    events.sort(key=lambda e: (e[0], e[1]))
    lines = [json.dumps({"type": "header", "format": "raft-history", "version": 1,
                         "implementation": {"name": "history_bench", "version": "1"},
                         "model": model})]
    for index, (time, _, op, kind) in enumerate(events):
        line: dict[str, Any] = {"type": kind, "index": index, "process": op.process,
                                "f": op.f, "time": time}
        if op.key is not None:
            line["key"] = op.key
        line["value"] = op.result if kind == "ok" and op.f in ("get", "read") else op.value
        lines.append(json.dumps(line))
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


def measure(package: Path, path: Path, split: bool, timeout: float, budget: float
            ) -> tuple[str, float]:
    out = subprocess.run([sys.executable, "-c", CHECK, str(package), str(path),
                          "1" if split else "0", str(timeout), str(budget)],
                         check=True, capture_output=True, text=True).stdout.split()
    return out[0].replace("-", " "), float(out[1])


def show(verdict: str, seconds: float, timeout: float | None = None) -> str:
    if verdict == "unknown":
        return f"> {timeout:g} (unknown)" if timeout else "unknown"
    return f"{seconds:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000,10000")
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--models", default="register,kv")
    parser.add_argument("--unsplit-timeout", type=float, default=10.0)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a directory holding another checker package to time too")
    parser.add_argument("--dir", type=Path, default=None, help="keep the histories here")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    clients = [int(c) for c in args.clients.split(",")]
    models = args.models.split(",")
    work = args.dir or Path(tempfile.mkdtemp(prefix="history_bench."))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    budget = 60.0

    def run(name: str, model: str, path: Path, expect: bool, porcupine: str | None) -> None:
        verdict, fast = measure(ROOT, path, True, budget, 0.0)
        _, full = measure(ROOT, path, True, budget, 1.0)
        row: dict[str, Any] = {"history": name, "model": model, "verdict": verdict,
                               "expected": "linearizable" if expect else "not linearizable",
                               "verdict_s": fast, "with_counterexample_s": full}
        if model == "kv":
            unsplit, slow = measure(ROOT, path, False, args.unsplit_timeout, 0.0)
            row["unsplit"], row["unsplit_s"] = unsplit, slow
        if args.baseline is not None:
            row["baseline"], row["baseline_s"] = measure(args.baseline, path, True, budget,
                                                         0.0)
        if porcupine is not None:
            row["porcupine_s"] = PORCUPINE_SPLIT.get(porcupine)
            row["porcupine_unsplit_s"] = PORCUPINE_UNSPLIT.get(porcupine)
        rows.append(row)
        if not args.json:
            print(_line(row, args.unsplit_timeout, args.baseline is not None), flush=True)

    if not args.json:
        print(_header(args.baseline is not None))
    for model in models:
        for c in clients:
            for n in sizes:
                seed = c * 100003 + n * 7 + len(model)
                ops = generate(model, c, n, seed)
                for expect, history in ((True, ops), (False, corrupt(ops, seed))):
                    tag = "ok" if expect else "bad"
                    path = work / f"{model}-c{c}-{n}-{tag}.jsonl"
                    events = write_jsonl(path, model, history)
                    run(f"{model} c{c} {n} ops ({events} lines) {tag}", model, path, expect,
                        None)
    for name in ("c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad"):
        run(f"porcupine {name}", "kv", PORCUPINE / f"{name}.txt", name.endswith("ok"), name)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"\nhistories in {work}; CPU seconds per history (parsing included); unsplit "
              f"runs stop at {args.unsplit_timeout:g} s wall")


def _header(baseline: bool) -> str:
    cols = ["history", "verdict", "verdict s", "with counterexample s", "unsplit s"]
    if baseline:
        cols.append("baseline s")
    cols += ["Porcupine s (split / unsplit)"]
    return "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)


def _line(row: dict[str, Any], timeout: float, baseline: bool) -> str:
    verdict = row["verdict"] + ("" if row["verdict"] == row["expected"] else
                                f" (EXPECTED {row['expected']})")
    cells = [row["history"], verdict, f"{row['verdict_s']:.2f}",
             f"{row['with_counterexample_s']:.2f}",
             show(row["unsplit"], row["unsplit_s"], timeout) if "unsplit" in row else "-"]
    if baseline:
        cells.append(show(row["baseline"], row["baseline_s"]))
    if "porcupine_s" in row:
        split, unsplit = row["porcupine_s"], row["porcupine_unsplit_s"]
        cells.append(f"{split if split is not None else '-'} / "
                     f"{unsplit if unsplit is not None else '-'}")
    else:
        cells.append("")
    return "| " + " | ".join(cells) + " |"


if __name__ == "__main__":
    main()
