"""The library's entry point: ``check_history(paths)`` reads a history (the files of one run),
chooses the model, splits it per key and searches each key for a linearization within a time
budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path
from typing import Any

from checker.errors import TraceError
from checker.history.explain import explain
from checker.history.jsonl import read_objects
from checker.history.load import load
from checker.history.models import MODELS, Model, keyed
from checker.history.ops import Operation, Record, show
from checker.history.pairing import Paired, check_file, merge, operations
from checker.history.report import HistoryReport, KeyResult
from checker.history.search import Outcome, searching

DEFAULT_TIMEOUT = 60.0  # seconds for the verdict of one history
EXPLAIN_BUDGET = 1.0  # seconds for the small sets of the counterexamples, shared


def infer_model(ops: Sequence[Operation]) -> str:
    """The model a history's operations imply: kv when they carry keys, cas-register when
    one is a cas, else register."""
    if any(op.key is not None for op in ops):
        return "kv"
    return "cas-register" if any(op.kind == "cas" for op in ops) else "register"


def _model(name: str, ops: Sequence[Operation]) -> Model:
    model = MODELS[name]
    for op in ops:
        if op.kind not in model.kinds:
            raise TraceError(op.invoked.file, op.invoked.line, "f",
                             f"{op.f} is not an operation of the {name} model (it has "
                             f"{', '.join(sorted(model.kinds))}); --model kv has get, put, "
                             "append and cas")
        if name == "kv" and op.key is None:
            raise TraceError(op.invoked.file, op.invoked.line, "key",
                             "the kv model needs a key on every operation")
    return model


def check_history(paths: Sequence[str | Path], model: str | None = None,
                  fmt: str | None = None, timeout: float | None = DEFAULT_TIMEOUT,
                  split: bool = True, explain_budget: float = EXPLAIN_BUDGET,
                  all_keys: bool = False) -> HistoryReport:
    """Check the history in ``paths`` (one file, or the files of one run) for
    linearizability. Unusable input raises :class:`~checker.errors.TraceError`."""
    if model is not None and model not in MODELS:
        raise ValueError(f"unknown model {model!r}; models: {', '.join(MODELS)}")
    started = time.perf_counter()
    loaded = load(paths, fmt, model)
    return _check(loaded.files, loaded.formats, loaded.paired, model or loaded.model,
                  loaded.notes, started, timeout, split, explain_budget, all_keys)


def check_lines(lines: Iterable[dict[str, Any]], model: str | None = None,
                source: str = "<history>", timeout: float | None = DEFAULT_TIMEOUT,
                split: bool = True, explain_budget: float = EXPLAIN_BUDGET,
                all_keys: bool = False) -> HistoryReport:
    """Check a history already parsed: ``lines`` are the objects of the contract's lines
    (spec/history.schema.json), a header first or not, in order; what a simulator builds
    in memory, say, with no file. They are checked as a file's lines are, and an unusable
    one raises :class:`~checker.errors.TraceError` naming ``source`` and its number from
    1."""
    if model is not None and model not in MODELS:
        raise ValueError(f"unknown model {model!r}; models: {', '.join(MODELS)}")
    started = time.perf_counter()
    header, records = read_objects(source, lines)
    check_file(records)
    paired = operations(records)
    return _check([source], ["objects"], paired, model or (header or {}).get("model"),
                  list(paired.notes), started, timeout, split, explain_budget, all_keys)


def check_records(files: Sequence[tuple[str, list[Record]]], model: str | None = None,
                  timeout: float | None = DEFAULT_TIMEOUT, split: bool = True,
                  explain_budget: float = EXPLAIN_BUDGET, all_keys: bool = False
                  ) -> HistoryReport:
    """Check a history whose records are already read, per file (the history lines a trace
    carries, say: checker/reader.py reads them), merged as the files of one run are."""
    if model is not None and model not in MODELS:
        raise ValueError(f"unknown model {model!r}; models: {', '.join(MODELS)}")
    started = time.perf_counter()
    for _, records in files:
        check_file(records)
    paired = operations(merge(files))
    return _check([name for name, _ in files], ["trace"] * len(files), paired, model,
                  list(paired.notes), started, timeout, split, explain_budget, all_keys)


def _check(files: list[str], formats: list[str], paired: Paired, model: str | None,
           notes: list[str], started: float, timeout: float | None, split: bool,
           explain_budget: float, all_keys: bool) -> HistoryReport:
    ops = paired.operations
    name = model or infer_model(ops)
    report = HistoryReport(files=files, formats=formats, model=name, events=paired.events,
                           operations=len(ops), failed=paired.failed, split=split,
                           timeout=timeout, notes=list(notes))
    report.keys = check_operations(ops, _model(name, ops), timeout, split, explain_budget,
                                   report.notes, all_keys)
    report.seconds = time.perf_counter() - started
    return report


def check_operations(ops: Sequence[Operation], model: Model, timeout: float | None = None,
                     split: bool = True, explain_budget: float = EXPLAIN_BUDGET,
                     notes: list[str] | None = None, all_keys: bool = False
                     ) -> list[KeyResult]:
    """Each key's verdict (one result, key None, for a history without keys or unsplit).

    The keys' searches take turns (a slice of a few thousand search points each), so that
    one hard key neither hides an easy violation in another nor spends the whole budget
    first. Once a key is found not linearizable, so is the history: the keys still being
    searched are abandoned (reported as unknown, and why) unless ``all_keys``.
    """
    deadline = None if timeout is None else time.perf_counter() + timeout
    groups: dict[Any, list[Operation]] = {}
    for op in ops:
        groups.setdefault(op.key if split else None, []).append(op)
    keyed_whole = not split and any(op.key is not None for op in ops)
    running: dict[Any, _Search] = {}
    for key, group in groups.items():
        # A read whose result is unknown constrains nothing and changes nothing.
        kept = [op for op in group if not (op.kind == "read" and op.status != "ok")]
        if keyed_whole:
            initial, stepper = keyed(model, kept)
        else:
            initial, stepper = model.initial, model.stepper
        running[key] = _Search(key, group, kept, searching(
            kept, [stepper(op) for op in kept], initial, model, keyed=keyed_whole))
    results: list[KeyResult] = []
    failed = False
    while running:
        # One round: a slice for every key still searched; then stop if decided.
        for key in list(running):
            s = running[key]
            outcome = s.run(SLICE)
            if outcome is not None:
                del running[key]
                results.append(s.result(outcome))
                failed = failed or outcome.verdict is False
            if deadline is not None and time.perf_counter() > deadline:
                break
        out_of_time = deadline is not None and time.perf_counter() > deadline
        if running and (out_of_time or (failed and not all_keys)):
            for other in running.values():
                result = other.result(other.so_far())
                result.abandoned = not out_of_time
                results.append(result)
            running.clear()
    bad = [r for r in results if r.verdict == "not linearizable"]
    if bad and keyed_whole:
        if notes is not None:
            notes.append("no counterexample without the split per key")
    elif bad:
        # The budget for the small sets is shared: each key gets an equal part of what is left.
        until = time.perf_counter() + explain_budget
        for n, result in enumerate(bad):
            share = max(0.0, until - time.perf_counter()) / (len(bad) - n)
            outcome = result.outcome
            result.counterexample = explain(model, result.kept, outcome, share)
            if outcome.refuted:  # decided before any search: the prefix is explain's
                result.order = result.counterexample.prefix
    return sorted(results, key=lambda r: (r.verdict == "linearizable", show(r.key)))


SLICE = 4  # turns of a key's search between two others' (about 8,000 search points)


class _Search:
    """One key's search in progress."""

    def __init__(self, key: Any, group: list[Operation], kept: list[Operation],
                 steps: Generator[Callable[[], Outcome], None, Outcome]) -> None:
        self.key, self.group, self.kept, self.steps = key, group, kept, steps
        self.seconds = 0.0
        self.so_far: Callable[[], Outcome] = lambda: Outcome(None, [], None, 0)

    def run(self, turns: int) -> Outcome | None:
        t0 = time.perf_counter()
        try:
            for _ in range(turns):
                self.so_far = next(self.steps)
            return None
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            self.seconds += time.perf_counter() - t0

    def result(self, outcome: Outcome) -> KeyResult:
        verdict = {True: "linearizable", False: "not linearizable", None: "unknown"}[
            outcome.verdict]
        return KeyResult(self.key, len(self.group), verdict, self.seconds, outcome.explored,
                         [self.kept[i] for i in outcome.order], kept=self.kept,
                         group=self.group, outcome=outcome)
