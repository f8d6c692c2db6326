"""Bounded abstract Raft as Z3 variables, and the same state as plain Python values.

The state is that of the atomic-step abstract Raft of Schultz, Dardik and Tripakis (FMCAD 2022;
will62794/endive, benchmarks/AbstractRaft.tla): for each of N servers its ``currentTerm``
(0..T), whether it is the leader (endive's Primary; candidates and followers are both
Secondary), and its log (at most L entries, each given by its term, 1..T). The ghost, add-only
set ``committed`` of (index, term) pairs records the committed entries (endive's
``immediatelyCommitted``); it is a bitmap of L*T Booleans here. Bounded model checking also
keeps each pair's commit term (the committing node's term; endive's AbstractStaticRaft keeps it
as a third component), which only mutants make differ from the entry's term; the inductive
proof, where they never differ, leaves it out.

Encoding choices (they keep every query quantifier-free and small):
- a log is L integer cells plus a length; cells past the length are 0, so each abstract state
  has exactly one encoding;
- the bounds are a state constraint, as in endive's ``StateConstraint``: an action whose result
  would leave them is disabled, so what is proved is an inductive invariant of the bounded system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3

from checker.proof.ops import ConcreteView

# Numbers (terms, indices, lengths) are 5-bit bit-vectors: every value lies in 0..13, so the
# signed comparisons Python's operators give are exact, and bit-blasting to SAT is several times
# faster than linear integer arithmetic on these small bounded unrollings. NUMBER_BITS = 0
# switches back to unbounded integers (same results, slower).
NUMBER_BITS = 5


def num(name: str) -> Any:
    """A fresh number variable."""
    return z3.BitVec(name, NUMBER_BITS) if NUMBER_BITS else z3.Int(name)


def num_val(value: int) -> Any:
    """A number literal."""
    return z3.BitVecVal(value, NUMBER_BITS) if NUMBER_BITS else z3.IntVal(value)


class BoundsError(ValueError):
    """Bounds a proof cannot use; the message says which and why."""


@dataclass(frozen=True)
class Bounds:
    """N servers, terms 0..T, logs of at most L entries."""

    nodes: int = 3
    max_term: int = 3
    max_log: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= 9:
            raise BoundsError(f"--nodes must be between 1 and 9, got {self.nodes}")
        if not 1 <= self.max_term <= 12:
            raise BoundsError(f"--max-term must be between 1 and 12, got {self.max_term}")
        if not 1 <= self.max_log <= 12:
            raise BoundsError(f"--max-log must be between 1 and 12, got {self.max_log}")

    @property
    def majority(self) -> int:
        return self.nodes // 2 + 1

    def describe(self) -> str:
        return f"N={self.nodes} T={self.max_term} L={self.max_log}"


# ----------------------------------------------------------------- concrete states


@dataclass(frozen=True)
class RaftState:
    """One abstract state as plain values: a CTI, a BMC step, or a state rebuilt from a trace."""

    terms: tuple[int, ...]
    leader: tuple[bool, ...]
    logs: tuple[tuple[int, ...], ...]
    committed: frozenset[tuple[int, int, int]] = frozenset()

    def view(self, quorum: int | None = None) -> ConcreteView:
        return ConcreteView(self.terms, self.leader, self.logs, self.committed, quorum)

    def to_json(self) -> dict[str, Any]:
        return {
            "servers": [{"server": s, "term": t, "leader": ld, "log": list(log)}
                        for s, (t, ld, log) in enumerate(zip(self.terms, self.leader,
                                                             self.logs, strict=True))],
            "committed": [list(c) for c in sorted(self.committed)],
        }

    @staticmethod
    def from_json(obj: dict[str, Any]) -> RaftState:
        servers = obj["servers"]
        return RaftState(tuple(s["term"] for s in servers), tuple(s["leader"] for s in servers),
                         tuple(tuple(s["log"]) for s in servers),
                         frozenset((c[0], c[1], c[2] if len(c) > 2 else c[1])
                                   for c in obj["committed"]))

    def describe(self) -> list[str]:
        """One line per server, then the ghost committed set: for people."""
        lines = []
        for s, (t, ld, log) in enumerate(zip(self.terms, self.leader, self.logs, strict=True)):
            role = "leader  " if ld else "follower"
            lines.append(f"  s{s}: term {t} {role} log {list(log)}")
        shown = [(i, t) if t == ct else (i, t, f"in term {ct}")
                 for i, t, ct in sorted(self.committed)]
        lines.append(f"  committed (index, term): {shown}")
        return lines


def initial_state(nodes: int) -> RaftState:
    """endive's Init: terms 0, no leader, empty logs, nothing committed."""
    return RaftState((0,) * nodes, (False,) * nodes, ((),) * nodes, frozenset())


# ----------------------------------------------------------------- Z3 states


def select(cells: list[Any], index: Any) -> Any:
    """cells[index - 1] for a symbolic 1-based index; 0 for index 0 or past the end."""
    expr: Any = num_val(0)
    for k in range(len(cells), 0, -1):
        expr = z3.If(index == k, cells[k - 1], expr)
    return expr


class SymState:
    """A state whose parts are Z3 terms (fresh variables, or expressions of another state)."""

    def __init__(self, bounds: Bounds, terms: list[Any], leaders: list[Any],
                 lengths: list[Any], logs: list[list[Any]],
                 committed: dict[tuple[int, int], Any], quorum: int | None = None,
                 cterms: dict[tuple[int, int], Any] | None = None) -> None:
        self.bounds = bounds
        self.terms, self.leaders, self.lengths, self.logs = terms, leaders, lengths, logs
        self.committed = committed
        self.cterms = cterms
        self.servers = range(bounds.nodes)
        self.quorum = quorum if quorum is not None else bounds.majority

    @staticmethod
    def fresh(bounds: Bounds, prefix: str, commit_terms: bool = False) -> SymState:
        n, t_max, l_max = bounds.nodes, bounds.max_term, bounds.max_log
        keys = [(i, t) for i in range(1, l_max + 1) for t in range(1, t_max + 1)]
        cterms = {k: num(f"{prefix}cterm_{k[0]}_{k[1]}") for k in keys} \
            if commit_terms else None
        return SymState(
            bounds,
            [num(f"{prefix}term_{s}") for s in range(n)],
            [z3.Bool(f"{prefix}leader_{s}") for s in range(n)],
            [num(f"{prefix}len_{s}") for s in range(n)],
            [[num(f"{prefix}log_{s}_{i}") for i in range(1, l_max + 1)] for s in range(n)],
            {k: z3.Bool(f"{prefix}com_{k[0]}_{k[1]}") for k in keys}, cterms=cterms,
        )

    @staticmethod
    def constant(bounds: Bounds, state: RaftState) -> SymState:
        """A concrete state as Z3 literals (for the backend agreement tests)."""
        pairs = {(i, t): ct for i, t, ct in state.committed}
        logs = [[num_val(log[i] if i < len(log) else 0) for i in range(bounds.max_log)]
                for log in state.logs]
        return SymState(
            bounds, [num_val(t) for t in state.terms],
            [z3.BoolVal(b) for b in state.leader], [num_val(len(log)) for log in state.logs],
            logs, {(i, t): z3.BoolVal((i, t) in pairs)
                   for i in range(1, bounds.max_log + 1)
                   for t in range(1, bounds.max_term + 1)},
            cterms={(i, t): num_val(pairs.get((i, t), t))
                    for i in range(1, bounds.max_log + 1)
                    for t in range(1, bounds.max_term + 1)}
            if any(ct != t for (_, t), ct in pairs.items()) else None)

    def replace(self, **parts: Any) -> SymState:
        fields = {"terms": self.terms, "leaders": self.leaders, "lengths": self.lengths,
                  "logs": self.logs, "committed": self.committed, "cterms": self.cterms}
        fields.update(parts)
        return SymState(self.bounds, quorum=self.quorum, **fields)

    # --- the state view used by the lemmas (see checker.proof.ops)
    def term(self, s: int) -> Any:
        return self.terms[s]

    def is_leader(self, s: int) -> Any:
        return self.leaders[s]

    def length(self, s: int) -> Any:
        return self.lengths[s]

    def has(self, s: int, i: int) -> Any:
        return self.lengths[s] >= i if 1 <= i <= self.bounds.max_log else False

    def entry(self, s: int, i: int) -> Any:
        return self.logs[s][i - 1] if 1 <= i <= self.bounds.max_log else num_val(0)

    def positions(self, s: int) -> list[tuple[Any, int]]:
        return [(self.lengths[s] >= i, i) for i in range(1, self.bounds.max_log + 1)]

    def committed_indices(self) -> range:
        return range(1, self.bounds.max_log + 1)

    def committed_at(self, i: int) -> list[tuple[Any, int, Any]]:
        cts = self.cterms
        return [(self.committed[(i, t)], t, cts[(i, t)] if cts is not None else t)
                for t in range(1, self.bounds.max_term + 1)]

    def parts(self) -> list[Any]:
        """Every part, in a fixed order (for building transitions field by field)."""
        out = [*self.terms, *self.leaders, *self.lengths]
        for cells in self.logs:
            out += cells
        out += [self.committed[k] for k in sorted(self.committed)]
        if self.cterms is not None:
            out += [self.cterms[k] for k in sorted(self.cterms)]
        return out

    # --- helpers for actions, with symbolic indices
    def entry_at(self, s: int, index: Any) -> Any:
        return select(self.logs[s], index)

    def last_term(self, s: int) -> Any:
        return self.entry_at(s, self.lengths[s])

    def is_committed(self, index: Any, term: Any) -> Any:
        return z3.Or([z3.And(index == i, term == t, c) for (i, t), c in self.committed.items()])

    def evaluate(self, model: z3.ModelRef) -> RaftState:
        """The concrete state a model gives this symbolic one."""
        def number(e: Any) -> int:
            return model.eval(e, model_completion=True).as_long()

        def flag(e: Any) -> bool:
            return z3.is_true(model.eval(e, model_completion=True))

        lengths = [number(x) for x in self.lengths]
        cts = self.cterms
        return RaftState(
            tuple(number(t) for t in self.terms), tuple(flag(b) for b in self.leaders),
            tuple(tuple(number(c) for c in self.logs[s][:lengths[s]]) for s in self.servers),
            frozenset((i, t, number(cts[(i, t)]) if cts is not None else t)
                      for (i, t), c in self.committed.items() if flag(c)))


def type_ok(st: SymState) -> Any:
    """endive's TypeOK for the bounded instance, plus the canonical padding of logs.

    One addition: a leader's term is >= 1 (leaders are elected into term currentTerm + 1 >= 1),
    so ClientRequest never writes a term-0 entry."""
    b = st.bounds
    parts: list[Any] = []
    for s in st.servers:
        parts += [st.terms[s] >= 0, st.terms[s] <= b.max_term,
                  st.lengths[s] >= 0, st.lengths[s] <= b.max_log,
                  z3.Implies(st.leaders[s], st.terms[s] >= 1)]
        for i in range(1, b.max_log + 1):
            cell = st.logs[s][i - 1]
            parts.append(z3.If(st.lengths[s] >= i, z3.And(cell >= 1, cell <= b.max_term),
                               cell == 0))
    for ct in (st.cterms or {}).values():
        parts += [ct >= 0, ct <= b.max_term]
    return z3.And(parts)


def init(st: SymState) -> Any:
    """endive's Init."""
    return z3.And([z3.And(st.terms[s] == 0, z3.Not(st.leaders[s]), st.lengths[s] == 0,
                          *[c == 0 for c in st.logs[s]]) for s in st.servers]
                  + [z3.Not(c) for c in st.committed.values()])


def same(a: SymState, b: SymState) -> Any:
    """a and b are equal, part by part (b may be made of expressions)."""
    parts = []
    for s in a.servers:
        parts += [a.terms[s] == b.terms[s], a.leaders[s] == b.leaders[s],
                  a.lengths[s] == b.lengths[s]]
        parts += [x == y for x, y in zip(a.logs[s], b.logs[s], strict=True)]
    parts += [a.committed[k] == b.committed[k] for k in a.committed]
    if a.cterms is not None and b.cterms is not None:
        parts += [a.cterms[k] == b.cterms[k] for k in a.cterms]
    return z3.And(parts)


def leader_append_only(pre: SymState, post: SymState) -> Any:
    """Figure 3 LeaderAppendOnly, as a property of one step: a leader's log only grows, its
    existing entries unchanged."""
    parts = []
    for s in pre.servers:
        keep = [z3.Implies(pre.lengths[s] >= i, post.logs[s][i - 1] == pre.logs[s][i - 1])
                for i in range(1, pre.bounds.max_log + 1)]
        parts.append(z3.Implies(pre.leaders[s], z3.And(post.lengths[s] >= pre.lengths[s], *keep)))
    return z3.And(parts)
