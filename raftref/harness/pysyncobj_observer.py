"""Observing PySyncObj nodes: their state after every step, and their messages, as raft-trace
events (spec/trace.schema.json).

State is read, never written, from a ``SyncObj``: ``raftCurrentTerm``, ``raftCommitIndex`` and
``raftLastApplied`` (public), and the name-mangled ``_SyncObj__votedForNodeId``,
``_SyncObj__raftState`` and ``_SyncObj__raftLog`` (PySyncObj has no public accessor for them).

Messages. PySyncObj's Raft messages map onto the contract's as follows:

- ``request_vote`` {term, last_log_index, last_log_term} -> RequestVote.
- ``response_vote`` {term} -> RequestVoteResponse with ``granted: true``: PySyncObj answers
  only to grant; a refusal is silence.
- ``append_entries`` {term, commit_index, entries, prevLogIdx, prevLogTerm} -> AppendEntries;
  entries are (command, index, term) and become {term, data}: data is null for PySyncObj's
  no-op entries (the one at index 1 every node starts with, and a new leader's), else the
  decoded call {"call": method id, "args": [...]}.
- ``next_node_idx`` {next_node_idx, success, reset} -> AppendEntriesResponse with
  ``match_index`` = next_node_idx - 1. It carries **no term**: the response's term is the
  sender's currentTerm when it sent it (what a Figure 2 response would carry).
- Not Raft RPCs, so not in the trace (they still cross the simulated network):
  ``apply_command``/``apply_command_response`` (a follower forwarding a client command to the
  leader), ``timeout_now`` (leadership transfer, unused here). ``append_entries`` that install a
  snapshot (``serialized``) or split a large entry (``transmission``) have no contract
  counterpart either; the harness disables log compaction and sends small commands, so they do
  not occur (if one did, it would be written with a ``note``).

A response names, in ``reply_to``, the request its sender was handling when it sent it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pysyncobj import pickle as pso_pickle

from raftref.trace import TraceWriter

ROLES = {0: "follower", 1: "candidate", 2: "leader"}
NO_OP, REGULAR = 1, 0
RESPONSES = {"response_vote", "next_node_idx"}
REPLIES = {"RequestVote": "RequestVoteResponse", "AppendEntries": "AppendEntriesResponse"}


def entry_json(entry: tuple[bytes, int, int]) -> dict[str, Any]:
    """A PySyncObj log entry (command, index, term) as a contract entry."""
    command, _, term = entry
    kind = command[0] if command else None
    if kind == NO_OP:
        return {"term": term, "data": None}
    data: Any = command.hex()
    if kind == REGULAR:
        try:
            call = pso_pickle.loads(command[1:])
            if isinstance(call, tuple) and len(call) >= 2:
                data = {"call": call[0], "args": list(call[1])}
        except Exception:  # noqa: BLE001 - undecodable commands stay as hex
            pass
    return {"term": term, "data": data}


@dataclass
class View:
    """What the observer last wrote for one node."""

    term: int = 0
    vote: str | None = None
    role: str = "follower"
    commit: int = 0
    applied: int = 0
    log: list[tuple[bytes, int, int]] = field(default_factory=list)


def read_state(obj: Any) -> View:
    """A node's current state (read only)."""
    vote = obj._SyncObj__votedForNodeId
    return View(term=obj.raftCurrentTerm, vote=None if vote is None else str(vote),
                role=ROLES[obj._SyncObj__raftState], commit=obj.raftCommitIndex,
                applied=obj.raftLastApplied, log=list(obj._SyncObj__raftLog[:]))


class Observer:
    """Writes each node's state changes and messages to a trace."""

    def __init__(self, trace: TraceWriter) -> None:
        self.trace = trace
        self.views: dict[str, View] = {}
        self.events = 0
        self.leaders: dict[int, list[str]] = {}
        # node -> (sender, request id, contract type of the reply it expects)
        self.handling: dict[str, tuple[str, str, str]] = {}

    def _write(self, node: str, kind: str, view: View, **fields: Any) -> None:
        self.trace.write({"node": node, "kind": kind, "term": view.term, "role": view.role,
                          "vote": view.vote, "commit": view.commit, **fields})
        self.events += 1

    def started(self, node: str, obj: Any, restart: bool) -> None:
        view = read_state(obj)
        self._write(node, "start", view, log=[entry_json(e) for e in view.log], restart=restart)
        old_applied, view.applied = view.applied, 0
        self.views[node] = view
        self.handling.pop(node, None)
        self._apply(node, view, old_applied)

    def crashed(self, node: str) -> None:
        self.trace.write_driver_event(node, "crash")
        self.events += 1

    def observe(self, node: str, obj: Any) -> None:
        """Write what changed at ``node`` since it was last observed (Figure 2 order: term and
        vote, role, log, commit, applied entries)."""
        old = self.views[node]
        new = read_state(obj)
        view = View(old.term, old.vote, old.role, old.commit, old.applied, old.log)
        if new.role == "candidate" and new.term > old.term:
            view.term, view.vote, view.role = new.term, new.vote, new.role
            self._write(node, "timeout", view)
        if new.term != view.term:
            view.term, view.vote = new.term, new.vote
            self._write(node, "term", view)
        if new.vote != view.vote:
            view.vote = new.vote
            if new.vote is not None:
                self._write(node, "vote", view, candidate=new.vote)
        if new.role != view.role:
            previous, view.role = view.role, new.role
            self._write(node, "role", view, previous=previous)
            if new.role == "leader":
                self.leaders.setdefault(view.term, []).append(node)
        if new.log != view.log:
            self._log(node, view, new.log)
        if new.commit > view.commit:
            view.commit = new.commit
            self._write(node, "commit", view, index=new.commit)
        else:
            view.commit = new.commit  # a lower commit shows in the node's next event's state
        self.views[node] = view
        self._apply(node, view, new.applied)

    def _log(self, node: str, view: View, log: list[tuple[bytes, int, int]]) -> None:
        old = view.log
        first = 0
        limit = min(len(old), len(log))
        while first < limit and old[first] == log[first]:
            first += 1
        if first < len(old):
            self._write(node, "truncate", view, index=first + 1)
        view.log = log
        if first < len(log):
            self._write(node, "append", view, index=first + 1,
                        entries=[entry_json(e) for e in log[first:]])

    def _apply(self, node: str, view: View, applied: int) -> None:
        while view.applied < applied:
            view.applied += 1
            self._write(node, "apply", view, index=view.applied,
                        entry=entry_json(view.log[view.applied - 1]))

    # ------------------------------------------------------------------ messages

    def message(self, src: str, dst: str, message: dict[str, Any], msg_id: str,
                term: int) -> dict[str, Any] | None:
        """The contract message for a PySyncObj message ``src`` sends, or None when it has no
        counterpart. ``term`` is the sender's current term (for responses, which carry none)."""
        mtype = message.get("type")
        out: dict[str, Any] = {"id": msg_id, "from": src, "to": dst}
        if mtype == "request_vote":
            out.update(type="RequestVote", term=message["term"],
                       last_log_index=message["last_log_index"],
                       last_log_term=message["last_log_term"])
        elif mtype == "response_vote":
            out.update(type="RequestVoteResponse", term=message["term"], granted=True)
        elif mtype == "append_entries":
            if "prevLogIdx" not in message or "transmission" in message:
                return None
            out.update(type="AppendEntries", term=message["term"],
                       prev_log_index=message["prevLogIdx"], prev_log_term=message["prevLogTerm"],
                       entries=[entry_json(e) for e in message.get("entries", [])],
                       leader_commit=message["commit_index"])
        elif mtype == "next_node_idx":
            out.update(type="AppendEntriesResponse", term=term, success=message["success"],
                       match_index=max(0, message["next_node_idx"] - 1))
        else:
            return None
        if mtype in RESPONSES:
            handling = self.handling.get(src)
            if handling is not None and handling[0] == dst and handling[2] == out["type"]:
                out["reply_to"] = handling[1]
        return out

    def sent(self, src: str, msg: dict[str, Any]) -> None:
        self._write(src, "send", self.views[src], msg=msg)

    def received(self, dst: str, msg: dict[str, Any]) -> None:
        reply = REPLIES.get(msg["type"])
        if reply is not None:
            self.handling[dst] = (msg["from"], msg["id"], reply)
        self._write(dst, "receive", self.views[dst], msg=msg)

    def dropped(self, dst: str, msg: dict[str, Any], reason: str) -> None:
        self.trace.write_driver_event(dst, "drop", msg=msg, reason=reason)
        self.events += 1
