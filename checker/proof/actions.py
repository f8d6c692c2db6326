"""The actions of atomic-step abstract Raft, and the mutants as changed actions.

Each action follows will62794/endive benchmarks/AbstractRaft.tla (Schultz, Dardik, Tripakis,
FMCAD 2022) and is documented with the rules of the paper's Figure 2 it abstracts. An action
instance fixes the servers it names; a quorum or an index it chooses is a fresh Z3 variable (a
*choice*), so one instance covers every quorum. ``instances`` returns, for one pre-state, a list
of :class:`Step`: a guard and the post-state as expressions of the pre-state.

A mutant (:mod:`checker.proof.mutants`) changes some actions or adds one; the names are the bug
zoo's (raftref/mutants.py), which this package does not import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from checker.proof.model import SymState, num
from checker.proof.mutants import AbstractMutant
from checker.proof.ops import SYMBOLIC

ACTIONS: tuple[str, ...] = ("ClientRequest", "GetEntries", "RollbackEntries", "BecomeLeader",
                            "CommitEntry", "UpdateTerms")


@dataclass
class Step:
    """One action instance on a pre-state: enabled when ``guard``; leads to ``post``."""

    action: str
    params: dict[str, int]
    guard: Any
    post: SymState
    choices: dict[str, Any] = field(default_factory=dict)


def _set_log(st: SymState, s: int, cells: list[Any], length: Any) -> SymState:
    logs = list(st.logs)
    logs[s] = cells
    lengths = list(st.lengths)
    lengths[s] = length
    return st.replace(logs=logs, lengths=lengths)


def _append(st: SymState, s: int, term: Any) -> SymState:
    n = st.lengths[s]
    cells = [z3.If(n == k - 1, term, c) for k, c in enumerate(st.logs[s], start=1)]
    return _set_log(st, s, cells, n + 1)


def _drop_last(st: SymState, s: int) -> SymState:
    n = st.lengths[s]
    cells = [z3.If(n == k, 0, c) for k, c in enumerate(st.logs[s], start=1)]
    return _set_log(st, s, cells, n - 1)


def _commit(st: SymState, index: Any, term: Any, in_term: Any) -> SymState:
    """Add (index, term) to the ghost committed set, committed while in term ``in_term``."""
    new = {(i, t): z3.And(index == i, term == t) for (i, t) in st.committed}
    committed = {k: z3.Or(c, new[k]) for k, c in st.committed.items()}
    cterms = None
    if st.cterms is not None:
        cterms = {k: z3.If(z3.And(new[k], z3.Not(st.committed[k])), in_term, ct)
                  for k, ct in st.cterms.items()}
    return st.replace(committed=committed, cterms=cterms)


def _quorum_choice(st: SymState, tag: str, size: int) -> tuple[list[Any], Any]:
    q = [z3.Bool(f"{tag}_q{n}") for n in st.servers]
    return q, SYMBOLIC.at_least(q, size)


# ----------------------------------------------------------------- the six actions


def client_request(st: SymState, i: int) -> Step:
    """Fig2 Leaders rule 2: a leader appends a client command, as an entry of its term."""
    guard = z3.And(st.leaders[i], st.lengths[i] < st.bounds.max_log)
    return Step("ClientRequest", {"i": i}, guard, _append(st, i, st.terms[i]))


def get_entries(st: SymState, i: int, j: int) -> Step:
    """Fig2 AppendEntries receiver rules 2 and 4, one entry at a time: non-leader i appends
    j's next entry when i's last entry matches j's log at that index (the consistency check of
    prevLogIndex/prevLogTerm). Terms are exchanged by UpdateTerms, not here (as in endive)."""
    n = st.lengths[i]
    guard = z3.And(z3.Not(st.leaders[i]), st.lengths[j] > n,
                   z3.Or(n == 0, st.entry_at(j, n) == st.entry_at(i, n)))
    return Step("GetEntries", {"i": i, "j": j}, guard, _append(st, i, st.entry_at(j, n + 1)))


def rollback_entries(st: SymState, i: int, j: int) -> Step:
    """Fig2 AppendEntries receiver rule 3, one entry at a time: non-leader i drops its last
    entry when j's last term is later and i's last entry conflicts with j's log."""
    n = st.lengths[i]
    guard = z3.And(z3.Not(st.leaders[i]), n > 0, st.last_term(i) < st.last_term(j),
                   z3.Or(n > st.lengths[j], st.last_term(i) != st.entry_at(j, n)))
    return Step("RollbackEntries", {"i": i, "j": j}, guard, _drop_last(st, i))


def become_leader(st: SymState, i: int, tag: str, m: AbstractMutant) -> Step:
    """Fig2 Candidates rules 1-2 and RequestVote receiver rules 1-2 in one step: i starts term
    currentTerm[i] + 1, a quorum Q containing i grants its votes (each voter's term is lower and
    i's log is at least as up-to-date, §5.4.1), the voters move to the new term and step down,
    and i leads. A voter moving to the new term is its vote: one vote per term."""
    new_term = st.terms[i] + 1
    q, big_enough = _quorum_choice(st, tag, m.quorum(st.bounds.nodes))
    oks = []
    for v in st.servers:
        fresh_term = st.terms[v] <= new_term if (m.double_vote and v != i) else \
            st.terms[v] < new_term
        log_ok = z3.Or(st.last_term(i) > st.last_term(v),
                       z3.And(st.last_term(i) == st.last_term(v),
                              st.lengths[i] >= st.lengths[v]))
        oks.append(z3.Implies(q[v], z3.And(fresh_term, log_ok) if m.vote_log_check
                              else fresh_term))
    guard = z3.And(new_term <= st.bounds.max_term, q[i], big_enough, *oks)
    terms = [z3.If(q[v], new_term, st.terms[v]) for v in st.servers]
    leaders = [z3.BoolVal(True) if v == i else z3.And(z3.Not(q[v]), st.leaders[v])
               for v in st.servers]
    return Step("BecomeLeader", {"i": i}, guard, st.replace(terms=terms, leaders=leaders),
                {"Q": q})


def commit_entry(st: SymState, i: int, tag: str, m: AbstractMutant) -> Step:
    """Fig2 Leaders rule 4 (§5.3, §5.4.2): leader i commits its last entry, which is of its
    current term, once a quorum holds it and is in i's term (they acknowledged it in that term).

    Under the figure8 mutant the leader may commit any index of its log whose entry, of any
    term, a quorum in its term holds: counting replicas of an earlier term's entry (Figure 8)."""
    q, big_enough = _quorum_choice(st, tag, m.quorum(st.bounds.nodes))
    choices: dict[str, Any] = {"Q": q}
    if m.commit_any_index:
        index: Any = num(f"{tag}_index")
        choices["index"] = index
        in_range = z3.And(index >= 1, index <= st.lengths[i])
        term = st.entry_at(i, index)
    else:
        index = st.lengths[i]
        in_range = z3.And(index >= 1, st.last_term(i) == st.terms[i])
        term = st.terms[i]
    holds = [z3.Implies(q[n], z3.And(st.lengths[n] >= index, st.entry_at(n, index) == term,
                                     st.terms[n] == st.terms[i])) for n in st.servers]
    guard = z3.And(st.leaders[i], in_range, big_enough, *holds,
                   z3.Not(st.is_committed(index, term)))
    return Step("CommitEntry", {"i": i}, guard, _commit(st, index, term, st.terms[i]), choices)


def update_terms(st: SymState, i: int, j: int) -> Step:
    """Fig2 All Servers rule 2: j learns i's higher term (from any RPC or reply), adopts it,
    and steps down."""
    guard = st.terms[i] > st.terms[j]
    terms = list(st.terms)
    terms[j] = st.terms[i]
    leaders = list(st.leaders)
    leaders[j] = z3.BoolVal(False)
    return Step("UpdateTerms", {"i": i, "j": j}, guard, st.replace(terms=terms, leaders=leaders))


# ----------------------------------------------------------------- mutant-only actions


def truncate_on_match(st: SymState, i: int, j: int) -> Step:
    """truncate-on-match: follower i, in leader j's term, drops its last entry although it
    matches j's log (a stale AppendEntries whose entries already match cuts the log)."""
    n = st.lengths[i]
    guard = z3.And(z3.Not(st.leaders[i]), st.leaders[j], st.terms[j] == st.terms[i], n > 0,
                   st.lengths[j] >= n, st.entry_at(j, n) == st.last_term(i))
    return Step("TruncateOnMatch", {"i": i, "j": j}, guard, _drop_last(st, i))


def learn_commit(st: SymState, i: int, j: int, tag: str) -> Step:
    """commit-past-new-entries: follower i takes leader j's commit index c (j's entry at c is
    committed) from an AppendEntries whose prefix matches i's log up to p, and commits index
    k <= min(c, its last index) instead of k <= min(c, p): it commits an entry of its own
    that j never sent (Fig2 AppendEntries receiver rule 5 without 'index of last new entry')."""
    k, c, p = (num(f"{tag}_{x}") for x in ("k", "c", "p"))
    guard = z3.And(z3.Not(st.leaders[i]), st.leaders[j], st.terms[j] >= st.terms[i],
                   p >= 0, p <= st.lengths[i], p <= st.lengths[j],
                   z3.Or(p == 0, st.entry_at(i, p) == st.entry_at(j, p)),
                   c >= k, c <= st.lengths[j], st.is_committed(c, st.entry_at(j, c)),
                   k >= 1, k <= st.lengths[i], z3.Not(st.is_committed(k, st.entry_at(i, k))))
    return Step("LearnCommit", {"i": i, "j": j}, guard,
                _commit(st, k, st.entry_at(i, k), st.terms[i]),
                {"k": k, "c": c, "p": p})


def forget_term(st: SymState, i: int, tag: str) -> Step:
    """unpersisted-vote: i crashes and restarts with the term (and vote) it last persisted
    with a log write, lower than its current term: it may vote again in a term it voted in."""
    t = num(f"{tag}_term")
    guard = z3.And(t >= st.last_term(i), t < st.terms[i])
    terms = list(st.terms)
    terms[i] = t
    leaders = list(st.leaders)
    leaders[i] = z3.BoolVal(False)
    return Step("ForgetTerm", {"i": i}, guard, st.replace(terms=terms, leaders=leaders),
                {"term": t})


# ----------------------------------------------------------------- all instances


def instances(st: SymState, tag: str, mutant: AbstractMutant,
              only: str | None = None, first: int | None = None) -> list[Step]:
    """Every action instance on ``st``; ``only`` keeps one action; ``first`` fixes the acting
    server (by the symmetry of servers, server 0 stands for all in the inductive proof)."""
    acting = [first] if first is not None else list(st.servers)
    others = list(st.servers)
    builders: list[tuple[str, Callable[[int, int], Step | None]]] = [
        ("ClientRequest", lambda i, j: client_request(st, i) if j == i else None),
        ("GetEntries", lambda i, j: get_entries(st, i, j) if j != i else None),
        ("RollbackEntries", lambda i, j: rollback_entries(st, i, j) if j != i else None),
        ("BecomeLeader", lambda i, j: become_leader(st, i, f"{tag}_bl{i}", mutant)
         if j == i else None),
        ("CommitEntry", lambda i, j: commit_entry(st, i, f"{tag}_ce{i}", mutant)
         if j == i else None),
        ("UpdateTerms", lambda i, j: update_terms(st, j, i) if j != i else None),
    ]
    if mutant.truncate_on_match:
        builders.append(("TruncateOnMatch",
                         lambda i, j: truncate_on_match(st, i, j) if j != i else None))
    if mutant.learn_commit:
        builders.append(("LearnCommit", lambda i, j: learn_commit(st, i, j, f"{tag}_lc{i}{j}")
                         if j != i else None))
    if mutant.forget_term:
        builders.append(("ForgetTerm", lambda i, j: forget_term(st, i, f"{tag}_ft{i}")
                         if j == i else None))
    steps = []
    for name, build in builders:
        if only is not None and name != only:
            continue
        for i in acting:
            for j in others:
                step = build(i, j)
                if step is not None:
                    steps.append(step)
    return steps


def action_names(mutant: AbstractMutant) -> tuple[str, ...]:
    extra = [name for flag, name in ((mutant.truncate_on_match, "TruncateOnMatch"),
                                     (mutant.learn_commit, "LearnCommit"),
                                     (mutant.forget_term, "ForgetTerm")) if flag]
    return ACTIONS + tuple(extra)
