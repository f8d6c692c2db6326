"""Building client histories for the history tests: JSON Lines in the contract's format, from
a list of (type, process, f, value[, key]) tuples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HEADER = {"type": "header", "format": "raft-history", "version": 1,
          "implementation": {"name": "test", "version": "0"}}


def history_lines(events: list[tuple[Any, ...]], model: str | None = None) -> list[str]:
    header = dict(HEADER, **({"model": model} if model else {}))
    lines = [json.dumps(header)]
    for index, (kind, process, f, value, *key) in enumerate(events):
        line: dict[str, Any] = {"type": kind, "index": index, "process": process, "f": f,
                                "value": value}
        if key:
            line["key"] = key[0]
        lines.append(json.dumps(line))
    return lines


def write_history(path: Path, events: list[tuple[Any, ...]], model: str | None = None) -> Path:
    path.write_text("\n".join(history_lines(events, model)) + "\n")
    return path


def brute_force_linearizable(ops: list[Any], model: str) -> bool:
    """Whether ``ops`` (paired :class:`checker.history.ops.Operation` s) have a
    linearization: a reference for small histories, written apart from the checker's models
    and search, with none of its shortcuts. It grows every order at once, one operation at a
    time, keeping each (set of operations placed, value) reached once: an operation may come
    next when every operation that completed before it was invoked is placed already and the
    model accepts it; ``info`` operations may be placed or not.

    register and cas-register: one value, initially null. kv: per key, a string, initially
    "" (null reads as ""); append adds its string at the end.
    """
    def empty(v: Any) -> Any:
        return "" if model == "kv" and v is None else v

    def apply(op: Any, state: dict[Any, Any]) -> dict[Any, Any] | None:
        now = empty(state.get(op.key))
        if op.kind == "read":
            return state if empty(op.result) == now else None
        if op.kind == "cas" and empty(op.value[0]) != now:
            return None
        if op.kind == "append" and not isinstance(now, str):
            return None
        new = (empty(op.value) if op.kind == "write" else empty(op.value[1])
               if op.kind == "cas" else now + op.value)
        return {**state, op.key: new}

    # A read whose result is unknown constrains nothing.
    ops = [op for op in ops if not (op.kind == "read" and op.status != "ok")]
    sure = frozenset(n for n, op in enumerate(ops) if op.status == "ok")
    frontier: dict[tuple[frozenset[int], tuple[Any, ...]], dict[Any, Any]] = {
        (frozenset(), ()): {}}
    while frontier:
        grown: dict[tuple[frozenset[int], tuple[Any, ...]], dict[Any, Any]] = {}
        for (placed, _), state in frontier.items():
            if sure <= placed:
                return True
            for n, op in enumerate(ops):
                if n in placed or any(m not in placed and other.ret < op.call
                                      for m, other in enumerate(ops)):
                    continue
                after = apply(op, state)
                if after is not None:
                    grown[placed | {n}, tuple(sorted(after.items(), key=repr))] = after
        frontier = grown
    return False
