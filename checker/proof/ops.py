"""Two backends for the lemmas: plain Python values and Z3 terms.

A lemma (see :mod:`checker.proof.invariants`) is written once, as a function of a *state view*
and an *ops* object. The view answers questions about one abstract Raft state (a server's term,
whether it leads, its log, the ghost ``committed`` set); the ops object combines the answers
(``all``, ``any``, ``implies``, ...). With :class:`ConcreteOps` and a :class:`ConcreteView` the
lemma returns a ``bool``; with :class:`SymbolicOps` and a Z3 view (:mod:`checker.proof.model`) it
returns a ``z3.BoolRef``. Comparisons (``==``, ``<=``, ...) are Python's own operators, which Z3
overloads, so a lemma body never needs to know which backend runs it.

Finite ranges only (servers, log indices, terms): every quantifier unrolls, so the Z3 queries are
quantifier-free linear integer arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import combinations
from typing import Any

import z3

Lazy = Any  # a value, or a zero-argument callable producing it (evaluated only when needed)


def _force(x: Lazy) -> Any:
    return x() if callable(x) else x


class ConcreteOps:
    """Python booleans; ``all``/``any`` short-circuit on generators, ``implies`` is lazy."""

    symbolic = False

    def all(self, xs: Iterable[Any]) -> bool:
        return all(xs)

    def any(self, xs: Iterable[Any]) -> bool:
        return any(xs)

    def and_(self, *xs: Lazy) -> bool:
        return all(_force(x) for x in xs)

    def or_(self, *xs: Lazy) -> bool:
        return any(_force(x) for x in xs)

    def not_(self, x: Any) -> bool:
        return not x

    def implies(self, a: Any, b: Lazy) -> bool:
        return (not a) or bool(_force(b))

    def at_least(self, xs: Iterable[Any], k: int) -> bool:
        return sum(1 for x in xs if x) >= k


class SymbolicOps:
    """Z3 terms; Python ``True``/``False`` literals are folded away as the formula is built."""

    symbolic = True

    def all(self, xs: Iterable[Any]) -> Any:
        items = []
        for x in xs:
            if x is True:
                continue
            if x is False:
                return z3.BoolVal(False)
            items.append(x)
        return z3.And(items) if items else z3.BoolVal(True)

    def any(self, xs: Iterable[Any]) -> Any:
        items = []
        for x in xs:
            if x is False:
                continue
            if x is True:
                return z3.BoolVal(True)
            items.append(x)
        return z3.Or(items) if items else z3.BoolVal(False)

    def and_(self, *xs: Lazy) -> Any:
        return self.all(_force(x) for x in xs)

    def or_(self, *xs: Lazy) -> Any:
        return self.any(_force(x) for x in xs)

    def not_(self, x: Any) -> Any:
        if isinstance(x, bool):
            return not x
        return z3.Not(x)

    def implies(self, a: Any, b: Lazy) -> Any:
        if a is False:
            return True
        body = _force(b)
        if a is True:
            return body
        return z3.Implies(a, body)

    def at_least(self, xs: Iterable[Any], k: int) -> Any:
        """Some k of xs hold: a disjunction over the k-subsets (a minimal-quorum enumeration)."""
        items = list(xs)
        return self.any(self.all(c) for c in combinations(items, k))


CONCRETE = ConcreteOps()
SYMBOLIC = SymbolicOps()


class ConcreteView:
    """A state view over plain Python values (a state rebuilt from a trace, or a CTI).

    ``terms[s]``, ``leader[s]``, ``logs[s]`` (a tuple of entry terms, index 1 first), and
    ``committed``: the ghost set of (index, term, commit term) triples, the commit term being
    the committing node's term (equal to the entry's term except under a mutant such as
    figure8). ``quorum`` is the size of a quorum.
    """

    def __init__(self, terms: Iterable[int], leader: Iterable[bool],
                 logs: Iterable[Iterable[int]], committed: Iterable[tuple[int, int, int]],
                 quorum: int | None = None) -> None:
        self.terms = tuple(terms)
        self.leaders = tuple(leader)
        self.logs = tuple(tuple(log) for log in logs)
        by_index: dict[int, set[tuple[int, int]]] = {}
        for i, t, ct in committed:
            by_index.setdefault(i, set()).add((t, ct))
        self._committed = {i: tuple(sorted(ts)) for i, ts in sorted(by_index.items())}
        self.servers = range(len(self.terms))
        self.quorum = quorum if quorum is not None else len(self.terms) // 2 + 1

    def term(self, s: int) -> int:
        return self.terms[s]

    def is_leader(self, s: int) -> bool:
        return self.leaders[s]

    def length(self, s: int) -> int:
        return len(self.logs[s])

    def has(self, s: int, i: int) -> bool:
        return 1 <= i <= len(self.logs[s])

    def entry(self, s: int, i: int) -> int:
        """The term at index i, 0 where there is no entry (as in the Z3 encoding's padding)."""
        log = self.logs[s]
        return log[i - 1] if 1 <= i <= len(log) else 0

    def positions(self, s: int) -> Iterator[tuple[bool, int]]:
        # Last index first: lemmas that look for a late term stop early on real logs.
        return ((True, i) for i in range(len(self.logs[s]), 0, -1))

    def committed_indices(self) -> Iterable[int]:
        return self._committed.keys()

    def committed_at(self, i: int) -> Iterable[tuple[bool, int, int]]:
        return ((True, t, ct) for t, ct in self._committed.get(i, ()))


def committed_entries(view: Any) -> Iterator[tuple[Any, int, int, Any]]:
    """(guard, index, term, commit term) for every member (concrete) or candidate member (Z3)
    of the ghost committed set."""
    for i in view.committed_indices():
        for guard, t, ct in view.committed_at(i):
            yield guard, i, t, ct


Lemma = Callable[[Any, Any], Any]
