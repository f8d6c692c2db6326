"""The sequential objects a history is checked against: what each operation does to the
state and what it must observe.

- ``register``: one value, initially null; ``read``/``get`` returns it, ``write``/``put``
  sets it.
- ``cas-register``: a register with ``cas [expected, new]``, which sets ``new`` only if the
  value is ``expected``; an ``ok`` cas did (a cas that found another value is a ``fail``: it
  did not happen).
- ``kv``: one string value per key, as Porcupine's model: ``get``, ``put``, ``append`` (adds
  its string at the end) and ``cas``. A key never written reads as the empty string, and null
  is read as the empty string too (so a Jepsen read of a missing key as nil and Porcupine's
  read as "" both hold).

A history whose operations carry keys is checked per key (P-compositionality: a history is
linearizable if and only if each key's is), whichever the model; :func:`keyed` is the whole
map as one object, for measuring what the split saves.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from checker.history.ops import Operation, show

#: What a step returns when the operation cannot take effect in that state.
BAD: Any = object()
Stepper = Callable[[Any], Any]


@dataclass(frozen=True)
class Model:
    """A sequential specification: its initial value and, per operation, its step."""

    name: str
    kinds: frozenset[str]
    initial: Any = None

    def normal(self, value: Any) -> Any:
        """A value as the model compares it (kv: null and "" are one value)."""
        return value

    def stepper(self, op: Operation) -> Stepper:
        """The function from state to next state for ``op`` (BAD when ``op`` cannot take
        effect there). Only ``ok`` reads reach here: a read with no result constrains
        nothing."""
        norm = self.normal
        if op.kind == "read":
            want = norm(op.result)
            return lambda s: s if s == want else BAD
        if op.kind == "write":
            new = norm(op.value)
            return lambda s: new
        if op.kind == "cas":
            old, new = norm(op.value[0]), norm(op.value[1])
            return lambda s: new if s == old else BAD
        piece = op.value

        def append(s: Any) -> Any:
            if s is None:
                return piece or None
            return s + piece if isinstance(s, str) else BAD

        return append

    def may_become(self, state: Any, want: Any) -> bool:
        """Whether operations that only extend the value (appends) can turn ``state`` into
        ``want``; writes and cas are not counted (the search checks for them)."""
        return state == want

    def reaches(self, wants: set[Any]) -> Callable[[Any], bool]:
        """A test of whether a value may become one of ``wants`` (:meth:`may_become`)."""
        return wants.__contains__

    def sources(self, setters: dict[Any, list[int]]) -> Callable[[Any], list[int]]:
        """Given the operations that set a value (``setters``: each value, and the positions
        of those that set it, in order), a function from a value wanted to the positions of
        those after which the value may become it (:meth:`may_become`), in order."""
        return lambda want: setters.get(want, [])

    def observed(self, op: Operation) -> tuple[bool, Any]:
        """The value ``op`` says it saw (a read's result, a cas's expected value), if any."""
        if op.kind == "read" and op.status == "ok":
            return True, self.normal(op.result)
        if op.kind == "cas":
            return True, self.normal(op.value[0])
        return False, None

    def show(self, value: Any) -> str:
        return show(value)

    def refusal(self, state: Any, op: Operation) -> str:
        """Why ``op`` cannot take effect when the value is ``state``, in words."""
        if op.kind == "read":
            return f"{op.action()}, but the value is {self.show(state)} there"
        if op.kind == "cas":
            return (f"{op.action()} needs the value {self.show(self.normal(op.value[0]))}, "
                    f"but it is {self.show(state)} there")
        return f"{op.action()} cannot apply to the value {self.show(state)}"


class KvModel(Model):
    def normal(self, value: Any) -> Any:
        return None if value == "" else value

    def may_become(self, state: Any, want: Any) -> bool:
        if state is None or state == want:
            return True
        return isinstance(state, str) and isinstance(want, str) and want.startswith(state)

    def reaches(self, wants: set[Any]) -> Callable[[Any], bool]:
        # A string is the start of one of the wants if the first want not before it in
        # sorted order starts with it.
        texts = sorted(w for w in wants if isinstance(w, str))

        def test(value: Any) -> bool:
            if value is None or value in wants:
                return True
            if not isinstance(value, str):
                return False
            at = bisect_left(texts, value)
            return at < len(texts) and texts[at].startswith(value)

        return test

    def sources(self, setters: dict[Any, list[int]]) -> Callable[[Any], list[int]]:
        # The values set that start a want: looked up at each length a value set has.
        lengths = sorted({len(v) for v in setters if isinstance(v, str)})
        always = setters.get(None, [])

        def find(want: Any) -> list[int]:
            out = list(always)
            if isinstance(want, str):
                for n in lengths:
                    if n > len(want):
                        break
                    out += setters.get(want[:n], ())
            elif want is not None:
                out += setters.get(want, [])
            return sorted(set(out))

        return find

    def show(self, value: Any) -> str:
        return '"" (never written)' if value is None else show(value)


MODELS: dict[str, Model] = {
    "register": Model("register", frozenset({"read", "write"})),
    "cas-register": Model("cas-register", frozenset({"read", "write", "cas"})),
    "kv": KvModel("kv", frozenset({"read", "write", "append", "cas"})),
}


def keyed(model: Model, ops: list[Operation]) -> tuple[Any, Callable[[Operation], Stepper]]:
    """The whole keyed map as one object (no split per key): its initial state (one value
    per key, in a tuple) and the stepper of an operation."""
    slots = {k: i for i, k in enumerate(sorted({op.key for op in ops}, key=repr))}
    initial = tuple(model.initial for _ in slots)

    def stepper(op: Operation) -> Stepper:
        inner = model.stepper(op)
        i = slots[op.key]

        def step(s: Any) -> Any:
            v = s[i]
            r = inner(v)
            if r is BAD:
                return BAD
            return s if r is v else s[:i] + (r,) + s[i + 1:]

        return step

    return initial, stepper
