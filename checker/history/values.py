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
