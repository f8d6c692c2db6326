"""From history lines to operations: the files of one run merged into one order, and each
invocation paired with its completion (Jepsen's model: ``invoke`` then ``ok``, ``fail`` or
``info`` of the same process).

What makes a history malformed is refused here, naming the line (exit code 2): a completion
with no outstanding invocation of its process, a second invocation while one is outstanding,
a completion whose ``f`` or ``key`` differs from its invocation's. An invocation still
outstanding at the end is an ``info`` (it may have happened), as Jepsen's checkers take it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

from checker.errors import TraceError
from checker.history.ops import KINDS, NEVER, Operation, Record, show


@dataclass
class Paired:
    """The operations of a history (in invocation order) and what pairing set aside."""

    operations: list[Operation]
    events: int  # history lines read (invocations and completions)
    failed: int = 0  # fail completions: operations that certainly did not happen
    unfinished: int = 0  # invocations never completed, taken as info
    notes: list[str] = field(default_factory=list)


def merge(files: Sequence[tuple[str, list[Record]]]) -> list[Record]:
    """The lines of several files of one run in one order.

    Each file keeps its own order. Across files the order is ``time`` when every line of
    every file has one (ties keep the files' order as given), else ``index``, which must then
    be unique across the run (a run-wide counter); otherwise there is no order to merge by.
    """
    if len(files) == 1:
        return list(files[0][1])
    if all(r.time is not None for _, records in files for r in records):
        keyed = [[(r.time, n, i, r) for i, r in enumerate(records)]
                 for n, (_, records) in enumerate(files)]
        return [item[3] for item in heapq.merge(*keyed)]
    seen: dict[int, Record] = {}
    for _, records in files:
        missing = next((r for r in records if r.time is None), None)
        for r in records:
            other = seen.get(r.index)
            if other is not None:
                hint = (f"{missing.where}: has no field time" if missing is not None
                        else "")
                raise TraceError(r.where.file, r.where.line, "index",
                                 f"index {r.index} is also at {other.where}: files of one run "
                                 "are merged by time when every line has one, else by index, "
                                 "which must then be unique across the run"
                                 + (f" ({hint})" if hint else ""))
            seen[r.index] = r
    return [seen[i] for i in sorted(seen)]


def operations(records: Sequence[Record]) -> Paired:
    """Pair each invocation with its completion; ``fail`` operations are dropped (they
    certainly did not happen) and counted."""
    ops: list[Operation] = []
    open_: dict[int | str, Operation] = {}
    paired = Paired(ops, len(records))
    for pos, r in enumerate(records):
        if r.type == "invoke":
            before = open_.get(r.process)
            if before is not None:
                raise TraceError(r.where.file, r.where.line, "type",
                                 f"process {show(r.process)} invokes again while its invoke "
                                 f"at {before.invoked} is outstanding (no ok, fail or info "
                                 "for it yet)")
            op = Operation(id=r.index, process=r.process, f=r.f, kind=KINDS[r.f], key=r.key,
                           value=r.value, result=None, status="info", call=pos, ret=NEVER,
                           invoked=r.where, completed=None, call_time=r.time)
            open_[r.process] = op
            ops.append(op)
            continue
        op = open_.pop(r.process, None)  # type: ignore[assignment]
        if op is None:
            raise TraceError(r.where.file, r.where.line, "type",
                             f"{r.type} of process {show(r.process)} without an outstanding "
                             "invoke of that process")
        if KINDS[r.f] != op.kind:
            raise TraceError(r.where.file, r.where.line, "f",
                             f"{r.f} completes the {op.f} invoked at {op.invoked}")
        if r.key != op.key:
            raise TraceError(r.where.file, r.where.line, "key",
                             f"{show(r.key)} differs from the key {show(op.key)} invoked at "
                             f"{op.invoked}")
        op.completed = r.where
        op.ret_time = r.time
        if r.type == "ok":
            op.status = "ok"
            op.ret = pos
            if op.kind == "read":
                op.result = r.value
        elif r.type == "fail":
            op.status = "fail"
            op.ret = pos
            paired.failed += 1
        # info: the operation stays open for ever (ret NEVER): it may yet take effect.
    paired.unfinished = len(open_)
    if paired.unfinished:
        paired.notes.append(f"{paired.unfinished} invocation(s) never completed: taken as "
                            "info (they may have taken effect at any time after, or never)")
    paired.operations = [op for op in ops if op.status != "fail"]
    return paired


def check_file(records: Sequence[Record]) -> None:
    """What one file's lines must respect whatever their format: ``index`` strictly
    increasing, ``time`` on every line or none and never decreasing, and the values each
    ``f`` needs (a cas the pair [expected, new], an append a string)."""
    last: Record | None = None
    timed = bool(records) and records[0].time is not None
    for r in records:
        w = r.where
        if last is not None and r.index <= last.index:
            raise TraceError(w.file, w.line, "index",
                             f"must increase: {r.index} follows {last.index} ({last.where})")
        if (r.time is not None) != timed:
            raise TraceError(w.file, w.line, "time", "is on some lines of this file but not "
                             "on others: give it on every line or on none")
        if timed and last is not None and r.time < last.time:  # type: ignore[operator]
            raise TraceError(w.file, w.line, "time",
                             f"goes backwards: {r.time} follows {last.time} ({last.where})")
        if r.type == "invoke":
            kind = KINDS[r.f]
            if kind == "cas" and not (isinstance(r.value, tuple) and len(r.value) == 2):
                raise TraceError(w.file, w.line, "value", "a cas takes the pair [expected, "
                                 f"new], got {show(r.value)}")
            if kind == "append" and not isinstance(r.value, str):
                raise TraceError(w.file, w.line, "value",
                                 f"an append takes a string, got {show(r.value)}")
        last = r
