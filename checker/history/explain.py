"""A counterexample a person can follow, for an object (a key) whose history is not
linearizable:

- the longest linearizable prefix the search found (an order of operations that respects real
  time and the model);
- the operation that cannot come next (of those left, the one that completed first: every
  order must place it before anything invoked after its completion), and why: what the model
  refuses (``read of "x" returned 3, but the value is 5 there``), and what in the history forced
  that (``the last write of 3, op 12, was overwritten by op 17, which completed before this
  read was invoked``);
- a small set of operations that cannot be ordered: found by deleting operations (halves,
  then quarters, ..., then one at a time) while what is left is still not linearizable and
  every value an operation observed is still made by one left, unless the whole history
  does not make it either (so that a deletion never makes the set fail for a new reason, a
  read of a value nobody wrote; a read of a value nobody in the history wrote is a reason
  of its own, and the set is that read alone). When the deletions
  finish, removing any one operation of the set leaves it linearizable (1-minimal); when the
  time given runs out first, the set is only small, and the report says so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checker.history.models import BAD, Model
from checker.history.ops import Operation
from checker.history.search import search
from checker.history.values import made, unexplained


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


def explain(model: Model, ops: Sequence[Operation], order: list[int], state: Any,
            budget: float) -> Counterexample:
    """The counterexample for ``ops``, whose longest prefix found is ``order`` (positions in
    ``ops``) leaving the value ``state``; ``budget`` seconds for the small set."""
    prefix = [ops[i] for i in order]
    placed = set(order)
    left = [op for i, op in enumerate(ops) if i not in placed and op.status == "ok"]
    culprit = min(left, key=lambda op: op.ret)
    reason = _reason(model, prefix, state, culprit, ops)
    core, minimal = smallest_set(model, ops, culprit, budget)
    return Counterexample(culprit.key, prefix, state, culprit, reason, core, minimal)


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
        return f"{why}; no operation writes {model.show(value)}"
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
                 budget: float) -> tuple[list[Operation], bool]:
    """A small set of ``ops`` (with ``culprit``) that cannot be ordered, and whether it is
    1-minimal (see the module's note)."""
    deadline = time.perf_counter() + budget
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
