"""A counterexample a person can follow, for an object (a key) whose history is not
linearizable:

- the longest linearizable prefix the search found (an order of operations that respects real
  time and the model);
- the operation that cannot follow it: a read the search found can no longer return its
  value (the value it needs is gone for good), or else the operation that cannot come next
  (of those left, the one that completed first: every order must place it before anything
  invoked after its completion); and why: what the model refuses (``read of "x" returned 3,
  but the value is 5 there``), and what in the history forced that (``the last write of 3,
  op 12, was overwritten by op 17, which completed before this read was invoked``);
- a small set of operations that cannot be ordered: found by deleting operations (halves,
  then quarters, ..., then one at a time) while what is left is still not linearizable and
  every value an operation observed is still made by one left, unless the whole history
  does not make it either (so that a deletion never makes the set fail for a new reason, a
  read of a value nobody wrote; a read of a value nobody in the history wrote is a reason
  of its own, and the set is that read alone). When the deletions finish, removing any one
  operation of the set leaves it linearizable (1-minimal); when the time given runs out
  first, the set is only small, and the report says so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checker.history.models import BAD, Model
from checker.history.ops import Operation
from checker.history.search import Outcome, search
from checker.history.values import made, overwritten, unexplained


@dataclass
class Counterexample:
    """Why one object's operations have no linearization."""

    key: Any
    prefix: list[Operation]
    state: Any
    culprit: Operation
    reason: str
    core: list[Operation]
    core_minimal: bool


def explain(model: Model, ops: Sequence[Operation], outcome: Outcome,
            budget: float) -> Counterexample:
    """The counterexample for ``ops``, whose search ended with ``outcome`` (not
    linearizable: its ``order``, positions in ``ops``, is the longest prefix found, leaving
    the value ``state``; its ``culprit``, if any, the operation the search found cannot follow
    it; else the one of those left that completed first). ``budget`` seconds for the prefix
    of a history refuted before any search, and the small set."""
    deadline = time.perf_counter() + budget
    order, state = outcome.order, outcome.state
    blamed = outcome.culprit
    evidence = overwritten(model, ops).get(blamed) if blamed is not None else None
    found: tuple[list[Operation], bool] | None = None
    if outcome.refuted and evidence and blamed is not None:
        # The reason needs no prefix here: the small set first, the prefix with what is left.
        found = smallest_set(model, ops, ops[blamed], budget * 2 / 3,
                             _seed(model, ops, ops[blamed], evidence))
    if outcome.refuted and blamed is not None and budget > 0:
        order, state = _prefix_before(model, ops, blamed,
                                      deadline if found else time.perf_counter() + budget / 2)
    prefix = [ops[i] for i in order]
    placed = set(order)
    left = [op for i, op in enumerate(ops) if i not in placed and op.status == "ok"]
    culprit = ops[blamed] if blamed is not None else min(left, key=lambda op: op.ret)
    reason = (_overwritten(model, ops, culprit, evidence) if evidence else
              _reason(model, prefix, state, culprit, ops))
    core, minimal = found or smallest_set(
        model, ops, culprit, max(0.0, deadline - time.perf_counter()),
        _seed(model, ops, culprit, evidence) if evidence else None)
    return Counterexample(culprit.key, prefix, state, culprit, reason, core, minimal)


def _prefix_before(model: Model, ops: Sequence[Operation], culprit: int, deadline: float
                   ) -> tuple[list[int], Any]:
    """For a history refuted before any search by the read ``ops[culprit]``: a linearizable
    prefix (as long as found by ``deadline``) of the operations invoked before that read
    completed, without the reads that no order lets return their value there. None of the
    operations left out must come before one of the prefix, so it is a prefix of an order
    of the whole history, and the read cannot follow it."""
    end = ops[culprit].ret
    before = [i for i in range(len(ops)) if ops[i].call < end and i != culprit]
    sub = [ops[i] for i in before]
    gone = set(unexplained(model, sub, reads_only=True)) | overwritten(model, sub).keys()
    rest = [i for n, i in enumerate(before) if n not in gone]
    kept = [ops[i] for i in rest]
    steps = [model.stepper(op) for op in kept]
    found = search(kept, steps, model.initial, deadline, model)
    order, state = [], model.initial
    for j in found.order:
        order.append(rest[j])
        state = steps[j](state)
    return order, state


def _seed(model: Model, ops: Sequence[Operation], culprit: Operation,
          evidence: list[tuple[int | None, int]]) -> list[Operation]:
    """Where the small set starts for a read whose value was overwritten for good: the read,
    its value's sources and what overwrote them (no order of these places the read), and
    the appends that may have made its value."""
    keep = {id(culprit)}
    for source, by in evidence:
        keep.add(id(ops[by]))
        if source is not None:
            keep.add(id(ops[source]))
    _, want = model.observed(culprit)
    for op in ops:
        if (op.kind == "append" and op.call < culprit.ret and isinstance(want, str)
                and op.value in want):
            keep.add(id(op))
    return [op for op in ops if id(op) in keep]


SHOWN_SOURCES = 3  # sources of an overwritten value named in a reason


def _overwritten(model: Model, ops: Sequence[Operation], culprit: Operation,
                 evidence: list[tuple[int | None, int]]) -> str:
    """Why a read whose value was overwritten for good before it began cannot be placed
    (see :func:`checker.history.values.overwritten`): each source and what overwrote it."""
    parts = []
    for source, by in evidence[:SHOWN_SOURCES]:
        w = ops[by]
        if source is None:
            parts.append(f"the initial value {model.show(model.initial)} by op {w.id} "
                         f"({w.action()}), which completed before this read was invoked")
        else:
            s = ops[source]
            parts.append(f"op {s.id} ({s.action()}) by op {w.id} ({w.action()}), invoked "
                         f"after op {s.id} completed and completed before this read was "
                         "invoked")
    if len(evidence) > SHOWN_SOURCES:
        parts.append(f"and {len(evidence) - SHOWN_SOURCES} more")
    sources = ("what could make that value was" if len(evidence) == 1 else
               f"all {len(evidence)} of what could make that value were")
    return (f"{culprit.action()}, but {sources} overwritten before this read was invoked: "
            + "; ".join(parts))


def _reason(model: Model, prefix: list[Operation], state: Any, culprit: Operation,
            ops: Sequence[Operation]) -> str:
    if model.stepper(culprit)(state) is not BAD:
        return (f"{culprit.action()} can take effect after it, but no order of the operations "
                "left completes the history from there")
    why = model.refusal(state, culprit)
    seen, value = model.observed(culprit)
    if not seen:
        return why
    what = "read" if culprit.kind == "read" else culprit.kind
    # The values after each operation of the prefix: who last made it the value observed?
    states = [model.initial]
    for op in prefix:
        states.append(model.stepper(op)(states[-1]))
    writer = next((k for k in range(len(prefix), -1, -1) if states[k] == value and
                   (k == 0 or states[k - 1] != value)), None)
    if writer is not None:
        source = (f"the value {model.show(value)}, last made by op {prefix[writer - 1].id},"
                  if writer else f"the initial value {model.show(value)}")
        later = [op for k, op in enumerate(prefix[writer:], writer) if states[k + 1] != states[k]]
        forced = next((op for op in later if op.ret < culprit.call), None)
        if forced is not None:
            return (f"{why}; {source} was changed by op {forced.id} ({forced.action()}), "
                    f"which completed before this {what} was invoked")
        if later:
            return (f"{why}; {source} was changed by op {later[0].id} "
                    f"({later[0].action()}), which every order found places before this "
                    f"{what}")
        return why
    writes = [op for op in ops if _writes(model, op, value)]
    if not writes and value != model.initial:
        if ops.index(culprit) in unexplained(model, ops):
            return f"{why}; no operation writes {model.show(value)}"
        return f"{why}; no order of the appends before it makes {model.show(value)}"
    after = [op for op in writes if op.call > culprit.ret]
    if writes and len(after) == len(writes):
        return (f"{why}; the only write{'s' if len(writes) > 1 else ''} of "
                f"{model.show(value)} (op {', op '.join(str(op.id) for op in writes)}) "
                f"{'were' if len(writes) > 1 else 'was'} invoked after this {what} completed")
    return why


def _writes(model: Model, op: Operation, value: Any) -> bool:
    sets, made_ = made(model, op)
    return sets and made_ == value


def _supported(model: Model, ops: Sequence[Operation],
               unsupported: frozenset[int] = frozenset()) -> bool:
    """Every value an operation of ``ops`` observed can be made by operations of ``ops``,
    but for the operations in ``unsupported`` (by ``id()``: those the whole history does not
    explain either)."""
    return all(id(ops[i]) in unsupported for i in unexplained(model, ops))


TRIAL = 0.05  # seconds at most for one try of a smaller set (unknown: the operation stays)


def _linearizable(model: Model, ops: Sequence[Operation], deadline: float) -> bool | None:
    kept = [op for op in ops if not (op.kind == "read" and op.status != "ok")]
    return search(kept, [model.stepper(op) for op in kept], model.initial,
                  min(deadline, time.perf_counter() + TRIAL), model).verdict


def smallest_set(model: Model, ops: Sequence[Operation], culprit: Operation,
                 budget: float, seed: list[Operation] | None = None
                 ) -> tuple[list[Operation], bool]:
    """A small set of ``ops`` (with ``culprit``) that cannot be ordered, and whether it is
    1-minimal (see the module's note); the deletions start from ``seed`` when it cannot be
    ordered either."""
    deadline = time.perf_counter() + budget
    current = seed if seed is not None else []
    if not current or _linearizable(model, current, deadline) is not False:
        current = [op for op in ops if op.call <= culprit.ret]
    if _linearizable(model, current, deadline) is not False:
        current = list(ops)
    unsupported = frozenset(id(ops[i]) for i in unexplained(model, ops))
    minimal = True
    chunk = max(1, len(current) // 2)
    while True:
        removed = False
        if chunk == 1:
            minimal = True  # 1-minimal if no single deletion is left undecided
        i = 0
        while i < len(current):
            if time.perf_counter() > deadline:
                return current, False
            gone = current[i:i + chunk]
            trial = current[:i] + current[i + chunk:]
            verdict = (_linearizable(model, trial, deadline)
                       if culprit not in gone and _supported(model, trial, unsupported) else True)
            if verdict is False:
                current = trial
                removed = True
            else:
                minimal = minimal and verdict is not None
                i += chunk
        if chunk == 1 and not removed:
            return current, minimal
        chunk = max(1, chunk // 2)
