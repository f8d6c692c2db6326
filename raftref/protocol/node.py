"""The reference Raft node: a pure, single-threaded state machine (paper Figure 2).

Inputs are ``tick()``, ``receive(msg)``, ``propose(data)``, and construction from persisted state
(a start or a restart). Each input returns a :class:`~raftref.protocol.ready.Ready` batch
(compare etcd-io/raft's Ready): the state to persist, the messages to send *after* persisting,
the entries newly applied, and the trace events. The node performs no I/O, reads no clock and
owns no global randomness: the driver passes a seeded ``random.Random`` for election timeouts and
performs every effect.

The rules live by concern: elections in :mod:`raftref.protocol.elections`, replication and
commitment in :mod:`raftref.protocol.replication`; this module holds the node's state, its driver
interface and the state changes every rule goes through (append, truncate, commit, apply, send,
persist). Every rule is tagged with where the paper states it: "Fig2 <section> <rule>" for
Figure 2, "§x.y" for sections of the paper, "thesis §x.y" for Ongaro's thesis.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from raftref.protocol.elections import Elections
from raftref.protocol.kv import KVStore
from raftref.protocol.log import RaftLog
from raftref.protocol.messages import (
    AppendEntries,
    Entry,
    Message,
    NodeId,
    ReadIndex,
    ReadIndexResponse,
    RequestVote,
    RequestVoteResponse,
)
from raftref.protocol.reads import Reads, ReadState
from raftref.protocol.ready import ProposeResult, Ready
from raftref.protocol.replication import Replication
from raftref.protocol.roles import CANDIDATE, FOLLOWER, LEADER, Role
from raftref.protocol.sessions import Sessions
from raftref.protocol.storage import PersistentState, PersistWrite

__all__ = ["CANDIDATE", "FOLLOWER", "LEADER", "Node", "NodeConfig", "PersistWrite",
           "PersistentState", "ProposeResult", "Ready"]


@dataclass(frozen=True)
class NodeConfig:
    """Timing, in ticks (the driver decides what a tick is), and the batch size of AppendEntries."""

    election_timeout_min: int = 10
    election_timeout_max: int = 20
    heartbeat_interval: int = 2
    max_entries_per_message: int = 8
    # Thesis §6.4.1: answer reads under a leader lease (raftref/protocol/reads.py states the
    # clock assumption); off, every read takes a ReadIndex round of heartbeats.
    lease_reads: bool = False
    lease_drift_margin: int = 2  # ticks the lease stays short of the election timeout
    # Thesis §6.4: a follower offloads a read by asking its leader for a read index
    # (raftref/protocol/reads.py); off, it redirects the client to the leader, as for writes.
    forward_reads: bool = False
    # Thesis §6.3: a client session expires when its last command is this many log entries
    # behind the entry being applied (raftref/protocol/sessions.py).
    session_expiry_entries: int = 1000


class Node(Elections, Replication, Reads, Sessions):
    """One Raft server. Construct it with the cluster's ids and its persisted state."""

    def __init__(
        self,
        node_id: NodeId,
        cluster: list[NodeId] | tuple[NodeId, ...],
        rng: random.Random,
        persisted: PersistentState | None = None,
        config: NodeConfig | None = None,
        incarnation: int = 0,
    ) -> None:
        if node_id not in cluster:
            raise ValueError(f"node {node_id!r} is not in the cluster {list(cluster)}")
        self.id = node_id
        self.cluster = tuple(cluster)
        self.peers = tuple(n for n in cluster if n != node_id)
        self.config = config or NodeConfig()
        self._rng = rng
        self._incarnation = incarnation
        self._msg_counter = 0
        persisted = persisted or PersistentState()
        # Fig2 "Persistent state on all servers": restored exactly as persisted.
        self.current_term = persisted.current_term
        self.voted_for = persisted.voted_for
        self.log = RaftLog(persisted.log)
        # Fig2 "Volatile state on all servers": initialized to 0 on (re)start.
        self.commit_index = 0
        self.last_applied = 0
        self.role: Role = FOLLOWER
        self.leader_id: NodeId | None = None
        self.kv = KVStore()
        # Fig2 "Volatile state on leaders" (reinitialized after each election).
        self.next_index: dict[NodeId, int] = {}
        self.match_index: dict[NodeId, int] = {}
        # Candidate bookkeeping (§5.2).
        self.votes_granted: set[NodeId] = set()
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._election_timeout = self._random_timeout()
        self.reads = ReadState()
        self._ready = Ready()
        self._log_ops: list[tuple[Any, ...]] = []
        self._emit("start", log=[e.to_json() for e in self.log.entries()],
                   restart=incarnation > 0)

    # ------------------------------------------------------------------ driver interface

    def take_ready(self) -> Ready:
        """Hand the pending effects to the driver (the start event, after construction)."""
        return self._flush()

    def tick(self) -> Ready:
        """One unit of time passes."""
        self.reads.ticks += 1
        if self.role != LEADER:
            self.reads.since_leader += 1
        if self.role == LEADER:
            self._heartbeat_elapsed += 1
            if self._heartbeat_elapsed >= self.config.heartbeat_interval:
                # Fig2 Leaders rule 1: repeat heartbeats during idle periods (§5.2).
                self._heartbeat_elapsed = 0
                self._broadcast_append_entries()
        else:
            self._election_elapsed += 1
            if self._election_elapsed >= self._election_timeout:
                # Fig2 Followers rule 2 / Candidates rule 4: the election timeout elapsed without
                # hearing from a current leader or granting a vote: start an election.
                self._start_election()
        return self._flush()

    def propose(self, data: Any) -> Ready:
        """A client command arrives here (Fig2 Leaders rule 2; §8 for the redirect)."""
        if self.role != LEADER:
            result = ProposeResult(accepted=False, leader_hint=self.leader_id)
            self._emit("propose", data=data, accepted=False, leader=self.leader_id)
        else:
            # Fig2 Leaders rule 2: append the command to the local log.
            index = self.log.last_index + 1
            self._emit("propose", data=data, accepted=True, index=index)
            self._append_entries_to_log(index, (Entry(self.current_term, data),))
            result = ProposeResult(accepted=True, index=index)
            self._broadcast_append_entries()
            self._advance_leader_commit()
        ready = self._flush()
        ready.propose_result = result
        return ready

    def receive(self, msg: Message) -> Ready:
        """Handle one RPC request or response."""
        if isinstance(msg, RequestVote) and self.disregards_vote_request(msg):
            # Thesis §4.2.3 (leases only): the request is ignored, as if it had been lost.
            self._emit("drop", msg=msg.to_json(), reason="leader lease (thesis 4.2.3)")
            return self._flush()
        self._emit("receive", msg=msg.to_json())
        self.observe_term(msg)
        if isinstance(msg, RequestVote):
            self._handle_request_vote(msg)
        elif isinstance(msg, RequestVoteResponse):
            self._handle_request_vote_response(msg)
        elif isinstance(msg, AppendEntries):
            self._handle_append_entries(msg)
        elif isinstance(msg, ReadIndex):
            self._handle_read_index(msg)
        elif isinstance(msg, ReadIndexResponse):
            self._handle_read_index_response(msg)
        else:
            self._handle_append_entries_response(msg)
            self._note_append_acked(msg)
        return self._flush()

    def persistent_state(self) -> PersistentState:
        return PersistentState(self.current_term, self.voted_for, tuple(self.log.entries()))

    # ------------------------------------------------------------------ state changes

    def _append_entries_to_log(self, index: int, entries: tuple[Entry, ...]) -> None:
        self.log.append(entries)
        self._log_ops.append(("append", index, entries))
        self._emit("append", index=index, entries=[e.to_json() for e in entries])
        if self.last_applied < self.commit_index:
            self._apply_committed()

    def _truncate(self, index: int) -> None:
        self.log.truncate_from(index)
        self._log_ops.append(("truncate", index))
        self._emit("truncate", index=index)

    def _set_commit(self, index: int) -> None:
        self.commit_index = index
        self._emit("commit", index=index)
        self._apply_committed()

    def _apply_committed(self) -> None:
        # Fig2 All Servers rule 1: if commitIndex > lastApplied: increment lastApplied and apply
        # log[lastApplied] to the state machine. (A commitIndex past the end of the log is a
        # fault; entries are then applied only as they arrive.)
        while self.last_applied < min(self.commit_index, self.log.last_index):
            self.last_applied += 1
            entry = self.log.entry(self.last_applied)
            self._execute(self.last_applied, entry.data)
            self._ready.applied.append((self.last_applied, entry))
            self._emit("apply", index=self.last_applied, entry=entry.to_json())

    def _send(self, msg: Message) -> None:
        if isinstance(msg, AppendEntries):
            self._note_append_sent(msg)
        self._ready.messages.append(msg)
        self._emit("send", msg=msg.to_json())

    def _next_id(self) -> str:
        # Unique across restarts: the driver numbers incarnations.
        self._msg_counter += 1
        return f"{self.id}.{self._incarnation}.{self._msg_counter}"

    def _emit(self, kind: str, **fields: Any) -> None:
        event = {"node": self.id, "kind": kind, "term": self.current_term, "role": self.role,
                 "vote": self.voted_for, "commit": self.commit_index}
        event.update(fields)
        self._ready.events.append(event)

    # ------------------------------------------------------------------ persistence

    def term_and_vote_to_persist(self, log_ops: list[tuple[Any, ...]]) -> tuple[int, NodeId | None]:
        """Fig2 "Persistent state on all servers (updated on stable storage before responding
        to RPCs)": currentTerm and votedFor go to the disk with every batch, before its
        messages leave, whether or not the log changed."""
        return self.current_term, self.voted_for

    def _flush(self) -> Ready:
        """Collect the effects of one input."""
        self._advance_reads()
        ready = self._ready
        ready.reads, self.reads.results = self.reads.results, []
        self._ready = Ready()
        term, vote = self.term_and_vote_to_persist(self._log_ops)
        ready.persist = PersistWrite(term, vote, tuple(self._log_ops))
        self._log_ops = []
        return ready
