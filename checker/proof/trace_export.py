"""A BMC path written as a raft-trace (spec/trace.schema.json), for the trace checker to judge.

Each abstract action becomes the events a node would write for it (names as in
spec/PROPERTIES.md; compare raftref's node, which this package does not import):

- BecomeLeader(i, Q): i ``timeout`` (new term, candidate, votes for itself); each other voter
  ``term`` (if its term was lower, stepping down with a ``role`` event if it led) then ``vote``;
  then i's ``role`` (leader).
- ClientRequest(i): ``propose`` (accepted) and ``append`` of one entry.
- GetEntries(i, j): ``append`` of j's next entry; RollbackEntries / TruncateOnMatch: ``truncate``.
- CommitEntry(i) / LearnCommit(i, j): ``commit`` to the index, then ``apply`` of each newly
  committed entry (so StateMachineSafety has something to compare).
- UpdateTerms(i, j): j's ``term`` (and ``role`` if it led). ForgetTerm(i): ``crash`` then a
  ``start`` with restart true and the lower term.

Entry data is ``"i<index>t<term>"``, so equal (index, term) pairs carry equal data, as they do in
the abstract model. After each step the node states the exporter tracks are compared with the
path's abstract state; a mismatch is a bug here, raised as AssertionError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from checker.proof.bmc import BmcResult, PathStep
from checker.proof.model import RaftState


def node_name(s: int) -> str:
    return f"n{s + 1}"


@dataclass
class _Node:
    name: str
    term: int = 0
    role: str = "follower"
    vote: str | None = None
    commit: int = 0
    applied: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)


class _Writer:
    def __init__(self, nodes: int) -> None:
        self.nodes = [_Node(node_name(s)) for s in range(nodes)]
        self.events: list[dict[str, Any]] = []

    def emit(self, s: int, kind: str, **extra: Any) -> None:
        n = self.nodes[s]
        event = {"type": "event", "seq": len(self.events), "node": n.name, "kind": kind,
                 "term": n.term, "role": n.role, "vote": n.vote, "commit": n.commit}
        event.update(extra)
        self.events.append(event)

    def set_role(self, s: int, role: str) -> None:
        n = self.nodes[s]
        if n.role != role:
            previous, n.role = n.role, role
            self.emit(s, "role", previous=previous)

    def adopt_term(self, s: int, term: int) -> None:
        """Fig2 All Servers rule 2: a higher term, no vote yet, step down."""
        n = self.nodes[s]
        if term > n.term:
            n.term, n.vote = term, None
            self.emit(s, "term")
        self.set_role(s, "follower")

    def append(self, s: int, entry: dict[str, Any]) -> None:
        n = self.nodes[s]
        n.log.append(entry)
        self.emit(s, "append", index=len(n.log), entries=[entry])

    def truncate(self, s: int) -> None:
        n = self.nodes[s]
        index = len(n.log)
        del n.log[index - 1:]
        self.emit(s, "truncate", index=index)

    def commit(self, s: int, index: int) -> None:
        n = self.nodes[s]
        if index <= n.commit:
            return  # a commit index never moves back; the abstract ghost set has it already
        n.commit = index
        self.emit(s, "commit", index=index)
        while n.applied < n.commit:
            n.applied += 1
            self.emit(s, "apply", index=n.applied, entry=n.log[n.applied - 1])


def _entry(index: int, term: int) -> dict[str, Any]:
    return {"term": term, "data": f"i{index}t{term}"}


def _step(w: _Writer, step: PathStep, before: RaftState) -> None:
    after, p, a = step.state, step.params, step.action
    if a == "BecomeLeader":
        i, term = p["i"], after.terms[p["i"]]
        voters = [int(x[1:]) for x in step.choices["Q"]]
        cand = w.nodes[i]
        cand.term, cand.vote = term, cand.name
        cand.role, previous = "candidate", cand.role
        w.emit(i, "timeout")
        if previous != "candidate":
            w.emit(i, "role", previous=previous)
        for v in voters:
            if v != i:
                w.adopt_term(v, term)
                w.nodes[v].vote = cand.name
                w.emit(v, "vote", candidate=cand.name)
        w.set_role(i, "leader")
    elif a == "ClientRequest":
        i = p["i"]
        index = len(w.nodes[i].log) + 1
        entry = _entry(index, w.nodes[i].term)
        w.emit(i, "propose", data=entry["data"], accepted=True, index=index)
        w.append(i, entry)
    elif a == "GetEntries":
        i, j = p["i"], p["j"]
        w.append(i, w.nodes[j].log[len(w.nodes[i].log)])
    elif a in ("RollbackEntries", "TruncateOnMatch"):
        w.truncate(p["i"])
    elif a == "CommitEntry":
        i = p["i"]
        w.commit(i, step.choices.get("index", len(w.nodes[i].log)))
    elif a == "LearnCommit":
        w.commit(p["i"], step.choices["k"])
    elif a == "UpdateTerms":
        w.adopt_term(p["j"], after.terms[p["j"]])
    elif a == "ForgetTerm":
        i = p["i"]
        n = w.nodes[i]
        w.emit(i, "crash")
        n.term, n.vote, n.role, n.commit, n.applied = after.terms[i], None, "follower", 0, 0
        w.emit(i, "start", log=list(n.log), restart=True)
    else:
        raise ValueError(f"no trace events for action {a!r}")
    for s, n in enumerate(w.nodes):
        got = (n.term, n.role == "leader", tuple(e["term"] for e in n.log))
        want = (after.terms[s], after.leader[s], after.logs[s])
        assert got == want, f"after {a} node {n.name}: trace has {got}, model has {want}"


def export_events(result: BmcResult) -> list[dict[str, Any]]:
    """The header and events of a raft-trace for ``result``'s path."""
    nodes = result.bounds.nodes
    w = _Writer(nodes)
    for s in range(nodes):
        w.emit(s, "start", log=[], restart=False)
    for before, step in zip(result.path, result.path[1:], strict=False):
        _step(w, step, before.state)
    head = {"type": "header", "format": "raft-trace", "version": 1,
            "implementation": {"name": "raftref-prove-bmc", "version": "1"},
            "nodes": [node_name(s) for s in range(nodes)], "clock": "logical",
            "options": {"mutant": result.mutant, "bounds": vars(result.bounds), "k": result.k,
                        "violated": result.trace_properties()}}
    return [head, *w.events]


def export_lines(result: BmcResult) -> list[bytes]:
    """The trace as JSON Lines (without newlines)."""
    return [orjson.dumps(obj) for obj in export_events(result)]


def write_trace(result: BmcResult, path: str | Path) -> Path:
    """Write the trace to ``path`` and return it."""
    out = Path(path)
    out.write_bytes(b"".join(line + b"\n" for line in export_lines(result)))
    return out
