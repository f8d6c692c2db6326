"""The inductive invariant of abstract Raft: twelve small lemmas, each written once.

Source: the lemma set of the atomic-step "abstract Raft" of Schultz, Dardik and Tripakis,
"Plain and Simple Inductive Invariant Inference for Distributed Protocols in TLA+" (FMCAD 2022;
will62794/endive, benchmarks/AbstractRaft.tla, ``HumanDecompInd``). Names follow that file (minus
its ``H_`` prefix); the four safety properties of the paper's Figure 3 that are state predicates
are among them (ElectionSafety is OnePrimaryPerTerm). Statements are restated, not copied.

Every lemma is a function ``(view, ops) -> bool | z3.BoolRef`` (see :mod:`checker.proof.ops`):
the same code checks a state rebuilt from a trace and builds the Z3 formula of the proof.

Two lemmas are written in an equivalent "consecutive index" form, which is linear instead of
quadratic in the log length: TermsMonotonic compares each entry with the one before it, and
LogMatching, given a shared (index, term), requires equal entries one index below (by induction
on the index, this is the same as equal prefixes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checker.proof.ops import Lemma, committed_entries


def in_log(v: Any, ops: Any, s: int, i: int, t: Any) -> Any:
    """Entry (i, t) is in s's log (endive's ``InLog``)."""
    return ops.and_(v.has(s, i), v.entry(s, i) == t)


def quorum_where(v: Any, ops: Any, pred: Any) -> Any:
    """Some quorum Q has pred(n) for all n in Q (a majority holds pred)."""
    return ops.at_least((pred(n) for n in v.servers), v.quorum)


# ----------------------------------------------------------------- Figure 3 safety properties


def OnePrimaryPerTerm(v: Any, ops: Any) -> Any:
    """At most one leader per term (Election Safety, paper §5.2)."""
    return ops.all(
        ops.not_(ops.and_(v.is_leader(s), v.is_leader(t), v.term(s) == v.term(t)))
        for s in v.servers for t in v.servers if s < t
    )


def LogMatching(v: Any, ops: Any) -> Any:
    """Logs sharing an (index, term) are equal up to that index (paper §5.3)."""
    return ops.all(
        ops.implies(ops.and_(gs, v.has(t, i), v.entry(s, i) == v.entry(t, i)),
                    lambda s=s, t=t, i=i: v.entry(s, i - 1) == v.entry(t, i - 1))
        for s in v.servers for t in v.servers if s < t
        for gs, i in v.positions(s) if i >= 2
    )


def LeaderCompleteness(v: Any, ops: Any) -> Any:
    """A leader of a term later than the one an entry was committed in holds it (paper §5.4).

    The commit term is the entry's own term in the correct model (endive compares the entry
    term); it differs only under mutants that commit an earlier term's entry (figure8), where
    the trace checker's reading, "committed in term t", is the one that matters."""
    return ops.all(
        ops.implies(ops.and_(v.is_leader(s), g, ct < v.term(s)),
                    lambda s=s, i=i, t=t: in_log(v, ops, s, i, t))
        for s in v.servers for g, i, t, ct in committed_entries(v)
    )


def StateMachineSafety(v: Any, ops: Any) -> Any:
    """Two committed entries at one index are equal (paper §5.4.3)."""
    checks = []
    for i in v.committed_indices():
        members = list(v.committed_at(i))
        checks.extend(ops.not_(ops.and_(g1, g2))
                      for a, (g1, t1, _) in enumerate(members) for g2, t2, _ in members[a + 1:]
                      if t1 != t2)
    return ops.all(checks)


# ----------------------------------------------------------------- strengthening lemmas


def QuorumsSafeAtTerms(v: Any, ops: Any) -> Any:
    """Each leader has a quorum whose members' terms are >= its own (they voted for it)."""
    return ops.all(
        ops.implies(v.is_leader(s),
                    lambda s=s: quorum_where(v, ops, lambda n: v.term(n) >= v.term(s)))
        for s in v.servers
    )


def LogEntryImpliesSafeAtTerm(v: Any, ops: Any) -> Any:
    """An entry of term t anywhere implies a quorum with terms >= t (someone won term t)."""
    return ops.all(
        ops.implies(g, lambda s=s, i=i: quorum_where(v, ops,
                                                    lambda n: v.term(n) >= v.entry(s, i)))
        for s in v.servers for g, i in v.positions(s)
    )


def PrimaryTermGTELogTerm(v: Any, ops: Any) -> Any:
    """A leader's term is >= every term in its log."""
    return ops.all(
        ops.implies(v.is_leader(s), lambda s=s: ops.all(
            ops.implies(g, v.term(s) >= v.entry(s, i)) for g, i in v.positions(s)))
        for s in v.servers
    )


def TermsMonotonic(v: Any, ops: Any) -> Any:
    """Terms never decrease along a log (consecutive form)."""
    return ops.all(
        ops.implies(g, v.entry(s, i - 1) <= v.entry(s, i))
        for s in v.servers for g, i in v.positions(s) if i >= 2
    )


def PrimaryHasOwnEntries(v: Any, ops: Any) -> Any:
    """An entry carrying a leader's current term, anywhere, is in that leader's log."""
    return ops.all(
        ops.implies(v.is_leader(p), lambda p=p: ops.all(
            ops.implies(ops.and_(g, v.entry(s, k) == v.term(p)),
                        lambda s=s, k=k: in_log(v, ops, p, k, v.term(p)))
            for s in v.servers if s != p for g, k in v.positions(s)))
        for p in v.servers
    )


def _first_of_term(v: Any, ops: Any, s: int, i: int) -> Any:
    # Checked from i-1 downwards: on a real log the entry below usually shares the term.
    return ops.all(v.entry(s, j) != v.entry(s, i) for j in range(i - 1, 0, -1))


def UniformLogEntries(v: Any, ops: Any) -> Any:
    """Where term T first appears in a log, at index i, no log has an entry of T below i."""
    return ops.all(
        ops.implies(ops.and_(g, lambda s=s, i=i: _first_of_term(v, ops, s, i)),
                    lambda s=s, i=i: ops.all(
                        ops.not_(ops.and_(v.has(t, k), v.entry(t, k) == v.entry(s, i)))
                        for t in v.servers for k in range(1, i)))
        for s in v.servers for g, i in v.positions(s) if i >= 2
    )


def CommittedEntryIsOnQuorum(v: Any, ops: Any) -> Any:
    """Every committed entry is on some quorum."""
    return ops.all(
        ops.implies(g, lambda i=i, t=t: quorum_where(v, ops,
                                                    lambda n: in_log(v, ops, n, i, t)))
        for g, i, t, _ in committed_entries(v)
    )


def LaterLogsHaveEarlierCommitted(v: Any, ops: Any) -> Any:
    """A log holding any term greater than committed entry c's term contains c."""
    return ops.all(
        ops.implies(ops.and_(g, lambda s=s, t=t: ops.any(
            ops.and_(gk, v.entry(s, k) > t) for gk, k in v.positions(s))),
            lambda s=s, i=i, t=t: in_log(v, ops, s, i, t))
        for s in v.servers for g, i, t, _ in committed_entries(v)
    )


# ----------------------------------------------------------------- the registry


@dataclass(frozen=True)
class LemmaInfo:
    """One lemma, its role, and the lemmas its preservation proof leans on.

    ``depends_on``: the lemmas (besides TypeOK and itself) its preservation proof uses, from the
    unsat cores our own proof reports (``raftref prove`` prints the measured ones).
    """

    name: str
    fn: Lemma
    safety: bool
    depends_on: tuple[str, ...]
    doc: str


def _info(fn: Lemma, safety: bool, deps: tuple[str, ...]) -> LemmaInfo:
    return LemmaInfo(fn.__name__, fn, safety, deps, (fn.__doc__ or "").strip())


# depends_on: the minimized unsat cores of our proof at N=3, T=L=3 (union over actions). The
# endive proof notes (Z3.md) name a few: StateMachineSafety needs CommittedEntryIsOnQuorum (so
# here); LogMatching needs QuorumsSafeAtTerms and PrimaryTermGTELogTerm needs
# PrimaryHasOwnEntries and LogMatching there, where the actions and lemma forms differ slightly;
# Z3 finds other, equally valid supports here. Cores are not unique: --drop is the real test.
LEMMAS: tuple[LemmaInfo, ...] = (
    _info(OnePrimaryPerTerm, True, ("QuorumsSafeAtTerms",)),
    _info(QuorumsSafeAtTerms, False, ()),
    _info(LogEntryImpliesSafeAtTerm, False, ("QuorumsSafeAtTerms",)),
    _info(PrimaryTermGTELogTerm, False, ("LogEntryImpliesSafeAtTerm",)),
    _info(TermsMonotonic, False, ("PrimaryTermGTELogTerm",)),
    _info(PrimaryHasOwnEntries, False, ("OnePrimaryPerTerm", "LogEntryImpliesSafeAtTerm")),
    _info(UniformLogEntries, False, ("PrimaryHasOwnEntries", "LogMatching")),
    _info(LogMatching, True, ("PrimaryHasOwnEntries",)),
    _info(CommittedEntryIsOnQuorum, False, ("LaterLogsHaveEarlierCommitted",)),
    _info(LaterLogsHaveEarlierCommitted, False, ("LogEntryImpliesSafeAtTerm", "TermsMonotonic",
                                                 "LogMatching", "LeaderCompleteness")),
    _info(LeaderCompleteness, True, ("QuorumsSafeAtTerms", "TermsMonotonic",
                                     "UniformLogEntries", "CommittedEntryIsOnQuorum",
                                     "LaterLogsHaveEarlierCommitted")),
    _info(StateMachineSafety, True, ("CommittedEntryIsOnQuorum",)),
)

# What ``raftref prove --drop`` shows for the two lemmas whose removal leaves the rest inductive
# (measured at N=3 with T = L = 3 and T = L = 4; every other lemma's removal yields a CTI there;
# at T = L = 2 the bounds are too small for UniformLogEntries' CTI):
NOT_NEEDED_FOR_INDUCTION: dict[str, str] = {
    "StateMachineSafety": "implied by CommittedEntryIsOnQuorum alone: two committed entries at "
                          "one index are each on a quorum, and two quorums share a server, "
                          "whose log has one term at that index",
    "LogMatching": "not used by the others' induction and not implied by them (logs [1, 3] "
                   "and [2, 3] satisfy the rest); it is a Figure 3 property, proved inductive "
                   "relative to the rest",
}

BY_NAME: dict[str, LemmaInfo] = {info.name: info for info in LEMMAS}

# Figure 3's property names (spec/PROPERTIES.md) for the lemmas that are safety properties.
PROPERTY_NAMES: dict[str, str] = {
    "OnePrimaryPerTerm": "ElectionSafety",
    "LogMatching": "LogMatching",
    "LeaderCompleteness": "LeaderCompleteness",
    "StateMachineSafety": "StateMachineSafety",
}
SAFETY: tuple[str, ...] = tuple(info.name for info in LEMMAS if info.safety)


def lemma(name: str) -> LemmaInfo:
    """Look a lemma up by name, with an error that lists the valid names."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown lemma {name!r}; lemmas: {', '.join(BY_NAME)}") from None


def evaluate(view: Any, ops: Any, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Each lemma's value on one state (all lemmas by default)."""
    chosen = names if names is not None else tuple(BY_NAME)
    return {n: lemma(n).fn(view, ops) for n in chosen}
