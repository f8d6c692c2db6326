"""The entry points of the linearizability search (:mod:`checker.history.backtrack` is the
search itself), with what is worked out before it starts:

- a read of a value no operation can make, or of a value overwritten for good before it
  began (:mod:`checker.history.values`), refutes the history at once, whatever the order;
- values no operation ever observes are one value to the search (:func:`_merged`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from checker.history.backtrack import UNOBSERVED, Outcome, backtrack
from checker.history.models import BAD, Model, Stepper
from checker.history.ops import Operation
from checker.history.values import made, overwritten, unexplained

__all__ = ["Outcome", "search", "searching"]


def search(ops: Sequence[Operation], steps: Sequence[Stepper], initial: Any,
           deadline: float | None = None, model: Model | None = None) -> Outcome:
    """Search for a linearization of ``ops`` (``steps[i]`` is ``ops[i]``'s stepper), until
    ``deadline`` (a :func:`time.perf_counter` value; None: no limit); see
    :func:`searching`."""
    steps_ = searching(ops, steps, initial, model)
    try:
        while True:
            so_far = next(steps_)
            if deadline is not None and time.perf_counter() > deadline:
                return so_far()
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def searching(ops: Sequence[Operation], steps: Sequence[Stepper], initial: Any,
              model: Model | None = None, keyed: bool = False
              ) -> Generator[Callable[[], Outcome], None, Outcome]:
    """The search as a generator: every few thousand points it yields a function that gives
    the outcome so far (verdict None), so that a caller can share time between several
    searches and stop any of them; it returns the final outcome.

    With ``model`` (that of one object, a key's), a read of a value no operation can make,
    or of one overwritten for good before it began, refutes the history before any search
    (the outcome's ``refuted``: no prefix, the culprit that read; the counterexample looks
    for a prefix), and values no operation observes are merged (:func:`_merged`). ``keyed``:
    the state is the whole map (one value per key, see
    :func:`checker.history.models.keyed`): the plain search, with neither (the split per
    key switched off, as the benchmark measures it)."""
    if model is not None and not keyed:
        orphans = sorted(set(unexplained(model, ops, reads_only=True))
                         | overwritten(model, ops).keys())
        if orphans:
            culprit = min(orphans, key=lambda i: ops[i].ret)
            return Outcome(False, [], initial, 0, culprit, refuted=True)
    return (yield from _explore(ops, steps, initial, None if keyed else model))


def _explore(ops: Sequence[Operation], steps: Sequence[Stepper], initial: Any,
             model: Model | None) -> Generator[Callable[[], Outcome], None, Outcome]:
    if model is None:
        return (yield from backtrack(ops, steps, initial, None))
    merged, blind = _merged(model, ops, steps)
    if merged is steps:
        return (yield from backtrack(ops, steps, initial, model))

    def real(outcome: Outcome) -> Outcome:
        # The value the order really leaves (not the merged one), for the counterexample.
        state = initial
        for i in outcome.order:
            state = steps[i](state)
        return Outcome(outcome.verdict, outcome.order, state, outcome.explored,
                       outcome.culprit)

    inner = backtrack(ops, merged, initial, model, blind)
    try:
        while True:
            so_far = next(inner)
            yield lambda f=so_far: real(f())
    except StopIteration as done:
        return real(done.value)


def _merged(model: Model, ops: Sequence[Operation], steps: Sequence[Stepper]
            ) -> tuple[Sequence[Stepper], list[bool]]:
    """``steps``, but with every value no operation observes made :data:`UNOBSERVED` (no
    read returns it or, kv, a value it may become by appends; no cas expects it), and which
    operations always leave such a value (``blind``: a write or cas of one, an append whose
    string no observed value contains).

    Until the next write, such a value can only be appended to (the result is unobserved
    too) or overwritten: every point of the search whose state is one is worth the same as
    any other with the same operations linearized, so they share one memo entry. And when
    the state is :data:`UNOBSERVED`, a blind operation is taken at once, as a read is (see
    :mod:`checker.history.backtrack`): wherever a completion placed it, it left the state
    unobserved, so nothing read it before the next write, and without it there the same
    completion still works. Returns ``steps`` itself when nothing is merged.
    """
    wants = {value for seen, value in map(model.observed, ops) if seen}
    becomes = model.reaches(wants)
    texts = _longest(wants)
    strings = all(isinstance(made(model, op)[1], str | None) for op in ops)
    has_appends = any(op.kind == "append" for op in ops)
    out, blind = list(steps), [False] * len(ops)
    for i, op in enumerate(ops):
        sets, value = made(model, op)
        if sets and not becomes(value) and (strings or not has_appends):
            # (A value appends cannot extend would make them fail, unlike UNOBSERVED.)
            out[i] = _to_unobserved(steps[i])
            blind[i] = True
        elif op.kind == "append" and strings:
            out[i] = _append(steps[i], becomes)
            blind[i] = texts is not None and "\0" not in op.value and op.value not in texts
    if all(a is b for a, b in zip(out, steps, strict=True)):
        return steps, blind
    return out, blind


TEXTS_CAP = 1 << 22  # characters of observed values searched for an appended string


def _longest(wants: set[Any]) -> str | None:
    """The observed strings that start no other one, joined by NUL: an appended string is
    in an observed value if and only if it is in this (None: too long to search)."""
    texts = sorted(w for w in wants if isinstance(w, str))
    ends = [w for n, w in enumerate(texts)
            if not (n + 1 < len(texts) and texts[n + 1].startswith(w))]
    if sum(map(len, ends)) > TEXTS_CAP:
        return None
    return "\0".join(ends)


def _to_unobserved(step: Stepper) -> Stepper:
    return lambda s: BAD if step(s) is BAD else UNOBSERVED


def _append(step: Stepper, becomes: Callable[[Any], bool]) -> Stepper:
    def appended(s: Any) -> Any:
        if s is UNOBSERVED:
            return s
        new = step(s)
        return new if new is BAD or becomes(new) else UNOBSERVED

    return appended
