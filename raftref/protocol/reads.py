"""Linearizable reads without writing to the log: ReadIndex (thesis §6.4) and, only when a
node's configuration asks for it, leader leases (thesis §6.4.1).

The driver interface (a method of :class:`~raftref.protocol.node.Node`)::

    ready = node.read(request_id, key)   # request_id: any hashable the driver chooses
    for result in ready.reads:           # in this Ready or in a later one (tick, receive, ...)
        result.request_id, result.ok, result.value, result.index, result.leader_hint

A :class:`ReadResult` is either an answer (``ok``: ``value`` is the state machine's value of
``key`` once it has applied at least the read index; ``index`` is the last applied index the
value reflects) or a refusal (``ok`` False, with ``reason`` and the node's ``leader_hint``):
``"not-leader"`` (a follower or candidate: ask the hinted leader, as for writes) or
``"deposed"`` (the node stopped leading, or changed term, before the read was confirmed). A
refused read never touched the state machine: the client may retry it anywhere. A read whose
node crashes gets no answer at all; the driver's timeout decides.

ReadIndex, rule by rule (each a small named method below):

1. :meth:`Reads.read_index_ready`: the leader has committed an entry of its own term (the no-op
   of :meth:`~raftref.protocol.elections.Elections._become_leader`); until then it does not
   know the latest commit index and the read waits. Then the read index is the commit index.
2. :meth:`Reads.leadership_confirmed`: a majority (the leader included) acknowledged, in the
   leader's term, an AppendEntries the leader sent *after* it recorded the read index. The
   round is counted in messages, never in time: recording the read index broadcasts
   AppendEntries, and the leader remembers which of its AppendEntries were sent after it.
3. :meth:`Reads.read_applied`: the state machine has applied the read index; the answer is
   read from it.

A follower does not answer reads: :meth:`Reads.follower_read_index` is where thesis §6.4's
"followers can offload reads" (the follower asks the leader for a read index, then waits for
its own state machine) will go once the trace contract has messages for it; until then it
returns None and the follower refuses with a redirect to the leader it knows, as writes do.

Leases (thesis §6.4.1), only with ``NodeConfig.lease_reads``: a leader whose AppendEntries,
sent at its tick T, were acknowledged by a majority may answer reads without a round of its
own until tick ``T + lease_ticks`` (:meth:`Reads.lease_is_valid`), where ``lease_ticks`` is the
election timeout's minimum minus ``lease_drift_margin``. **The clock assumption**: every node's
ticks run at the same rate within the margin over one election timeout (the margin also
absorbs that a tick may fall just before or just after a message's arrival). It is safe only
together with :meth:`Reads.disregards_vote_request` (thesis §4.2.3): a node that has heard
from a leader within the minimum election timeout, or that (re)started less than one ago,
ignores RequestVote, so no other leader can be elected before T plus that timeout, measured on
the followers that acknowledged. If ticks drift more than the margin (a paused process, a slow
clock), lease reads can return stale values; ReadIndex never depends on time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raftref.protocol.messages import AppendEntries, AppendEntriesResponse, NodeId, RequestVote
from raftref.protocol.roles import LEADER

if TYPE_CHECKING:
    from raftref.protocol.node import Node

# How many AppendEntries a leader remembers (id -> when it was sent) to match acknowledgements
# with rounds; older ones are forgotten, which only delays a confirmation.
SENT_MEMORY = 4096


@dataclass(frozen=True)
class ReadResult:
    """The answer to ``read(request_id, key)``: a value, or a refusal and a leader hint."""

    request_id: Any
    key: str
    ok: bool
    value: Any = None
    index: int | None = None  # the last applied index the value reflects
    leader_hint: NodeId | None = None
    reason: str | None = None  # on refusal: "not-leader" or "deposed"


@dataclass
class PendingRead:
    """A read a leader has accepted and not yet answered."""

    request_id: Any
    key: str
    term: int  # the leader's term when the read arrived
    after: int  # the leader's message counter when it arrived: later AppendEntries confirm it
    read_index: int | None = None
    confirmed: bool = False


@dataclass
class ReadState:
    """A node's volatile bookkeeping for reads (lost on restart, like all volatile state)."""

    pending: list[PendingRead] = field(default_factory=list)
    results: list[ReadResult] = field(default_factory=list)
    # Leader side: id of each AppendEntries sent -> (peer, message counter, tick when sent);
    # per peer, the latest counter and send tick it acknowledged in this term.
    sent: dict[str, tuple[NodeId, int, int]] = field(default_factory=dict)
    acked_counter: dict[NodeId, int] = field(default_factory=dict)
    acked_tick: dict[NodeId, int] = field(default_factory=dict)
    lease_until: int | None = None  # tick before which a lease read may be answered
    ticks: int = 0  # ticks since this node (re)started
    since_leader: int = 0  # ticks since it last heard from a leader (or started)


class Reads:
    """The read rules of a node: ReadIndex, leases, and the vote rule leases depend on."""

    # ------------------------------------------------------------------ driver interface

    def read(self: Node, request_id: Any, key: str) -> Any:
        """A client's linearizable read of ``key`` arrives here (thesis §6.4). Returns a Ready
        whose ``reads`` may hold the answer; otherwise a later Ready will."""
        state = self.reads
        if self.role != LEADER:
            index = self.follower_read_index()
            if index is None:
                state.results.append(ReadResult(request_id, key, False,
                                                leader_hint=self.leader_id, reason="not-leader"))
            else:
                state.pending.append(PendingRead(request_id, key, self.current_term,
                                                 self._msg_counter, index, confirmed=True))
        else:
            pending = PendingRead(request_id, key, self.current_term, self._msg_counter)
            state.pending.append(pending)
            if self.config.lease_reads and self.read_index_ready() and self.lease_is_valid():
                # Thesis §6.4.1: within the lease no other leader can exist; no round needed.
                pending.read_index, pending.confirmed = self.commit_index, True
            elif self.read_index_ready():
                self._start_read_round(pending)
            # else: _advance_reads starts the round once the leader's no-op has committed.
        return self._flush()

    # ------------------------------------------------------------------ the rules

    def read_index_ready(self: Node) -> bool:
        """Thesis §6.4 step 1: the leader's commit index is the read index only once it has
        committed an entry of its current term (its no-op, §8): before that it may not know
        which entries earlier leaders committed."""
        return self.log.term_at(self.commit_index) == self.current_term

    def leadership_confirmed(self: Node, read: PendingRead) -> bool:
        """Thesis §6.4 step 2: the leader is still the leader when a majority, itself included,
        acknowledged in its term an AppendEntries it sent after the read arrived (a deposed
        leader could otherwise answer from a state a newer leader has overwritten)."""
        acks = 1 + sum(1 for p in self.peers if self.reads.acked_counter.get(p, 0) > read.after)
        return acks >= self.quorum_size()

    def read_applied(self: Node, read: PendingRead) -> bool:
        """Thesis §6.4 step 3: answer once the state machine has applied the read index, so
        the value reflects every write committed before the read arrived."""
        return read.read_index is not None and self.last_applied >= read.read_index

    def follower_read_index(self: Node) -> int | None:
        """Thesis §6.4, "followers can offload reads": a follower gets a read index from the
        leader. That exchange needs messages the trace contract does not have yet, so a
        follower has none and refuses the read with a redirect to its leader."""
        return None

    def lease_is_valid(self: Node) -> bool:
        """Thesis §6.4.1: a lease read is answered only before the lease's bound: the tick at
        which the leader sent AppendEntries a majority acknowledged, plus the election
        timeout's minimum minus the drift margin (see the module's clock assumption)."""
        lease = self.reads.lease_until
        return lease is not None and self.reads.ticks < lease

    def disregards_vote_request(self: Node, msg: RequestVote) -> bool:
        """Thesis §4.2.3, which leases (§6.4.1) need: with lease reads on, a server that heard
        from a current leader less than the minimum election timeout ago, or (re)started less
        than that ago (it may have acknowledged a lease before crashing), neither updates its
        term nor grants its vote. A leader itself answers as usual: stepping down ends its
        lease reads."""
        return (self.config.lease_reads and self.role != LEADER
                and self.reads.since_leader < self.config.election_timeout_min)

    # ------------------------------------------------------------------ bookkeeping

    def _lease_ticks(self: Node) -> int:
        return self.config.election_timeout_min - self.config.lease_drift_margin

    def _reset_reads_for_new_term(self: Node) -> None:
        """A new leader starts with no acknowledgements and no lease."""
        state = self.reads
        state.sent.clear()
        state.acked_counter.clear()
        state.acked_tick.clear()
        state.lease_until = None

    def _note_append_sent(self: Node, msg: AppendEntries) -> None:
        sent = self.reads.sent
        sent[msg.id] = (msg.dst, self._msg_counter, self.reads.ticks)
        if len(sent) > SENT_MEMORY:
            del sent[next(iter(sent))]

    def _note_append_acked(self: Node, msg: AppendEntriesResponse) -> None:
        """Any answer in the leader's term, success or not, says the peer recognised this
        leader in this term when it answered."""
        state = self.reads
        if self.role != LEADER or msg.term != self.current_term:
            return
        sent = state.sent.pop(msg.reply_to, None)
        if sent is None or sent[0] != msg.src:
            return
        peer, counter, tick = sent
        if counter > state.acked_counter.get(peer, 0):
            state.acked_counter[peer] = counter
            state.acked_tick[peer] = tick
        if self.config.lease_reads:
            # The lease runs from the send tick the majority's slowest acknowledgement covers.
            ticks = sorted([state.ticks, *(state.acked_tick.get(p, -1) for p in self.peers)],
                           reverse=True)
            start = ticks[self.quorum_size() - 1]
            if start >= 0:
                until = start + self._lease_ticks()
                if state.lease_until is None or until > state.lease_until:
                    state.lease_until = until

    def _start_read_round(self: Node, read: PendingRead) -> None:
        """Thesis §6.4 steps 1 and 2: record the commit index as the read index, then send a
        round of AppendEntries that only acknowledgements of later sends can confirm."""
        read.read_index = self.commit_index
        read.after = self._msg_counter
        if self.peers:
            self._broadcast_append_entries()

    def _advance_reads(self: Node) -> None:
        """Move every pending read as far as the rules allow; called after every input."""
        state = self.reads
        if not state.pending:
            return
        waiting: list[PendingRead] = []
        for read in state.pending:
            if read.term != self.current_term or (read.confirmed is False
                                                  and self.role != LEADER):
                state.results.append(ReadResult(read.request_id, read.key, False,
                                                leader_hint=self.leader_id, reason="deposed"))
                continue
            if read.read_index is None and self.read_index_ready():
                self._start_read_round(read)
            if not read.confirmed and self.leadership_confirmed(read):
                read.confirmed = True
            if read.confirmed and self.read_applied(read):
                state.results.append(ReadResult(read.request_id, read.key, True,
                                                self.kv.get(read.key), self.last_applied))
            else:
                waiting.append(read)
        state.pending = waiting
