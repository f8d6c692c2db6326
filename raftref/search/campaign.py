"""Campaigns: many checked runs, in worker processes, with a progress bar and a summary table.

- :func:`fuzz` is ``raftref fuzz``: Hypothesis hunts on N workers, each on its own seed.
- :func:`demo` is ``raftref demo`` (``make demo``): seeded fault-injected simulations of the
  correct node, each checked, then one mutant hunted down and shrunk.

Results (tables, the counterexample's files, the replay command) go to standard output through
:data:`console`, so ``raftref fuzz ... > result.txt`` keeps them; progress (bars, spinners) goes
to standard error through :data:`progress_console`.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from checker.store import DEFAULT_DB, RunRecord, ingest
from raftref.search.fuzz import Finding, HuntResult, hunt, save_finding
from raftref.sim.schedule import generate_schedule

# When a stream is not a terminal (a file, CI logs, make), use a width that fits the tables
# instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 140)
progress_console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

# Where a campaign saves its counterexamples when not told: a folder of its own under out/
# (git-ignored), named after what it hunts and its seed, as Jepsen's store/ keeps each test's
# run apart. The committed corpus (traces/counterexamples/) changes only when asked (--out).
FUZZ_ROOT = Path("out/fuzz")


@dataclass(frozen=True)
class FuzzOptions:
    """What ``raftref fuzz`` was asked to do."""

    nodes: int | None = None
    examples: int | None = 100
    seconds: float | None = None
    mutant: str | None = None
    seed: int = 0
    workers: int = 1
    steps: int = 3000
    generator: str = "random"
    out_dir: Path | None = None  # None: default_out_dir()
    shrink_seconds: float | None = 120
    target: str = "raftref"  # or "pysyncobj" (raftref/harness/pysyncobj.py)
    db_path: Path | None = None  # store the counterexamples' runs here (checker/store/)

    @property
    def folder(self) -> Path:
        """Where the counterexamples are saved."""
        return self.out_dir if self.out_dir is not None else default_out_dir(self)


def default_out_dir(options: FuzzOptions) -> Path:
    """out/fuzz/MUTANT-seedN (reference-seedN without a mutant, pysyncobj-seedN for that
    target)."""
    label = options.mutant or ("reference" if options.target == "raftref" else options.target)
    return FUZZ_ROOT / f"{label}-seed{options.seed}"


def _worker(options: FuzzOptions, index: int, progress: Any) -> HuntResult:
    examples = None
    if options.examples is not None:
        share = options.examples // options.workers
        examples = share + (1 if index < options.examples % options.workers else 0)

    def report(n: int, events: int, found: bool) -> None:
        progress.put((index, n, events, found))

    return hunt(seed=options.seed + index, nodes=options.nodes, mutant=options.mutant,
                examples=examples or 0, seconds=options.seconds, steps=options.steps,
                generator=options.generator, shrink_seconds=options.shrink_seconds,
                on_example=report, target=options.target)


class _LocalQueue:
    """The in-process stand-in for a multiprocessing queue (one worker)."""

    def __init__(self, sink: Callable[[tuple[int, int, int, bool]], None]) -> None:
        self._sink = sink

    def put(self, item: tuple[int, int, int, bool]) -> None:
        self._sink(item)


def fuzz(options: FuzzOptions) -> tuple[list[HuntResult], list[Finding]]:
    """Run the campaign; save each worker's shrunk counterexample under ``options.folder``.
    The findings are not stored in ``options.db_path``: :func:`store_findings` does that, so
    a store that fails cannot hide the campaign's verdict."""
    state: dict[int, tuple[int, int, bool]] = {}
    total = options.examples if options.seconds is None else None
    columns = [TextColumn("[bold]fuzz[/]"), BarColumn(), TextColumn("{task.description}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=progress_console, transient=False) as bar:
        task = bar.add_task("starting", total=total)

        def update(item: tuple[int, int, int, bool]) -> None:
            index, n, events, found = item
            state[index] = (n, events, found)
            runs = sum(s[0] for s in state.values())
            checked = sum(s[1] for s in state.values())
            hits = sum(1 for s in state.values() if s[2])
            bar.update(task, completed=runs if total else None,
                       description=f"examples {runs}  events checked {checked:,}  "
                                   f"violations {hits}")

        if options.workers == 1:
            results = [_worker(options, 0, _LocalQueue(update))]
        else:
            ctx = mp.get_context("spawn")
            with ctx.Manager() as manager:
                progress = manager.Queue()
                with ctx.Pool(options.workers) as pool:
                    pending = pool.starmap_async(
                        _worker, [(options, i, progress) for i in range(options.workers)])
                    while not pending.ready():
                        _drain(progress, update, timeout=0.2)
                    _drain(progress, update, timeout=0)
                    results = pending.get()
    findings = []
    for r in results:
        if r.finding is not None:
            save_finding(r.finding, options.folder, options.mutant, r.seed)
            findings.append(r.finding)
    return results, findings


def store_findings(db_path: Path, findings: list[Finding]) -> list[RunRecord]:
    """Record the saved counterexamples' traces and check results in the trace store
    (raises StoreError)."""
    if not findings:
        return []
    return ingest(db_path, [f.files[1] for f in findings], ingested_at=_now(), origin="fuzz")


def _now() -> str:
    """The time a run is recorded (drivers own the clock; the store takes it as data)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _drain(q: Any, update: Callable[[Any], None], timeout: float) -> None:
    try:
        update(q.get(timeout=timeout) if timeout else q.get_nowait())
        while True:
            update(q.get_nowait())
    except queue.Empty:
        pass


def fuzz_table(options: FuzzOptions, results: list[HuntResult]) -> Table:
    what = (options.mutant or "reference node (no mutant)" if options.target == "raftref"
            else options.target)
    title = f"fuzz: {what}, generator {options.generator}"
    table = Table(title=title)
    for col in ("seed", "examples", "events", "seconds", "property", "found after",
                "shrunk to"):
        table.add_column(col)
    for r in results:
        f = r.finding
        row = [str(r.seed), str(r.examples), f"{r.events:,}", f"{r.seconds:.1f}"]
        if f is None:
            row += ["none violated", "", ""]
        else:
            row += [f.property, f"{f.found_after_examples} ex / {f.found_after_seconds:.1f}s",
                    f"{f.schedule_steps} faults, {f.schedule.steps} steps, {f.events} events"]
        table.add_row(*row)
    return table


# ---------------------------------------------------------------------- the demo


def demo(out_dir: Path, runs: int, steps: int, mutant: str = "figure8",
         db_path: Path = Path(DEFAULT_DB)) -> int:
    """The main job: a checked, fault-injected campaign on the correct node, then a mutant hunt;
    every run and the counterexample go into the trace store at ``db_path``.
    Returns the exit code: 0 when every correct run passes and the mutant is caught."""
    from raftref.files import atomic_output, make_folder
    from raftref.sim.simulator import run_schedule

    make_folder(out_dir)
    table = Table(title=f"raftref demo: {runs} fault-injected runs of the reference node, "
                        f"each checked against every property")
    for col in ("run", "nodes", "seed", "steps", "faults", "events", "dropped", "leaders",
                "committed", "verdict"):
        table.add_column(col)
    failures = 0
    started = time.monotonic()
    with progress_console.status("simulating and checking"):
        for i in range(runs):
            nodes = 3 if i % 2 == 0 else 5
            schedule = generate_schedule(seed=i + 1, nodes=nodes, steps=steps)
            path = out_dir / f"run{i + 1}-{nodes}n-seed{i + 1}.jsonl"
            with atomic_output(path) as f:
                result = run_schedule(schedule, f)
            # Checked while stored: the store and the checker share one read of the file.
            record = ingest(db_path, [path], ingested_at=_now(), origin="demo")[0]
            verdict = ("all hold" if not record.violated
                       else "VIOLATED: " + ", ".join(record.violated))
            failures += bool(record.violated)
            table.add_row(str(i + 1), str(nodes), str(schedule.seed), str(steps),
                          str(len(schedule.faults)), f"{result.events:,}",
                          str(result.messages_dropped), str(len(result.leaders)),
                          str(max(result.commit.values(), default=0)), verdict)
    console.print(table)
    console.print(f"traces: {out_dir}/run*.jsonl", soft_wrap=True)
    console.print(f"{runs} runs in {time.monotonic() - started:.1f}s: "
                  + ("[green]every property held in every run[/]" if not failures
                     else f"[red]{failures} runs violated a property[/]"))
    failures += _history_demo(out_dir)
    console.print(f"\nNow the checker's other half: switching on the '{mutant}' bug and letting "
                  f"Hypothesis hunt for a schedule that exposes it, then shrink it.")
    options = FuzzOptions(examples=300, mutant=mutant, seed=1, steps=3000, shrink_seconds=30,
                          out_dir=out_dir / "counterexamples", db_path=db_path)
    results, findings = fuzz(options)
    store_findings(db_path, findings)
    console.print(fuzz_table(options, results))
    if findings:
        f = findings[0]
        console.print(f"[bold]Counterexample[/] ({f.property}), shrunk to {f.schedule_steps} "
                      f"faults and {f.schedule.steps} simulator steps:")
        for path in f.files:
            console.print(f"  {path}", soft_wrap=True)
        console.print(f"Replay it: raftref sim --schedule {f.files[0]} -o replay.jsonl && "
                      f"raftref check replay.jsonl", soft_wrap=True)
        console.print("\n" + _first_violation(f.report_text), soft_wrap=True, markup=False,
                      highlight=False)
        console.print(f"\n[bold]See it[/]: open {f.files[3]} in a browser (the space-time "
                      "diagram, violation highlighted)", soft_wrap=True)
        console.print(f"[bold]Query it[/]: every run above is in {db_path}; try "
                      f"raftref db summary --db {db_path}", soft_wrap=True)
    else:
        console.print(f"[red]the {mutant} mutant was not caught[/]")
    return 0 if not failures and findings else 1


# The demo's history runs: seed 2 of the default fault mix with 3 clients, on the correct node
# and with the follower-local-read bug (whose history that seed shows not linearizable).
HISTORY_DEMO_SEED = 2
HISTORY_DEMO_BUG = "follower-local-read"


def _history_demo(out_dir: Path) -> int:
    """What clients saw: one run of 3 clients on the correct node and one with a read bug, each
    history checked for linearizability (docs/histories.md). Returns 1 if the correct node's
    history is not linearizable or the bug's is."""
    from dataclasses import replace

    from checker.history import check_history
    from raftref.files import atomic_output
    from raftref.sim.schedule import generate_schedule
    from raftref.sim.simulator import run_schedule

    console.print("\nWhat the clients saw: 3 clients read (ReadIndex), put, append and cas with "
                  "retries, and their history is checked for linearizability:")
    bad = 0
    for bug in (None, HISTORY_DEMO_BUG):
        schedule = replace(generate_schedule(HISTORY_DEMO_SEED, 3, 3000,
                                             mutants=(bug,) if bug else ()), clients=3)
        stem = out_dir / f"clients-{bug or 'reference'}-seed{HISTORY_DEMO_SEED}"
        trace, history = stem.with_suffix(".jsonl"), stem.with_suffix(".history.jsonl")
        with atomic_output(trace) as t, atomic_output(history) as h:
            result = run_schedule(schedule, t, h)
        report = check_history([history], model="kv", timeout=30)
        done = result.completions
        console.print(f"  {'the ' + bug + ' bug' if bug else 'the correct node'}: "
                      f"{result.operations} operations ({done.get('ok', 0)} ok, "
                      f"{done.get('fail', 0)} fail, {done.get('info', 0)} info): "
                      f"[{'green' if report.ok else 'red'}]{report.verdict}[/] "
                      f"({report.seconds:.2f}s)  {history}", soft_wrap=True)
        if bug:
            bad += report.ok
            lines = report.to_text().splitlines()
            culprit = [ln for ln in lines if "cannot be ordered" in ln or ln.startswith("    ")]
            console.print("\n".join("    " + ln.strip() for ln in culprit[:6]), markup=False,
                          highlight=False, soft_wrap=True)
        else:
            bad += not report.ok
    console.print("  check one yourself: raftref check-history FILE")
    return 1 if bad else 0


def _first_violation(report_text: str) -> str:
    """The first violation block of a text report (the table is in the saved report file)."""
    blocks = report_text.split("\n\n")
    hits = [b for b in blocks if " violated: " in b.splitlines()[0]]
    return hits[0] if hits else report_text
