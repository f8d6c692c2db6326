"""A tiny, self-contained raft-trace writer for the checker's tests (it never imports raftref).

:class:`TraceBuilder` plays a correct Raft run step by step (elections, replication, commits,
applies, crashes) and writes the events the reference node would write, with the state fields
after each event. Tests then corrupt the result, or call :meth:`TraceBuilder.event` with
overrides to write a faulty step. ``python -m tests.test_checker_gen`` rewrites the conformance
corpus in traces/conformance/ (see ``tests/test_checker_conformance.py`` for the specs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from checker import check_lines

NODES = ("n1", "n2", "n3")


@dataclass
class Node:
    name: str
    term: int = 0
    role: str = "follower"
    vote: str | None = None
    commit: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    applied: int = 0
    up: bool = False
    incarnation: int = 0


class TraceBuilder:
    """Writes a raft-trace one event at a time; ``lines`` holds the JSON lines (header first)."""

    def __init__(self, nodes: tuple[str, ...] = NODES, name: str = "conformance",
                 clock: str = "logical") -> None:
        self.header = {"type": "header", "format": "raft-trace", "version": 1,
                       "implementation": {"name": name, "version": "1"},
                       "nodes": list(nodes), "clock": clock}
        self.lines: list[str] = [orjson.dumps(self.header).decode()]
        self.nodes = {n: Node(n) for n in nodes}
        self.seq = 0
        self.msg_counter = 0
        self.sent: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ raw events

    def event(self, node: str, kind: str, **fields: Any) -> int:
        """Write one event with ``node``'s current state (``term``/``role``/``vote``/``commit``
        in ``fields`` override it and become its state); returns its line number."""
        n = self.nodes[node]
        for attr in ("term", "role", "vote", "commit"):
            if attr in fields:
                setattr(n, attr, fields.pop(attr))
        ev = {"type": "event", "seq": self.seq, "node": node, "kind": kind, "term": n.term,
              "role": n.role, "vote": n.vote, "commit": n.commit}
        ev.update(fields)
        self.seq += 1
        self.lines.append(orjson.dumps(ev).decode())
        return len(self.lines)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def check(self, **kwargs: Any) -> Any:
        return check_lines(self.lines, **kwargs)

    # ------------------------------------------------------------------ lifecycle

    def start(self, node: str, restart: bool = False) -> int:
        n = self.nodes[node]
        n.up, n.role, n.commit, n.applied = True, "follower", 0, 0
        return self.event(node, "start", log=list(n.log), restart=restart)

    def start_all(self) -> None:
        for node in self.nodes:
            self.start(node)

    def crash(self, node: str) -> int:
        n = self.nodes[node]
        line = self.event(node, "crash")
        n.up = False
        n.incarnation += 1
        return line

    def restart(self, node: str) -> int:
        return self.start(node, restart=True)

    # ------------------------------------------------------------------ messages

    def send(self, src: str, dst: str, mtype: str, **fields: Any) -> dict[str, Any]:
        n = self.nodes[src]
        self.msg_counter += 1
        msg = {"type": mtype, "id": f"{src}.{n.incarnation}.{self.msg_counter}", "from": src,
               "to": dst, "term": n.term}
        msg.update(fields)
        self.event(src, "send", msg=msg)
        self.sent[msg["id"]] = msg
        return msg

    def receive(self, msg: dict[str, Any]) -> int:
        """Receive ``msg`` and adopt its term if newer (Figure 2, All Servers rule 2)."""
        dst = msg["to"]
        line = self.event(dst, "receive", msg=msg)
        n = self.nodes[dst]
        if msg["term"] > n.term:
            self.event(dst, "term", term=msg["term"], vote=None)
            if n.role != "follower":
                self.event(dst, "role", role="follower", previous=n.role)
        return line

    # ------------------------------------------------------------------ elections

    def timeout(self, node: str) -> None:
        n = self.nodes[node]
        previous = n.role
        self.event(node, "timeout", term=n.term + 1, vote=node, role="candidate")
        if previous != "candidate":
            self.event(node, "role", previous=previous)

    def request_vote(self, cand: str, voter: str, grant: bool = True) -> None:
        c = self.nodes[cand]
        last_term = c.log[-1]["term"] if c.log else 0
        req = self.send(cand, voter, "RequestVote", last_log_index=len(c.log),
                        last_log_term=last_term)
        self.receive(req)
        if grant:
            self.event(voter, "vote", vote=cand, candidate=cand)
        reply = self.send(voter, cand, "RequestVoteResponse", reply_to=req["id"], granted=grant)
        self.receive(reply)

    def become_leader(self, node: str) -> int:
        """The role event; then the leader's no-op entry (thesis §6.4)."""
        n = self.nodes[node]
        line = self.event(node, "role", role="leader", previous=n.role)
        self.append(node, [{"term": n.term, "data": None}])
        return line

    def elect(self, leader: str, voters: tuple[str, ...]) -> int:
        """Timeout, win the votes of ``voters``, become leader; returns the role line."""
        self.timeout(leader)
        for v in voters:
            self.request_vote(leader, v)
        return self.become_leader(leader)

    # ------------------------------------------------------------------ log

    def append(self, node: str, entries: list[dict[str, Any]], index: int | None = None) -> int:
        n = self.nodes[node]
        at = len(n.log) + 1 if index is None else index
        line = self.event(node, "append", index=at, entries=entries)
        del n.log[at - 1:]
        n.log.extend(entries)
        return line

    def truncate(self, node: str, index: int) -> int:
        n = self.nodes[node]
        line = self.event(node, "truncate", index=index)
        del n.log[index - 1:]
        return line

    def propose(self, leader: str, data: Any) -> int:
        n = self.nodes[leader]
        self.event(leader, "propose", data=data, accepted=True, index=len(n.log) + 1)
        return self.append(leader, [{"term": n.term, "data": data}])

    def commit(self, node: str, index: int, apply: bool = True) -> int:
        line = self.event(node, "commit", index=index, commit=index)
        if apply:
            self.apply_up_to(node, index)
        return line

    def apply_up_to(self, node: str, index: int) -> None:
        n = self.nodes[node]
        while n.applied < index:
            n.applied += 1
            self.event(node, "apply", index=n.applied, entry=n.log[n.applied - 1])

    def replicate(self, leader: str, follower: str, prev: int | None = None) -> int:
        """One AppendEntries round trip carrying the leader's entries after ``prev`` (default:
        what the follower lacks); returns the line of the leader's receive of the reply."""
        ld, fl = self.nodes[leader], self.nodes[follower]
        if prev is None:
            prev = 0
            while (prev < min(len(ld.log), len(fl.log))
                   and ld.log[prev] == fl.log[prev]):
                prev += 1
        prev_term = ld.log[prev - 1]["term"] if prev else 0
        entries = ld.log[prev:]
        req = self.send(leader, follower, "AppendEntries", prev_log_index=prev,
                        prev_log_term=prev_term, entries=entries, leader_commit=ld.commit)
        self.receive(req)
        # Figure 2, AppendEntries receiver rules 3-5
        for k, entry in enumerate(entries):
            i = prev + 1 + k
            if i <= len(fl.log) and fl.log[i - 1]["term"] != entry["term"]:
                self.truncate(follower, i)
            if i > len(fl.log):
                self.append(follower, entries[k:])
                break
        last_new = prev + len(entries)
        if ld.commit > fl.commit and min(ld.commit, last_new) > fl.commit:
            self.commit(follower, min(ld.commit, last_new))
        reply = self.send(follower, leader, "AppendEntriesResponse", reply_to=req["id"],
                          success=True, match_index=last_new)
        return self.receive(reply)


def normal_run(builder: TraceBuilder | None = None, proposals: int = 2) -> TraceBuilder:
    """A correct 3-node run: n1 elected in term 1, replicates, commits and applies."""
    b = builder or TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2", "n3"))
    for k in range(proposals):
        b.propose("n1", {"op": "put", "key": f"k{k}", "value": k})
    b.replicate("n1", "n2")
    b.commit("n1", len(b.nodes["n1"].log))
    b.replicate("n1", "n3")
    b.replicate("n1", "n2")
    return b


def test_normal_run_holds() -> None:
    report = normal_run().check()
    assert report.ok, [v.to_text() for v in report.violations]
    assert report.result("StateMachineSafety").evaluated > 0
    assert report.result("CommitJustified").evaluated > 0


def test_normal_run_is_schema_valid() -> None:
    import jsonschema

    from checker.schema import load_schema

    validator = jsonschema.Draft202012Validator(load_schema())
    for line in normal_run().lines:
        validator.validate(orjson.loads(line))
