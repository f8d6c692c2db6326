"""What a history is made of, whatever file format it came from.

A :class:`Record` is one line of a history (an invocation or a completion), as the readers
(``jsonl``, ``jepsen``) produce it; :func:`checker.history.pairing.operations` pairs them into
:class:`Operation` s, the unit the models and the search work on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

#: Jepsen's four types of history line.
TYPES = ("invoke", "ok", "fail", "info")
#: Each accepted ``f`` and the kind of operation it names: Jepsen's register tests say
#: read/write/cas, Porcupine's and Jepsen's kv tests get/put/append/cas.
KINDS: dict[str, str] = {
    "read": "read", "get": "read", "write": "write", "put": "write",
    "append": "append", "cas": "cas",
}
#: The completion position of an ``info`` operation: it may take effect at any time after its
#: invocation, or never.
NEVER = math.inf


@dataclass(frozen=True, slots=True)
class Where:
    """A line of an input file (1-based), for error messages and counterexamples."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Record:
    """One history line: an invocation or a completion of one process's operation."""

    type: str  # invoke | ok | fail | info
    process: int | str
    f: str
    key: Any  # None when the operation names no key
    value: Any
    index: int
    time: int | None
    where: Where


@dataclass(slots=True)
class Operation:
    """An invocation paired with its completion.

    ``value`` is what the operation was asked to do (the written value, the appended string,
    the pair [expected, new] of a cas); ``result`` what an ``ok`` read returned. ``call`` and
    ``ret`` are positions in the merged history (``ret`` is :data:`NEVER` for ``info``), which
    is all real time means to the check. ``id`` is the invocation's ``index``: the number a
    person finds in the file.
    """

    id: int
    process: int | str
    f: str
    kind: str
    key: Any
    value: Any
    result: Any
    status: str  # ok | info
    call: int
    ret: float
    invoked: Where
    completed: Where | None
    call_time: int | None = None
    ret_time: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``op 17 (process 3, append "x 3 1 y" to "0", ok)``: a person's name for it."""
        return f"op {self.id} (process {self.process}: {self.action()}, {self.status})"

    def action(self) -> str:
        """What it did, in words: ``read of "k" returned 3``, ``write 5``, ``cas 1 -> 2``."""
        of = f" of {show(self.key)}" if self.key is not None else ""
        to = f" to {show(self.key)}" if self.key is not None else ""
        if self.kind == "read":
            got = show(self.result) if self.status == "ok" else "an unknown value"
            return f"{self.f}{of} returned {got}"
        if self.kind == "cas":
            old, new = self.value
            return f"cas{of} from {show(old)} to {show(new)}"
        if self.kind == "append":
            return f"append {show(self.value)}{to}"
        return f"{self.f} {show(self.value)}{to}"


def show(value: Any) -> str:
    """A value as a person reads it in a message: JSON (strings quoted, null)."""
    try:
        return orjson.dumps(thaw(value)).decode()
    except TypeError:
        return repr(value)


def freeze(value: Any) -> Any:
    """A JSON value made hashable (lists to tuples, objects to sorted item tuples), so that
    model states can be compared and memoized."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return FrozenMap(sorted((str(k), freeze(v)) for k, v in value.items()))
    return value


class FrozenMap(tuple):  # type: ignore[type-arg]
    """A JSON object as a hashable value (its sorted items), told apart from a list."""

    __slots__ = ()


def thaw(value: Any) -> Any:
    """The JSON value :func:`freeze` made hashable, back."""
    if isinstance(value, FrozenMap):
        return {k: thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value
