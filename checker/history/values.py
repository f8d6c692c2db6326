"""Which values a set of operations can make: a check made once, before any search.

A value can be observed only if some operation can make it: the initial value, a value a
write or a cas sets, or (kv) one of those followed by appended strings. This over-approximates
what any order can produce (it ignores order, and lets each appended string be used any
number of times), so a value outside it is certainly never the object's value: a read that
returned one refutes the history at once, and the search (which would otherwise try every
order of the operations concurrent with that read before giving up) is not needed for the
verdict. The counterexample's small set uses the same check to keep its trials honest.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from checker.history.models import Model
from checker.history.ops import Operation


def made(model: Model, op: Operation) -> tuple[bool, Any]:
    """The value ``op`` sets when it takes effect (a write's, a cas's new one), if any."""
    if op.kind == "write":
        return True, model.normal(op.value)
    if op.kind == "cas":
        return True, model.normal(op.value[1])
    return False, None


def makers(model: Model, ops: Sequence[Operation]) -> tuple[set[Any], list[str]]:
    """The values operations of ``ops`` set (with the initial one), and the strings they
    append."""
    written = {model.initial}
    pieces: list[str] = []
    for op in ops:
        sets, value = made(model, op)
        if sets:
            written.add(value)
        elif op.kind == "append":
            pieces.append(op.value)
    return written, pieces


def unexplained(model: Model, ops: Sequence[Operation], reads_only: bool = False
                ) -> list[int]:
    """The positions in ``ops`` of the operations whose observed value (a read's result, a
    cas's expected value; with ``reads_only``, only ok reads') no operation of their key can
    make."""
    by_key: dict[Any, list[int]] = {}
    for i, op in enumerate(ops):
        by_key.setdefault(op.key, []).append(i)
    out = []
    for positions in by_key.values():
        mine = [ops[i] for i in positions]
        written, pieces = makers(model, mine)
        verdicts: dict[Any, bool] = {}
        for i, op in zip(positions, mine, strict=True):
            if reads_only and op.kind != "read":
                continue
            seen, value = model.observed(op)
            if not seen or value in written:
                continue
            if value not in verdicts:
                verdicts[value] = appended(value, written, pieces)
            if not verdicts[value]:
                out.append(i)
    return sorted(out)


def appended(value: Any, starts: set[Any], pieces: list[str]) -> bool:
    """Whether ``value`` is a start (a written value, or nothing) followed by appended
    pieces."""
    if not isinstance(value, str) or not pieces:
        return False
    known = set(pieces)
    lengths = sorted({len(p) for p in known if p})
    todo = [0 if s is None else len(s) for s in starts
            if s is None or (isinstance(s, str) and value.startswith(s))]
    seen = set(todo)
    while todo:
        at = todo.pop()
        if at == len(value):
            return True
        for n in lengths:
            if value[at:at + n] in known and at + n not in seen:
                seen.add(at + n)
                todo.append(at + n)
    return False


def overwritten(model: Model, ops: Sequence[Operation]
                ) -> dict[int, list[tuple[int | None, int]]]:
    """The ok reads of ``ops`` whose value was overwritten for good before they were
    invoked, whatever the order: for each (its position), each source of its value (a
    position; None: the initial value) with an operation that overwrote it.

    A *source* of a read's value is the initial value, or a write or cas whose value may
    become it (``Model.may_become``: the value itself, or for kv a start that appends
    extend), invoked before the read completed. A source is *overwritten* when some ok write
    or cas (which took effect) was invoked after it completed and completed before the read
    was invoked: in every order it comes between the two (the initial value: any ok write or
    cas that completed before the read was invoked). When every source is overwritten, no
    order lets the read return its value: the last write or cas before the read must be a
    source (appends alone cannot make the value from anything else), and the operation that
    overwrites it comes after it and before the read. An ``info`` write is never overwritten
    (it may take effect at any time). This finds the classic stale read (a value overwritten
    by a write that completed before the read began) before any search.
    """
    by_key: dict[Any, list[int]] = {}
    for i, op in enumerate(ops):
        by_key.setdefault(op.key, []).append(i)
    out: dict[int, list[tuple[int | None, int]]] = {}
    for positions in by_key.values():
        setters: dict[Any, list[int]] = {}
        done: list[tuple[int, float, int]] = []  # (call, ret, position) of ok writes and cas
        for i in positions:
            sets, value = made(model, ops[i])
            if sets:
                setters.setdefault(value, []).append(i)
                if ops[i].status == "ok":
                    done.append((ops[i].call, ops[i].ret, i))
        if not done:
            continue
        done.sort()
        calls = [c for c, _, _ in done]
        # first[n]: of the ok writes invoked at done[n] or later, the one completed first.
        first: list[tuple[float, int]] = [(r, i) for _, r, i in done] + [(float("inf"), -1)]
        for n in range(len(done) - 1, -1, -1):
            first[n] = min(first[n], first[n + 1])
        find = model.sources(setters)
        for i in positions:
            read = ops[i]
            if read.kind != "read" or read.status != "ok":
                continue
            want = model.normal(read.result)
            evidence: list[tuple[int | None, int]] = []
            if model.may_become(model.initial, want):
                if first[0][0] > read.call:
                    continue  # the initial value may still be there
                evidence.append((None, first[0][1]))
            for j in find(want):
                if ops[j].call < read.ret:
                    ret, by = first[bisect_right(calls, ops[j].ret)]
                    if ret > read.call:
                        break
                    evidence.append((j, by))
            else:
                out[i] = evidence
    return out
