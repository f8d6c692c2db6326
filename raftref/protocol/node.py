"""The reference Raft node: a pure, single-threaded state machine (paper Figure 2).

Inputs are ``tick()``, ``receive(msg)``, ``propose(data)``, and construction from persisted state
(a start or a restart). Each input returns a :class:`Ready` batch (compare etcd-io/raft's Ready):
the state to persist, the messages to send *after* persisting, the entries newly applied, and the
trace events. The node performs no I/O, reads no clock and owns no global randomness: the driver
passes a seeded ``random.Random`` for election timeouts and performs every effect.

Every rule is tagged with where the paper states it: "Fig2 <section> <rule>" for Figure 2,
"§x.y" for sections of the paper, "thesis §x.y" for Ongaro's thesis.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from raftref.protocol.kv import KVStore
from raftref.protocol.log import RaftLog
from raftref.protocol.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    Message,
    NodeId,
    RequestVote,
    RequestVoteResponse,
)

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"


@dataclass(frozen=True)
class NodeConfig:
    """Timing, in ticks (the driver decides what a tick is)."""

    election_timeout_min: int = 10
    election_timeout_max: int = 20
    heartbeat_interval: int = 2
    max_entries_per_message: int = 8


@dataclass(frozen=True)
class PersistentState:
    """Fig2 "Persistent state on all servers": currentTerm, votedFor, log[]."""

    current_term: int = 0
    voted_for: NodeId | None = None
    log: tuple[Entry, ...] = ()


@dataclass(frozen=True)
class PersistWrite:
    """What must reach stable storage before this batch's messages leave (Fig2: "updated on
    stable storage before responding to RPCs"): currentTerm, votedFor, and the log changes in
    order, each ``("truncate", index)`` or ``("append", index, entries)``."""

    current_term: int
    voted_for: NodeId | None
    log_ops: tuple[tuple[Any, ...], ...] = ()

    def apply_to(self, state: PersistentState) -> PersistentState:
        """The persisted state after this write."""
        log = list(state.log)
        for op in self.log_ops:
            if op[0] == "truncate":
                del log[op[1] - 1 :]
            else:
                assert op[1] == len(log) + 1, "appends are contiguous"
                log.extend(op[2])
        return PersistentState(self.current_term, self.voted_for, tuple(log))


@dataclass(frozen=True)
class ProposeResult:
    """The answer to a client proposal: where it went, or who to ask instead (§8, redirect)."""

    accepted: bool
    index: int | None = None
    leader_hint: NodeId | None = None


@dataclass
class Ready:
    """Effects of one input, for the driver to perform in this order: persist, send, apply."""

    persist: PersistWrite | None = None
    messages: list[Message] = field(default_factory=list)
    applied: list[tuple[int, Entry]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    propose_result: ProposeResult | None = None


class Node:
    """One Raft server. Construct it with the cluster's ids and its persisted state."""

    def __init__(
        self,
        node_id: NodeId,
        cluster: list[NodeId] | tuple[NodeId, ...],
        rng: random.Random,
        persisted: PersistentState | None = None,
        config: NodeConfig | None = None,
        mutants: frozenset[str] = frozenset(),
        incarnation: int = 0,
    ) -> None:
        if node_id not in cluster:
            raise ValueError(f"node {node_id!r} is not in the cluster {list(cluster)}")
        self.id = node_id
        self.cluster = tuple(cluster)
        self.peers = tuple(n for n in cluster if n != node_id)
        self.config = config or NodeConfig()
        self.mutants = mutants
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
        self.role = FOLLOWER
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
        # What the driver last persisted: a mutant may let these differ (unpersisted-vote).
        self._durable_term_vote = (self.current_term, self.voted_for)
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
        self._emit("receive", msg=msg.to_json())
        # Fig2 All Servers rule 2: a request or response with term T > currentTerm: set
        # currentTerm = T and convert to follower.
        if msg.term > self.current_term:
            is_reply = isinstance(msg, RequestVoteResponse | AppendEntriesResponse)
            if not (is_reply and "ignore-higher-term-reply" in self.mutants):
                self._become_follower(msg.term, leader=None)
        if isinstance(msg, RequestVote):
            self._handle_request_vote(msg)
        elif isinstance(msg, RequestVoteResponse):
            self._handle_request_vote_response(msg)
        elif isinstance(msg, AppendEntries):
            self._handle_append_entries(msg)
        else:
            self._handle_append_entries_response(msg)
        return self._flush()

    def persistent_state(self) -> PersistentState:
        return PersistentState(self.current_term, self.voted_for, tuple(self.log.entries()))

    # ------------------------------------------------------------------ elections (§5.2)

    def _random_timeout(self) -> int:
        # §5.2: randomized election timeouts make split votes rare; the driver seeds the rng.
        return self._rng.randint(self.config.election_timeout_min, self.config.election_timeout_max)

    def _reset_election_timer(self) -> None:
        self._election_elapsed = 0
        self._election_timeout = self._random_timeout()

    def _quorum(self) -> int:
        n = len(self.cluster)
        if "minority-quorum" in self.mutants:
            return n // 2  # the bug: one short of a majority
        return n // 2 + 1

    def _start_election(self) -> None:
        # Fig2 Candidates rule 1: on conversion to candidate, increment currentTerm, vote for
        # self, reset the election timer, send RequestVote RPCs to all other servers.
        self.current_term += 1
        self.voted_for = self.id
        previous = self.role
        self.role = CANDIDATE
        self.leader_id = None
        self._emit("timeout")
        if previous != CANDIDATE:
            self._emit("role", previous=previous)
        self.votes_granted = {self.id}
        self._reset_election_timer()
        for peer in self.peers:
            self._send(RequestVote(self._next_id(), self.id, peer, self.current_term,
                                   self.log.last_index, self.log.last_term))
        self._maybe_win_election()

    def _handle_request_vote(self, msg: RequestVote) -> None:
        # Fig2 RequestVote receiver rule 1: reply false if term < currentTerm.
        granted = False
        if msg.term >= self.current_term:
            # Fig2 RequestVote receiver rule 2: grant if votedFor is null or candidateId, and the
            # candidate's log is at least as up-to-date as receiver's log (§5.2, §5.4.1).
            free = self.voted_for in (None, msg.src) or "double-vote" in self.mutants
            up_to_date = (self.log.is_up_to_date(msg.last_log_index, msg.last_log_term)
                          or "vote-no-log-check" in self.mutants)
            if free and up_to_date:
                granted = True
                self.voted_for = msg.src
                self._emit("vote", candidate=msg.src)
                # Fig2 Followers rule 2: granting a vote resets the election timer.
                self._reset_election_timer()
        self._send(RequestVoteResponse(self._next_id(), self.id, msg.src, self.current_term,
                                       msg.id, granted))

    def _handle_request_vote_response(self, msg: RequestVoteResponse) -> None:
        # Only a vote for this node's current candidacy counts (§5.2).
        if self.role != CANDIDATE or msg.term != self.current_term or not msg.granted:
            return
        self.votes_granted.add(msg.src)
        self._maybe_win_election()

    def _maybe_win_election(self) -> None:
        # Fig2 Candidates rule 2: if votes received from a majority of servers: become leader.
        if self.role == CANDIDATE and len(self.votes_granted) >= self._quorum():
            self._become_leader()

    def _become_leader(self) -> None:
        self.role = LEADER
        self.leader_id = self.id
        self._emit("role", previous=CANDIDATE)
        # Fig2 "Volatile state on leaders": nextIndex = leader last log index + 1, matchIndex = 0.
        self.next_index = {p: self.log.last_index + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self._heartbeat_elapsed = 0
        # §8 / thesis §6.4: a leader commits a no-op entry at the start of its term, so it learns
        # which entries are committed and can commit earlier-term entries through it (Figure 8).
        index = self.log.last_index + 1
        self._append_entries_to_log(index, (Entry(self.current_term, None),))
        # Fig2 Leaders rule 1: upon election, send AppendEntries to each server.
        self._broadcast_append_entries()
        self._advance_leader_commit()

    def _become_follower(self, term: int, leader: NodeId | None) -> None:
        """Step down, adopting ``term`` if it is newer (Fig2 All Servers rule 2)."""
        if term > self.current_term:
            self.current_term = term
            self.voted_for = None
            self._emit("term")
        if self.role != FOLLOWER:
            previous = self.role
            self.role = FOLLOWER
            self._emit("role", previous=previous)
            self._reset_election_timer()
        self.leader_id = leader

    # ------------------------------------------------------------------ replication (§5.3)

    def _handle_append_entries(self, msg: AppendEntries) -> None:
        # Fig2 AppendEntries receiver rule 1: reply false if term < currentTerm.
        if msg.term < self.current_term:
            self._reply_append(msg, success=False)
            return
        if self.role == CANDIDATE and "candidate-ignores-leader" in self.mutants:
            self._reply_append(msg, success=False)
            return
        # Fig2 Candidates rule 3: AppendEntries from the new leader (of this term): become
        # follower. Fig2 Followers rule 2: it is a current leader, so reset the election timer.
        self._become_follower(msg.term, leader=msg.src)
        self._reset_election_timer()
        # Fig2 AppendEntries receiver rule 2: reply false if the log has no entry at
        # prevLogIndex whose term matches prevLogTerm.
        if self.log.term_at(msg.prev_log_index) != msg.prev_log_term:
            self._reply_append(msg, success=False)
            return
        if "truncate-on-match" in self.mutants:
            # The bug: replace everything after prevLogIndex, even entries that already match
            # (a stale or reordered AppendEntries then cuts entries the leader counted).
            if self.log.last_index > msg.prev_log_index:
                self._truncate(msg.prev_log_index + 1)
        new_entries: list[Entry] = []
        for offset, entry in enumerate(msg.entries):
            i = msg.prev_log_index + 1 + offset
            existing = self.log.term_at(i)
            if existing is None:
                new_entries = list(msg.entries[offset:])
                break
            if existing != entry.term:
                # Fig2 AppendEntries receiver rule 3: an existing entry conflicts with a new one
                # (same index, different terms): delete it and all that follow it. Entries that
                # match are kept, so a stale AppendEntries never cuts the log.
                self._truncate(i)
                new_entries = list(msg.entries[offset:])
                break
        if new_entries:
            # Fig2 AppendEntries receiver rule 4: append any new entries not already in the log.
            self._append_entries_to_log(self.log.last_index + 1, tuple(new_entries))
        index = msg.prev_log_index + len(msg.entries)  # index of last new entry
        # Fig2 AppendEntries receiver rule 5: if leaderCommit > commitIndex, set
        # commitIndex = min(leaderCommit, index of last new entry).
        if msg.leader_commit > self.commit_index:
            if "commit-past-new-entries" in self.mutants:
                target = msg.leader_commit  # the bug: no min, may pass the log's end
            else:
                target = min(msg.leader_commit, index)
            if target > self.commit_index:
                self._set_commit(target)
        self._reply_append(msg, success=True, match_index=index)

    def _reply_append(self, msg: AppendEntries, success: bool, match_index: int = 0) -> None:
        if success:
            reply = AppendEntriesResponse(self._next_id(), self.id, msg.src, self.current_term,
                                          msg.id, True, match_index)
        else:
            # Thesis §5.3: tell the leader the conflicting term and its first index, so it can
            # skip back a whole term instead of one entry per round trip.
            conflict_term = self.log.term_at(msg.prev_log_index)
            if conflict_term is None:
                conflict_index = self.log.last_index + 1
            elif msg.prev_log_index == 0:
                conflict_term, conflict_index = None, 1
            else:
                conflict_index = self.log.first_index_of_term(conflict_term, msg.prev_log_index)
            reply = AppendEntriesResponse(self._next_id(), self.id, msg.src, self.current_term,
                                          msg.id, False, self.log.last_index,
                                          conflict_term, conflict_index)
        self._send(reply)

    def _handle_append_entries_response(self, msg: AppendEntriesResponse) -> None:
        if self.role != LEADER:
            return
        stale = msg.term != self.current_term
        if stale and not (msg.success and "stale-reply-match" in self.mutants):
            return  # a reply to an RPC of an earlier term says nothing about this term's log
        peer = msg.src
        if msg.success:
            # Fig2 Leaders rule 3.1: if successful, update nextIndex and matchIndex.
            if msg.match_index > self.match_index[peer]:
                self.match_index[peer] = msg.match_index
            # Capped at the log's end: only a stale reply (stale-reply-match) can claim more than
            # this leader's log holds, and nextIndex past it has no prevLogTerm to send.
            self.next_index[peer] = min(max(self.next_index[peer], self.match_index[peer] + 1),
                                        self.log.last_index + 1)
            self._advance_leader_commit()
            if self.next_index[peer] <= self.log.last_index:
                self._send_append_entries(peer)
            return
        # Fig2 Leaders rule 3.2: if AppendEntries fails because of log inconsistency: decrement
        # nextIndex and retry; thesis §5.3: use the conflict hint to skip a term at a time.
        if msg.conflict_term is not None:
            last = self.log.last_index_of_term(msg.conflict_term)
            new_next = last + 1 if last is not None else msg.conflict_index
        else:
            new_next = msg.conflict_index
        new_next = max(1, self.match_index[peer] + 1, min(new_next, self.log.last_index + 1))
        if new_next < self.next_index[peer]:
            self.next_index[peer] = new_next
            self._send_append_entries(peer)

    def _advance_leader_commit(self) -> None:
        # Fig2 Leaders rule 4: if there exists N > commitIndex such that a majority of
        # matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N (§5.3, §5.4.2).
        # Counting replicas of an entry of an earlier term is unsafe (Figure 8).
        for n in range(self.log.last_index, self.commit_index, -1):
            if self.log.term_at(n) != self.current_term and "figure8" not in self.mutants:
                break  # terms only decrease further down the log
            replicas = 1 + sum(1 for p in self.peers if self.match_index[p] >= n)
            if replicas >= self._quorum():
                self._set_commit(n)
                break

    def _broadcast_append_entries(self) -> None:
        for peer in self.peers:
            self._send_append_entries(peer)

    def _send_append_entries(self, peer: NodeId) -> None:
        # Fig2 Leaders rule 3: send entries from nextIndex (empty: a heartbeat).
        next_i = self.next_index[peer]
        prev = next_i - 1
        prev_term = self.log.term_at(prev)
        assert prev_term is not None, "nextIndex is kept within the leader's log"
        entries = self.log.slice(next_i, self.config.max_entries_per_message)
        self._send(AppendEntries(self._next_id(), self.id, peer, self.current_term, prev,
                                 prev_term, entries, self.commit_index))

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
        # log[lastApplied] to the state machine. (Only a mutant's commitIndex can pass the end
        # of the log; its entries are then applied as they arrive.)
        while self.last_applied < min(self.commit_index, self.log.last_index):
            self.last_applied += 1
            entry = self.log.entry(self.last_applied)
            self.kv.apply(entry.data)
            self._ready.applied.append((self.last_applied, entry))
            self._emit("apply", index=self.last_applied, entry=entry.to_json())

    def _send(self, msg: Message) -> None:
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

    def _flush(self) -> Ready:
        """Collect the effects of one input."""
        ready = self._ready
        self._ready = Ready()
        if self._log_ops or "unpersisted-vote" not in self.mutants:
            # The correct node persists currentTerm and votedFor with every batch, before its
            # messages leave. Under unpersisted-vote they reach the disk only with a log write.
            self._durable_term_vote = (self.current_term, self.voted_for)
        term, vote = self._durable_term_vote
        ready.persist = PersistWrite(term, vote, tuple(self._log_ops))
        self._log_ops = []
        return ready
