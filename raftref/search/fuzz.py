"""Model-based testing: Hypothesis searches fault schedules, the checker judges every trace, and
Hypothesis shrinks a failing schedule to a minimal counterexample.

``hunt`` is one campaign in one process; ``raftref fuzz`` runs several in worker processes (see
``raftref/search/campaign.py``). Judging goes through the public checker API only, exactly as it
would for any other implementation's trace.
"""

from __future__ import annotations

import io
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import target as steer
from hypothesis.errors import NoSuchExample, Unsatisfiable

from checker import check_files, check_lines
from checker.history import HistoryReport, check_history
from checker.report import CheckReport
from checker.report_html.render import write_html_report
from raftref.files import atomic_output
from raftref.mutants import EXPECTED, check_mutants
from raftref.search.judging import (
    HISTORY_TIMEOUT,
    history_violations,
    judge_history,
)
from raftref.search.rehunt import rehunt
from raftref.search.reproducible import no_local_constants
from raftref.search.shorten import Budget, Shortener
from raftref.search.strategies import schedules
from raftref.sim.schedule import Schedule
from raftref.sim.simulator import run_schedule


@dataclass
class Verdict:
    """One schedule's run, judged."""

    violated: list[str]
    report: CheckReport
    trace: bytes
    history: bytes = b""  # the clients' history (empty without clients)
    history_report: HistoryReport | None = None


TARGETS = ("raftref", "pysyncobj")


def judge(schedule: Schedule, target: str = "raftref") -> Verdict:
    """Run ``schedule`` on ``target`` (the simulator's reference nodes, or a PySyncObj cluster
    in the harness) and check the whole trace, and the clients' history when the schedule has
    clients (a history that is not linearizable violates :data:`LINEARIZABLE`)."""
    buf, history = io.BytesIO(), io.BytesIO()
    if target == "pysyncobj":
        from raftref.harness.pysyncobj import run_pysyncobj

        run_pysyncobj(schedule, buf)
    elif target == "raftref":
        run_schedule(schedule, buf, history)
    else:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    trace = buf.getvalue()
    report = check_lines(trace.decode().splitlines(), name="<simulated>")
    history_report = judge_history(history.getvalue())
    return Verdict(report.violated + history_violations(history_report), report, trace,
                   history.getvalue(), history_report)


@dataclass
class Finding:
    """A shrunk counterexample."""

    property: str
    violated: list[str]
    schedule: Schedule
    trace: bytes
    report_text: str
    found_after_examples: int
    found_after_seconds: float
    shrink_seconds: float
    files: list[Path] = field(default_factory=list)
    target: str = "raftref"
    history: bytes = b""

    @property
    def events(self) -> int:
        return self.trace.count(b"\n") - 1

    @property
    def schedule_steps(self) -> int:
        """How big the schedule is: timed faults plus message faults."""
        return len(self.schedule.faults) + len(self.schedule.message_faults)


@dataclass
class HuntResult:
    """What a campaign did."""

    seed: int
    examples: int = 0
    events: int = 0
    seconds: float = 0.0
    finding: Finding | None = None
    fault_kinds: Counter[str] = field(default_factory=Counter)


class _TimeUp(Exception):
    pass


def hunt(
    *,
    seed: int,
    nodes: int | None = None,
    mutant: str | None = None,
    examples: int = 100,
    seconds: float | None = None,
    steps: int = 3000,
    generator: str = "random",
    want: frozenset[str] | None = None,
    shrink: bool = True,
    shrink_seconds: float | None = None,
    shrink_examples: int | None = None,
    on_example: Callable[[int, int, bool], None] | None = None,
    target: str = "raftref",
) -> HuntResult:
    """Search schedules for one that violates a property, then shrink it.

    ``want`` restricts which properties count as a hit (default: any; with a mutant, the
    properties that mutant is expected to break, so shrinking cannot wander to another bug).
    Shrinking has three stages: Hypothesis' shrinker; :mod:`raftref.search.shorten` (faults
    removed and moved earlier, faster timing, the run cut at the violation); then, on the
    simulator, :mod:`raftref.search.rehunt` searches the same generator again in a fast regime for
    shorter violations, which are shortened in turn. ``shrink_seconds`` bounds the time all
    spend together after the first hit, ``shrink_examples`` the number of runs
    (deterministic, for tests); Hypothesis may use half of either, the shortening a third of
    the rest, and the second search the remainder (each counterexample it finds is shortened
    with half of what is left, and the search goes on below it). When the budget runs out,
    the smallest failing schedule so far is kept. ``shrink=False`` skips them all.
    ``on_example(examples, events, found)`` is called after every example (progress bars).
    """
    mutants = check_mutants([mutant] if mutant else [])
    if want is None and mutant is not None:
        want = EXPECTED[mutant]
    result = HuntResult(seed=seed)
    started = time.monotonic()
    first_hit: list[tuple[int, float]] = []
    smallest: list[Schedule] = []

    def violates(schedule: Schedule) -> bool:
        # Out of time: stop before paying for another run (Hypothesis then ends quickly).
        # Hypothesis' shrinker gets half the shrinking budget; raftref.search.shorten the rest.
        now = time.monotonic() - started
        if (first_hit and shrink_seconds is not None
                and now - first_hit[0][1] > shrink_seconds / 2):
            raise _TimeUp
        if (first_hit and shrink_examples is not None
                and result.examples - first_hit[0][0] >= shrink_examples // 2):
            raise _TimeUp
        if not first_hit and seconds is not None and now > seconds:
            raise _TimeUp
        result.fault_kinds.update(fault_kinds(schedule))
        verdict = judge(schedule, target)
        result.examples += 1
        result.events += verdict.trace.count(b"\n") - 1
        hit = bool(set(verdict.violated) & want) if want else bool(verdict.violated)
        # Targeted search: steer generation toward runs with many leader changes and log
        # repairs, where Raft's bugs live (Hypothesis hill-climbs on these scores).
        steer(float(verdict.trace.count(b'"kind":"truncate"')), label="truncations")
        steer(float(verdict.trace.count(b'"kind":"role"')), label="role changes")
        if hit and not first_hit:
            first_hit.append((result.examples, time.monotonic() - started))
        if hit and (not smallest or _size(schedule) <= _size(smallest[0])):
            smallest[:] = [schedule]
        if on_example is not None:
            on_example(result.examples, result.events, bool(first_hit))
        return hit

    # Each campaign seed starts from its own runs (see schedules: its simplest draw).
    strategy = schedules(nodes=nodes, steps=steps, mutants=tuple(sorted(mutants)),
                         generator=generator, base_seed=seed << 20)
    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
    # Every field that matters is set here, so a campaign behaves the same whatever settings
    # profile is loaded around it (the test suite's "ci" profile, say): the seed decides.
    config = settings(
        max_examples=10**9 if seconds is not None else examples, database=None, deadline=None,
        phases=phases, suppress_health_check=list(HealthCheck), derandomize=False,
    )
    try:
        with no_local_constants():
            minimal = find(strategy, violates, settings=config, random=random.Random(seed))
    except (NoSuchExample, Unsatisfiable, _TimeUp):
        minimal = smallest[0] if smallest else None
    if minimal is not None and shrink:
        hit_examples, hit_seconds = first_hit[0]
        budget = Budget(
            deadline=None if shrink_seconds is None else started + hit_seconds + shrink_seconds,
            runs=(None if shrink_examples is None
                  else max(0, shrink_examples - (result.examples - hit_examples))))
        other = None if target == "raftref" else (lambda s: judge(s, target).violated)
        minimal = Shortener(want, budget.part(1 / 3) if other is None else budget,
                            other).shorten(minimal)
        if other is None:  # the simulator only: PySyncObj keeps its timing
            minimal = _rehunt_and_shorten(minimal, want, budget, seed, nodes, generator,
                                          tuple(sorted(mutants)))
    result.seconds = time.monotonic() - started
    if minimal is not None:
        verdict = judge(minimal, target)
        hits = [p for p in verdict.violated if not want or p in want]
        examples_to_hit, seconds_to_hit = first_hit[0]
        result.finding = Finding(
            property=hits[0], violated=verdict.violated, schedule=minimal, trace=verdict.trace,
            report_text=verdict.report.to_text(), found_after_examples=examples_to_hit,
            found_after_seconds=seconds_to_hit, shrink_seconds=result.seconds - seconds_to_hit,
            target=target, history=verdict.history,
        )
    return result


def _rehunt_and_shorten(best: Schedule, want: frozenset[str] | None, budget: Budget,
                        seed: int, nodes: int | None, generator: str,
                        mutants: tuple[str, ...]) -> Schedule:
    """Search again for a violation shorter than ``best`` (raftref/search/rehunt.py), shorten what
    is found with half of the budget left, and again below that, until an attempt finds nothing
    (each round ends strictly shorter: the search only returns shorter runs, and shortening
    never lengthens one)."""
    attempt = 1
    while (faster := rehunt(want=want, bound=best.steps, budget=budget, seed=seed,
                            attempt=attempt, nodes=nodes, generator=generator,
                            mutants=mutants)) is not None:
        best = Shortener(want, budget.part(1 / 2)).shorten(faster)
        attempt += 1
    return best


def fault_kinds(schedule: Schedule) -> set[str]:
    """Which kinds of fault a schedule can inflict, for coverage tallies."""
    kinds = {f.action for f in schedule.faults if f.action != "propose"}
    kinds |= {f"message-{m.action}" for m in schedule.message_faults}
    net = schedule.network
    if net.drop or net.reply_drop:
        kinds.add("loss")
    if net.duplicate or net.append_duplicate:
        kinds.add("duplicate")
    if net.delay_max > net.delay_min or net.long_delay or net.append_delay or net.reply_delay:
        kinds.add("reorder")
    return kinds


def _size(schedule: Schedule) -> tuple[int, int]:
    return (len(schedule.faults) + len(schedule.message_faults), schedule.steps)


def save_finding(finding: Finding, out_dir: Path, mutant: str | None, seed: int) -> list[Path]:
    """Write the shrunk schedule, its trace, the checker's report and the space-time page
    under ``out_dir`` with a name that says the mutant and the property, and the clients'
    history beside the trace when the run has one (its verdict ends the report); returns the
    paths. Existing files are never overwritten."""
    label = mutant or ("reference" if finding.target == "raftref" else finding.target)
    stem = f"{label}--{finding.property}--{finding.schedule.nodes}n-seed{seed}"
    suffixes: tuple[str, ...] = (".schedule.json", ".jsonl", ".report.txt", ".report.html")
    if finding.history:
        suffixes += (".history.jsonl",)
    paths = [out_dir / f"{stem}{suffix}" for suffix in suffixes]
    n = 1
    while any(p.exists() for p in paths):
        n += 1
        paths = [out_dir / f"{stem}-{n}{suffix}" for suffix in suffixes]
    schedule_json = orjson.dumps(finding.schedule.to_json(), option=orjson.OPT_INDENT_2)
    for path, data in zip(paths[:2], [schedule_json + b"\n", finding.trace], strict=True):
        with atomic_output(path) as f:
            f.write(data)
    # Check the saved file itself, so the report cites its real name and line numbers.
    report = check_files([str(paths[1])])
    finding.report_text = report.to_text()
    if finding.history:
        with atomic_output(paths[4]) as f:
            f.write(finding.history)
        history_report = check_history([paths[4]], model="kv", timeout=HISTORY_TIMEOUT)
        finding.report_text += ("\n\nThe clients' history (raftref check-history "
                                f"{paths[4]}):\n{history_report.to_text()}")
    with atomic_output(paths[2]) as f:
        f.write(finding.report_text.encode() + b"\n")
    write_html_report([paths[1]], report, paths[3],
                      title=f"{label}: {finding.property} (shrunk counterexample)")
    finding.files = paths
    return paths

