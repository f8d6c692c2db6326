"""The linearizability search: Wing & Gong's backtracking, with Lowe's just-in-time
linearization and memoization (Lowe, "Testing for linearizability", 2017), as Porcupine does.

At each point of the search the candidates are the operations not yet linearized that were
invoked before the earliest completion among those not yet linearized: any later one would
have to come after that completion (real time). Each candidate that can take effect in the
current state is tried in turn, depth first; a point reached again (the same set of linearized
operations and the same state) is not explored twice: the memo holds every point explored, and
every one of them failed, or the search would have ended.

Refinements, each sound for any model (tests/test_history_properties.py compares the
verdicts with those of trying every order, on small random histories):

- An operation that never changes the state (a read; a cas whose new value is its expected
  one) and can take effect now is linearized at once, without trying the others first:
  whatever order completes the history from here, moving it to the front is still an order
  (it was invoked before every pending completion, and wherever it was it changed nothing),
  so no alternative needs exploring. That holds only for operations that change nothing in
  every state: a write of the value the state happens to hold now changes it later (after
  another write), and taking it at once could miss the one order that works (a write of 1
  concurrent with a write of 3 that must come before it, when the value is already 1 and a
  read of 1 must follow the 3: traces/histories/hand/register-rewrite-needed-later.jsonl).
- An ``info`` operation may take effect at any time after its invocation, or never: it stays
  a candidate for ever (its completion is at infinity) and the search ends when every ``ok``
  operation is linearized, whatever ``info`` operations are left.
- A read that can no longer return its value from a point (see :func:`_doomed`) ends that
  point, and a step that would leave such a read behind is not taken.

The set of linearized operations is a bitset relative to the first operation not yet
linearized (``lo``), so the memo's keys stay as small as the concurrency, not the history.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from checker.history.models import BAD, Model, Stepper
from checker.history.ops import Operation
from checker.history.values import made

CHECK_EVERY = 2048  # search points between two looks at the clock


class _Unobserved:
    """The one state that stands for every value no operation observes."""

    def __repr__(self) -> str:
        return "<a value no operation observes>"


#: See :func:`checker.history.search._merged`.
UNOBSERVED: Any = _Unobserved()


def _pure(op: Operation) -> bool:
    """Whether ``op`` leaves every state it can take effect in as it is."""
    if op.kind == "cas":
        return bool(op.value[0] == op.value[1])
    return op.kind == "read" or (op.kind == "append" and op.value == "")


@dataclass
class Outcome:
    """What the search found for one object's operations.

    ``verdict`` is True (linearizable; ``order`` is a linearization), False (not; ``order``
    is the longest prefix found, ``state`` the value after it) or None (the time budget ran
    out first; ``order`` is the longest prefix found so far). ``order`` holds positions in
    the operations given.
    """

    verdict: bool | None
    order: list[int]
    state: Any
    explored: int
    #: A read that cannot follow ``order`` (the value it returned is gone for good), when the
    #: search found one there: the operation the counterexample blames (a position in ops).
    culprit: int | None = None
    #: Decided before any search (see :func:`checker.history.search.searching`).
    refuted: bool = False


def backtrack(ops: Sequence[Operation], steps: Sequence[Stepper], initial: Any,
              model: Model | None, blind: Sequence[bool] | None = None
              ) -> Generator[Callable[[], Outcome], None, Outcome]:
    """The search for a linearization of ``ops`` (``steps[i]`` is ``ops[i]``'s stepper), as
    a generator (see :func:`checker.history.search.searching`). With ``model`` (that of one
    object, a key's), a point where a pending read can no longer return its value is
    abandoned at once (see :func:`_doomed`). ``blind[i]``: ``ops[i]`` always leaves the state
    :data:`UNOBSERVED` (see :func:`checker.history.search._merged`), so it is taken at once
    when the state is that already."""
    n = len(ops)
    by_call = sorted(range(n), key=lambda i: ops[i].call)
    call = [ops[i].call for i in by_call]
    ret = [ops[i].ret for i in by_call]
    step = [steps[i] for i in by_call]
    info = [ops[i].status != "ok" for i in by_call]
    pure = [_pure(ops[i]) for i in by_call]
    unseen = [bool(blind and blind[i]) for i in by_call]
    info_idx = [i for i in range(n) if info[i]]
    info_bit = {i: 1 << k for k, i in enumerate(info_idx)}
    must = n - len(info_idx)
    doomed = _doomed(model, [ops[i] for i in by_call], call, ret) if model else {}
    # The reads not linearized yet that want each value: when a step changes the state from
    # a value, those that wanted it may have lost their last chance (see ``_expand``).
    watch: dict[Any, list[int]] = {}
    if model is not None:
        for i in doomed:
            watch.setdefault(model.normal(ops[by_call[i]].result), []).append(i)

    def advance(lo: int, rel: int) -> tuple[int, int]:
        # Past the linearized operations and the open info ones (tracked by ibits from then).
        while lo < n and (rel & 1 or info[lo]):
            rel >>= 1
            lo += 1
        return lo, rel

    def _expand(lo: int, rel: int, ibits: int, state: Any,
                choices: list[tuple[int, Any, int, int, int]],
                pruned: list[tuple[int, Any, int]], blocked: list[int]
                ) -> tuple[int, Any, int, int, int] | None:
        """Fill ``choices`` with the candidates that can take effect (and lead to a point
        not explored yet), and ``pruned`` with those that can but doom a read; or return the
        one to take at once, which leaves the state as is."""
        # The open info operations, then those invoked before the earliest pending
        # completion.
        cands = [i for i in info_idx[:bisect_left(info_idx, lo)] if not ibits & info_bit[i]]
        limit = float("inf")
        window: list[int] = []
        i, bits = lo, rel
        while i < n and call[i] < limit:
            if not bits & 1:
                window.append(i)
                if ret[i] < limit:
                    limit = ret[i]
            bits >>= 1
            i += 1
        cands.extend(i for i in window if call[i] < limit)
        for i in cands:
            ns = step[i](state)
            if ns is BAD:
                if i in doomed and doomed[i](state, lo, rel, ibits):
                    choices.clear()
                    blocked.append(i)
                    return None
                continue
            if i < lo:
                nlo, nrel, nib = lo, rel, ibits | info_bit[i]
            else:
                nlo, nrel = advance(lo, rel | (1 << (i - lo)))
                nib = ibits | info_bit[i] if info[i] else ibits
            if pure[i] or (unseen[i] and state is UNOBSERVED):
                # Taken at once (see the module's note); if where it leads failed already,
                # so does this point.
                if (nlo, nrel, nib, ns) in visited:
                    choices.clear()
                    return None
                return i, ns, nlo, nrel, nib
            if (nlo, nrel, nib, ns) in visited:
                continue
            lost = next((r for r in watch.get(state, ()) if r >= nlo and
                         not nrel >> (r - nlo) & 1 and doomed[r](ns, nlo, nrel, nib)), None)
            if lost is not None:
                # A read left that returned the value this step changes can never return
                # it again: no order through here.
                pruned.append((i, ns, lost))
                continue
            choices.append((i, ns, nlo, nrel, nib))
        return None

    lo, rel = advance(0, 0)
    ibits = 0
    state = initial
    done = 0
    path: Any = None  # the order so far, as nested pairs (position, rest)
    best_done, best_path, best_state, best_culprit = -1, None, initial, None
    visited: set[tuple[int, int, int, Any]] = set()
    stack: list[list[Any]] = []
    explored = 0
    next_look = CHECK_EVERY
    while True:
        explored += 1
        if done == must:
            return Outcome(True, _order(path, by_call), state, explored)
        if explored >= next_look:
            next_look += CHECK_EVERY
            yield lambda p=best_path, s=best_state, e=explored, c=best_culprit: Outcome(
                None, _order(p, by_call), s, e, None if c is None else by_call[c])
        here = (lo, rel, ibits, state)
        choices: list[tuple[int, Any, int, int, int]] = []
        if here not in visited:  # else explored before, from another order: it failed
            visited.add(here)
            if done > best_done:
                best_done, best_path, best_state, best_culprit = done, path, state, None
            pruned: list[tuple[int, Any, int]] = []
            blocked: list[int] = []
            greedy = _expand(lo, rel, ibits, state, choices, pruned, blocked)
            if blocked and path is best_path and best_culprit is None:
                best_culprit = blocked[0]
            for i, ns, lost in pruned:
                # Still a linearizable prefix, after which the read ``lost`` cannot be placed.
                if done + (not info[i]) > best_done:
                    best_done, best_path, best_state = done + (not info[i]), (i, path), ns
                    best_culprit = lost
            if greedy is not None:
                i, state, lo, rel, ibits = greedy
                done += not info[i]
                path = (i, path)
                continue
        if choices:
            frame = [state, done, path, choices, 0]
            stack.append(frame)
        # Take the next untried choice, backtracking as far as needed.
        while stack:
            frame = stack[-1]
            choices = frame[3]
            k = frame[4]
            if k < len(choices):
                frame[4] = k + 1
                i, state, lo, rel, ibits = choices[k]
                done = frame[1] + (not info[i])
                path = (i, frame[2])
                break
            stack.pop()
        else:
            return Outcome(False, _order(best_path, by_call), best_state, explored,
                           None if best_culprit is None else by_call[best_culprit])


def _doomed(model: Model, ops: list[Operation], call: list[int], ret: list[float]
            ) -> dict[int, Callable[[Any, int, int, int], bool]]:
    """For each ok read, a test of whether it can still return its value from a point.

    A read that cannot take effect now will take effect later, after some of the operations
    left. If none of those can make its value (no write or cas left that was invoked before
    the read completed and sets a value the model says can become the one read:
    ``Model.may_become``, the value itself, or for kv a start that appends may extend into
    it), and the current value cannot become it either, no order completes the history from
    this point. Porcupine has no such test. It is what keeps a stale read from being tried
    after every order of the writes concurrent with it, and Porcupine's 50-client histories,
    whose appends are read back in their order, from exploring every order of concurrent
    appends before finding the one their reads saw.
    """
    info_bit: dict[int, int] = {}
    for i, op in enumerate(ops):
        if op.status != "ok":
            info_bit[i] = 1 << len(info_bit)
    # Per key, the positions of the operations that set each value.
    setters: dict[Any, dict[Any, list[int]]] = {}
    for i, op in enumerate(ops):
        sets, value = made(model, op)
        if sets:
            setters.setdefault(op.key, {}).setdefault(value, []).append(i)
    finders = {key: model.sources(values) for key, values in setters.items()}
    sources: dict[tuple[Any, Any], tuple[list[int], list[int]]] = {}
    tests: dict[int, Callable[[Any, int, int, int], bool]] = {}
    for i, op in enumerate(ops):
        if op.kind != "read" or op.status != "ok":
            continue
        want = model.normal(op.result)
        if (op.key, want) not in sources:
            found = finders[op.key](want) if op.key in finders else []
            sources[op.key, want] = found, [call[j] for j in found]
        mine, calls = sources[op.key, want]
        before = mine[:bisect_left(calls, ret[i])]
        tests[i] = _read_test(model, want, before, [j for j in before if j in info_bit],
                              info_bit)
    return tests


def _read_test(model: Model, want: Any, resets: list[int], info_resets: list[int],
               info_bit: dict[int, int]) -> Callable[[Any, int, int, int], bool]:
    may_become = model.may_become

    def test(state: Any, lo: int, rel: int, ibits: int) -> bool:
        if may_become(state, want):
            return False
        for j in resets[bisect_left(resets, lo):]:
            if not rel >> (j - lo) & 1:
                return False  # a reset is left: it may yet make the value
        return all(ibits & info_bit[j] for j in info_resets if j < lo)

    return test


def _order(path: Any, by_call: list[int]) -> list[int]:
    out = []
    while path is not None:
        out.append(by_call[path[0]])
        path = path[1]
    out.reverse()
    return out
