"""Raft's RPCs as frozen data (paper Figure 2, "RequestVote RPC" and "AppendEntries RPC"), and
the ReadIndex exchange by which a follower offloads reads (thesis §6.4).

Field names follow the paper, in snake_case, and the trace contract (spec/trace.schema.json):
``to_json`` gives exactly the ``msg`` object of a ``send``/``receive``/``drop`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NodeId = str


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: the term in which a leader created it, and its command (None: no-op)."""

    term: int
    data: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"term": self.term, "data": self.data}

    @staticmethod
    def from_json(obj: dict[str, Any]) -> Entry:
        return Entry(term=obj["term"], data=obj.get("data"))


@dataclass(frozen=True, slots=True)
class RequestVote:
    """Invoked by candidates to gather votes (Figure 2, RequestVote RPC, arguments)."""

    id: str
    src: NodeId
    dst: NodeId
    term: int
    last_log_index: int
    last_log_term: int

    def to_json(self) -> dict[str, Any]:
        return {"type": "RequestVote", "id": self.id, "from": self.src, "to": self.dst,
                "term": self.term, "last_log_index": self.last_log_index,
                "last_log_term": self.last_log_term}


@dataclass(frozen=True, slots=True)
class RequestVoteResponse:
    """Figure 2, RequestVote RPC, results: the voter's term and whether it granted its vote."""

    id: str
    src: NodeId
    dst: NodeId
    term: int
    reply_to: str
    granted: bool

    def to_json(self) -> dict[str, Any]:
        return {"type": "RequestVoteResponse", "id": self.id, "from": self.src, "to": self.dst,
                "term": self.term, "reply_to": self.reply_to, "granted": self.granted}


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """Invoked by leaders to replicate entries and as heartbeat (Figure 2, AppendEntries RPC)."""

    id: str
    src: NodeId
    dst: NodeId
    term: int
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int

    def to_json(self) -> dict[str, Any]:
        return {"type": "AppendEntries", "id": self.id, "from": self.src, "to": self.dst,
                "term": self.term, "prev_log_index": self.prev_log_index,
                "prev_log_term": self.prev_log_term,
                "entries": [e.to_json() for e in self.entries],
                "leader_commit": self.leader_commit}


@dataclass(frozen=True, slots=True)
class AppendEntriesResponse:
    """Figure 2, AppendEntries RPC, results, plus the hints of thesis section 5.3.

    ``match_index``: on success the index of the last entry now known to match the leader's log
    (prev_log_index + len(entries)); on failure the follower's last log index.
    ``conflict_term``/``conflict_index``: on failure, the term of the follower's entry at
    prev_log_index (None when it has no entry there) and the first index it holds with that term
    (or its last index + 1), so the leader can skip a whole term per round trip.
    """

    id: str
    src: NodeId
    dst: NodeId
    term: int
    reply_to: str
    success: bool
    match_index: int
    conflict_term: int | None = None
    conflict_index: int = 0

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"type": "AppendEntriesResponse", "id": self.id, "from": self.src,
                               "to": self.dst, "term": self.term, "reply_to": self.reply_to,
                               "success": self.success, "match_index": self.match_index}
        if not self.success:
            obj["conflict_term"] = self.conflict_term
            obj["conflict_index"] = self.conflict_index
        return obj


@dataclass(frozen=True, slots=True)
class ReadIndex:
    """Thesis §6.4, "followers can offload reads": a follower asks the leader it knows for a
    read index (not an RPC of Figure 2; raftref/protocol/reads.py). Only with
    ``NodeConfig.forward_reads``."""

    id: str
    src: NodeId
    dst: NodeId
    term: int

    def to_json(self) -> dict[str, Any]:
        return {"type": "ReadIndex", "id": self.id, "from": self.src, "to": self.dst,
                "term": self.term}


@dataclass(frozen=True, slots=True)
class ReadIndexResponse:
    """The leader's answer to a ReadIndex: on success, ``read_index``, its commit index when
    the request arrived, recorded once it had committed an entry of its term and confirmed by
    a majority's acknowledgements of a later heartbeat round; else a refusal and its
    ``reason`` ("not-leader", "not-ready" or "deposed")."""

    id: str
    src: NodeId
    dst: NodeId
    term: int
    reply_to: str
    success: bool
    read_index: int = 0
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"type": "ReadIndexResponse", "id": self.id, "from": self.src,
                               "to": self.dst, "term": self.term, "reply_to": self.reply_to,
                               "success": self.success}
        if self.success:
            obj["read_index"] = self.read_index
        else:
            obj["reason"] = self.reason
        return obj


Message = (RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse
           | ReadIndex | ReadIndexResponse)


def is_reply(msg: Message) -> bool:
    """Whether ``msg`` is the response to a request rather than a request."""
    return isinstance(msg, RequestVoteResponse | AppendEntriesResponse | ReadIndexResponse)


def message_from_json(obj: dict[str, Any]) -> Message:
    """The inverse of ``to_json``: a message as it travels between processes (raftref.net).
    Raises KeyError, TypeError or ValueError on an object that is not a message."""
    kind = obj["type"]
    common = (str(obj["id"]), str(obj["from"]), str(obj["to"]), int(obj["term"]))
    if kind == "RequestVote":
        return RequestVote(*common, int(obj["last_log_index"]), int(obj["last_log_term"]))
    if kind == "RequestVoteResponse":
        return RequestVoteResponse(*common, str(obj["reply_to"]), bool(obj["granted"]))
    if kind == "AppendEntries":
        return AppendEntries(*common, int(obj["prev_log_index"]), int(obj["prev_log_term"]),
                             tuple(Entry.from_json(e) for e in obj["entries"]),
                             int(obj["leader_commit"]))
    if kind == "AppendEntriesResponse":
        return AppendEntriesResponse(*common, str(obj["reply_to"]), bool(obj["success"]),
                                     int(obj["match_index"]), obj.get("conflict_term"),
                                     int(obj.get("conflict_index", 0)))
    if kind == "ReadIndex":
        return ReadIndex(*common)
    if kind == "ReadIndexResponse":
        success = bool(obj["success"])
        return ReadIndexResponse(*common, str(obj["reply_to"]), success,
                                 int(obj["read_index"]) if success else 0,
                                 None if success else str(obj["reason"]))
    raise ValueError(f"unknown message type {kind!r}")
