"""etcd-io/raft trace -> raft-trace: ``raftref adapt etcd IN.ndjson[.gz] -o OUT.jsonl``.

etcd records each node's state (term, vote, commit, role, log length, configuration) at every
traced step, and the messages it sends and receives, but not the entries' terms. The adapter
replays the trace in its (single, logical) order and rebuilds what the contract needs:

- **State.** Before each etcd event of a node, what changed since that node's previous event
  becomes contract events, in this order: ``term``, ``vote``, ``role``, log changes, ``commit``,
  ``config``. etcd traces some steps before it updates its state (a vote is granted by a send,
  and ``vote`` shows it at the node's next event), so a change appears at the next event that
  shows it, never earlier.
- **Logs.** A leader's new entries are of its term (it only appends in its own term). Their
  data says what etcd's trace says about them: ``{"etcd": "normal"}`` for each ``Replicate``,
  ``{"etcd": "conf", "changes": ...}`` for each ``ChangeConf``; the bootstrap entries a node
  starts with (before any message) are taken as etcd's bootstrap configuration entries of the
  node's term. A follower's log follows the AppendEntries it received: the entries are those
  of the sender's log at send time (``index``+1 .. ``index``+``entries``), applied with Figure
  2's receiver rules 1-4 (stale terms, ``index`` below the commit index and a mismatch at
  ``index`` change nothing). The rebuilt length is checked against etcd's ``log``.
- **Messages** get ids ``<from>.<n>``; a receive is matched to the oldest unreceived send with
  the same etcd fields; a response names the request being handled in ``reply_to``. Messages a
  node sends itself (etcd's self-vote and self-append acknowledgements) are local, not
  messages, and are left out. ``MsgHeartbeat`` (commit = min(match, committed), no index)
  becomes an AppendEntries with ``prev_log_index`` = that commit, ``prev_log_term`` the
  sender's term there and no entries, so Figure 2's receiver rules 2 and 5 judge it;
  ``MsgHeartbeatResp`` becomes a successful AppendEntriesResponse with ``match_index`` = the
  heartbeat's commit (the follower holds that entry, or etcd's commitTo would have panicked).
  A rejected ``MsgAppResp`` reports etcd's ``rejectHint`` as ``match_index``.

Whatever cannot be inferred is a warning: it is written in the affected event's ``note`` field
(prefixed ``adapter warning:``) and returned in :attr:`Translation.warnings`, which the CLI
prints on stderr as ``warning: FILE:LINE: message``. Nothing is filled in silently.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from checker.adapters.etcd_input import AdaptError, EtcdEvent, file_lines, node_ids, read_events

__all__ = ["AdaptError", "Translation", "translate", "translate_file"]

REQUEST_REPLY = {"MsgApp": "MsgAppResp", "MsgHeartbeat": "MsgHeartbeatResp",
                 "MsgVote": "MsgVoteResp"}
CONTRACT_TYPE = {"MsgApp": "AppendEntries", "MsgHeartbeat": "AppendEntries",
                 "MsgAppResp": "AppendEntriesResponse",
                 "MsgHeartbeatResp": "AppendEntriesResponse", "MsgVote": "RequestVote",
                 "MsgVoteResp": "RequestVoteResponse"}
UNKNOWN = {"etcd": "unknown"}


@dataclass
class Translation:
    """The translated trace and what the translation could not infer."""

    lines: list[bytes] = field(default_factory=list)
    events_in: int = 0
    warnings: list[tuple[int, str]] = field(default_factory=list)

    @property
    def events_out(self) -> int:
        return len(self.lines) - 1


@dataclass
class _Node:
    name: str
    started: bool = False
    term: int = 0
    vote: str | None = None
    role: str = "follower"
    commit: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    conf: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    received_any: bool = False
    pending_append: dict[str, Any] | None = None  # an AppendEntries received, not yet applied
    # The request being handled: (sender, etcd reply type, request id, its prev_log_index).
    handling: tuple[str, str, str, int] | None = None
    markers: deque[dict[str, Any]] = field(default_factory=deque)  # data of entries to come


class _Translator:
    def __init__(self, events: list[EtcdEvent], source: str) -> None:
        self.events = events
        self.out = Translation(events_in=len(events))
        ids = node_ids(events)
        self.nodes = {n: _Node(n) for n in ids}
        self.seq = 0
        self.sent_count: dict[str, int] = {}
        self.in_flight: dict[tuple[Any, ...], deque[dict[str, Any]]] = {}
        self.delivered: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.notes: list[str] = []
        header = {"type": "header", "format": "raft-trace", "version": 1,
                  "implementation": {"name": "etcd-io/raft", "version": "state_trace"},
                  "nodes": ids, "clock": "logical",
                  "options": {"adapter": "raftref adapt etcd", "source": source}}
        self.out.lines.append(orjson.dumps(header))
        self.line = 0

    # ------------------------------------------------------------------ output

    def warn(self, message: str) -> None:
        self.out.warnings.append((self.line, message))
        self.notes.append(message)

    def emit(self, n: _Node, kind: str, **fields: Any) -> None:
        ev: dict[str, Any] = {"type": "event", "seq": self.seq, "node": n.name, "kind": kind,
                              "term": n.term, "role": n.role, "vote": n.vote,
                              "commit": n.commit}
        ev.update(fields)
        if self.notes:
            ev["note"] = "; ".join(f"adapter warning: {m} (etcd line {self.line})"
                                   for m in self.notes)
            self.notes = []
        self.out.lines.append(orjson.dumps(ev))
        self.seq += 1

    # ------------------------------------------------------------------ the replay

    def run(self) -> Translation:
        for ev in self.events:
            self.line = ev.line
            n = self.nodes[ev.nid]
            if ev.name == "InitState":
                self.init_state(n, ev)
                continue
            if not n.started:
                self.warn(f"{n.name}'s first event is {ev.name}, not InitState: started here "
                          "with an empty log")
                self.start(n, ev, restart=False)
            self.catch_up(n, ev)
            self.step(n, ev)
        return self.out

    def start(self, n: _Node, ev: EtcdEvent, restart: bool) -> None:
        n.term, n.vote, n.role = ev.term, ev.vote, "follower"
        n.commit = min(ev.commit, len(n.log))
        n.pending_append, n.handling = None, None
        self.emit(n, "start", log=list(n.log), restart=restart)
        n.started = True

    def init_state(self, n: _Node, ev: EtcdEvent) -> None:
        if n.started:
            self.emit(n, "crash")
            if ev.log != len(n.log):
                self.warn(f"{n.name} restarts with {ev.log} entries, but held {len(n.log)}: "
                          "the restart shows the log it had")
        elif ev.log:
            self.warn(f"{n.name} starts with {ev.log} entries whose terms the trace does not "
                      "give; they are left out")
        self.start(n, ev, restart=n.started)
        self.catch_up(n, ev)

    def catch_up(self, n: _Node, ev: EtcdEvent) -> None:
        """Contract events for what changed at ``n`` since its previous etcd event."""
        if ev.name == "BecomeCandidate" and ev.term > n.term:
            n.term, n.vote, n.role = ev.term, ev.vote, ev.role
            self.emit(n, "timeout")
        if ev.term != n.term:
            n.term, n.vote = ev.term, ev.vote
            self.emit(n, "term")
        if ev.vote != n.vote:
            n.vote = ev.vote
            if ev.vote is not None:
                self.emit(n, "vote", candidate=ev.vote)
            else:
                self.warn(f"{n.name}'s vote was withdrawn within term {n.term}")
                self.emit(n, "term")
        if ev.role != n.role:
            previous, n.role = n.role, ev.role
            self.emit(n, "role", previous=previous)
        self.sync_log(n, ev)
        if ev.commit != n.commit:
            if ev.commit > len(n.log):
                self.warn(f"{n.name}'s commit index {ev.commit} is beyond its rebuilt log "
                          f"({len(n.log)} entries)")
            if ev.commit > n.commit:
                n.commit = ev.commit
                self.emit(n, "commit", index=ev.commit)
            else:
                self.warn(f"{n.name}'s commit index went down from {n.commit} to {ev.commit}")
                n.commit = ev.commit
        if ev.conf != n.conf:
            n.conf = ev.conf
            voters, outgoing = ev.conf
            if voters:
                fields: dict[str, Any] = {"voters": list(voters)}
                if outgoing:
                    fields["outgoing"] = list(outgoing)
                self.emit(n, "config", **fields)

    def sync_log(self, n: _Node, ev: EtcdEvent) -> None:
        """Rebuild ``n``'s log up to etcd's ``log`` (its last index) and write the changes."""
        old = n.log
        new = list(old)
        if n.pending_append is not None:
            new = self.receive_append(n, new, n.pending_append)
            n.pending_append = None
        if ev.log > len(new):
            count = ev.log - len(new)
            if n.role == "leader":
                new += [{"term": n.term, "data": self.marker(n)} for _ in range(count)]
            elif not n.received_any:
                # etcd's Bootstrap: configuration entries written before any message.
                new += [{"term": n.term, "data": {"etcd": "bootstrap conf"}}
                        for _ in range(count)]
            else:
                self.warn(f"{n.name}'s log grew to {ev.log} entries with no AppendEntries to "
                          "explain it; the new entries' terms are unknown (taken as its "
                          f"term {n.term})")
                new += [{"term": n.term, "data": UNKNOWN} for _ in range(count)]
        elif ev.log < len(new):
            self.warn(f"{n.name}'s log is {ev.log} entries long, the rebuilt one "
                      f"{len(new)}: cut to etcd's length")
            del new[ev.log:]
        first = next((i for i in range(min(len(old), len(new))) if old[i] != new[i]),
                     min(len(old), len(new)))
        if first < len(old):
            self.emit(n, "truncate", index=first + 1)
        n.log = new
        if first < len(new):
            self.emit(n, "append", index=first + 1, entries=new[first:])

    def marker(self, n: _Node) -> dict[str, Any]:
        if n.markers:
            return n.markers.popleft()
        self.warn(f"{n.name}, leader, appended an entry that no Replicate or ChangeConf event "
                  "announced: its data is unknown")
        return UNKNOWN

    def receive_append(self, n: _Node, log: list[dict[str, Any]],
                       msg: dict[str, Any]) -> list[dict[str, Any]]:
        """Figure 2, AppendEntries receiver rules 1-4 as etcd applies them (raft.go
        handleAppendEntries, raftLog.maybeAppend)."""
        if msg["term"] < n.term or msg["prev_log_index"] < n.commit:
            return log
        prev = msg["prev_log_index"]
        if prev > len(log) or (prev and log[prev - 1]["term"] != msg["prev_log_term"]):
            return log
        for k, entry in enumerate(msg["entries"]):
            i = prev + k
            if i >= len(log) or log[i]["term"] != entry["term"]:
                return log[:i] + msg["entries"][k:]
        return log

    # ------------------------------------------------------------------ per event

    def step(self, n: _Node, ev: EtcdEvent) -> None:
        if ev.name == "Replicate":
            n.markers.append({"etcd": "normal"})
        elif ev.name == "ChangeConf":
            cc = ev.prop.get("cc") or {}
            n.markers.append({"etcd": "conf", "changes": cc.get("changes", [])})
        elif ev.name.startswith("Send") and ev.msg is not None:
            self.send(n, ev.msg)
        elif ev.name.startswith("Receive") and ev.msg is not None:
            self.receive(n, ev.msg)

    def send(self, n: _Node, m: dict[str, Any]) -> None:
        if m["from"] == m["to"]:
            return  # a node's message to itself is local state, not a message
        mtype = m["type"]
        if mtype not in CONTRACT_TYPE:
            self.warn(f"{mtype} has no counterpart in the contract; left out")
            return
        count = self.sent_count.get(n.name, 0) + 1
        self.sent_count[n.name] = count
        msg: dict[str, Any] = {"type": CONTRACT_TYPE[mtype], "id": f"{n.name}.{count}",
                               "from": m["from"], "to": m["to"], "term": m["term"]}
        if mtype == "MsgApp":
            prev, size = m["index"], m["entries"]
            if prev + size > len(n.log):
                self.warn(f"MsgApp carries entries {prev + 1}..{prev + size} but the sender's "
                          f"rebuilt log holds {len(n.log)}")
            held = n.log[prev:prev + size]
            entries = held + [dict(term=m["term"], data=UNKNOWN)] * (size - len(held))
            at_prev = n.log[prev - 1]["term"] if 0 < prev <= len(n.log) else 0
            if prev and at_prev != m["logTerm"]:
                self.warn(f"MsgApp says logTerm {m['logTerm']} at index {prev}, the sender's "
                          f"rebuilt log has term {at_prev}")
            msg.update(prev_log_index=prev, prev_log_term=m["logTerm"], entries=entries,
                       leader_commit=m["commit"])
        elif mtype == "MsgHeartbeat":
            at = m["commit"]
            term = n.log[at - 1]["term"] if 0 < at <= len(n.log) else 0
            msg.update(prev_log_index=at, prev_log_term=term, entries=[], leader_commit=at)
        elif mtype == "MsgVote":
            msg.update(last_log_index=m["index"], last_log_term=m["logTerm"])
        elif mtype == "MsgVoteResp":
            msg["granted"] = not m["reject"]
        else:  # MsgAppResp, MsgHeartbeatResp
            msg["success"] = not m["reject"]
            msg["match_index"] = m["rejectHint"] if m["reject"] else m["index"]
        handling = n.handling
        if handling is not None and handling[:2] == (m["to"], mtype):
            msg["reply_to"] = handling[2]
            if mtype == "MsgHeartbeatResp":
                msg["match_index"] = handling[3]
            n.handling = None
        elif mtype == "MsgHeartbeatResp":
            self.warn("a MsgHeartbeatResp answers no heartbeat being handled: match_index 0")
            msg["match_index"] = 0
        self.in_flight.setdefault(_key(m), deque()).append(msg)
        self.emit(n, "send", msg=msg)

    def receive(self, n: _Node, m: dict[str, Any]) -> None:
        if m["from"] == m["to"] or m["type"] not in CONTRACT_TYPE:
            return
        key = _key(m)
        queue = self.in_flight.get(key)
        if queue:
            msg = queue.popleft()
            self.delivered[key] = msg
        elif key in self.delivered:
            msg = self.delivered[key]  # a duplicate delivery of the same message
        else:
            self.warn(f"received {m['type']} from {m['from']} that the trace never shows sent; "
                      "left out")
            return
        n.received_any = True
        reply = REQUEST_REPLY.get(m["type"])
        n.handling = (m["from"], reply, msg["id"], msg.get("prev_log_index", 0)) if reply else None
        if msg["type"] == "AppendEntries":
            n.pending_append = msg
        self.emit(n, "receive", msg=msg)


def _key(m: dict[str, Any]) -> tuple[Any, ...]:
    return (m["type"], m["from"], m["to"], m["term"], m["entries"], m["logTerm"], m["index"],
            m["commit"], m["reject"], m["rejectHint"])


def translate(lines: Iterable[bytes], name: str = "<etcd>") -> Translation:
    """Translate an etcd-io/raft trace (its lines) into raft-trace lines; AdaptError on input
    that is not an etcd trace."""
    events = list(read_events(lines, name))
    return _Translator(events, Path(name).name).run()


def translate_file(src: str | Path, out: IO[bytes]) -> Translation:
    """Translate the file at ``src`` (plain or gzip) and write the raft-trace to ``out``."""
    try:
        result = translate(file_lines(src), str(src))
    except OSError as exc:
        raise AdaptError(str(src), 0, None, f"cannot read: {exc.strerror or exc}") from None
    for line in result.lines:
        out.write(line + b"\n")
    return result
