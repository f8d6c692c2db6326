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
``"deposed"`` (the node stopped leading, or changed term, before the read was confirmed); with
forwarding, also ``"not-ready"`` (the leader asked had not yet committed an entry of its term),
``"leader-changed"`` and ``"forgotten"`` (below). A refused read never touched the state
machine: the client may retry it anywhere. A read whose node crashes gets no answer at all;
the driver's timeout decides.

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

A follower has no read index of its own (:meth:`Reads.follower_read_index`). By default it
refuses a read with a redirect to the leader it knows, as it does writes. With
``NodeConfig.forward_reads`` it offloads the read instead (thesis §6.4, "followers can also
offload reads"), rule by rule:

4. :meth:`Reads.forwards_reads`: a follower that knows its leader sends it a ``ReadIndex``
   request (raftref/protocol/messages.py) and keeps the read pending.
5. :meth:`Reads.read_index_refusal`: the leader refuses at once when it is not the leader
   (``"not-leader"``) or has not committed an entry of its term (``"not-ready"``, step 1);
   otherwise it records its commit index and confirms its leadership with a round exactly as
   for its own reads (steps 1 and 2), then replies ``ReadIndexResponse`` with the read index
   (``"deposed"`` if it stops leading first). It does not wait for its own state machine.
6. :meth:`Reads.forwarded_read_stands`: the follower keeps a forwarded read only while it
   stays in the term and with the leader it asked; otherwise it refuses the read
   (``"leader-changed"``). The answer it waits for may never come (that leader is deposed,
   crashed or cut off), so the client learns at once and retries where the new leader is; a
   late answer from the old leader finds nothing pending and is ignored. Once the read index
   has arrived it would be safe to finish, but the rule stays as uniform as a leader's own
   (a leader refuses its reads on a term change even once confirmed).
7. With the read index in hand, the follower answers from its own state machine once it has
   applied that index (:meth:`Reads.read_applied`, step 3 on the follower).

No clock, no retry by the node: a ``ReadIndex`` or its answer that is lost leaves the read
pending until the driver's timeout (or until rule 6 refuses it). So that lost exchanges in a
long term cannot pile up, a follower keeps at most ``FORWARD_MEMORY`` forwarded reads and
refuses the oldest past that (``"forgotten"``).

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

from raftref.protocol.messages import (
    AppendEntries,
    AppendEntriesResponse,
    NodeId,
    ReadIndex,
    ReadIndexResponse,
    RequestVote,
)
from raftref.protocol.roles import FOLLOWER, LEADER

if TYPE_CHECKING:
    from raftref.protocol.node import Node

# How many AppendEntries a leader remembers (id -> when it was sent) to match acknowledgements
# with rounds; older ones are forgotten, which only delays a confirmation.
SENT_MEMORY = 4096
# How many forwarded reads a follower keeps waiting for their read index (or for applying it);
# a lost ReadIndex or answer would otherwise stay until the term changes.
FORWARD_MEMORY = 1024


@dataclass(frozen=True)
class ReadResult:
    """The answer to ``read(request_id, key)``: a value, or a refusal and a leader hint."""

    request_id: Any
    key: str
    ok: bool
    value: Any = None
    index: int | None = None  # the last applied index the value reflects
    leader_hint: NodeId | None = None
    # on refusal: "not-leader", "deposed", or with forwarding "not-ready", "leader-changed",
    # "forgotten"
    reason: str | None = None


@dataclass
class PendingRead:
    """A read a node has accepted and not yet answered: a leader's own, a leader's on behalf
    of a follower (``forwarded``), or a follower's forwarded to its leader (``asked``)."""

    request_id: Any
    key: str
    term: int  # the node's term when the read arrived
    after: int  # the leader's message counter when it arrived: later AppendEntries confirm it
    read_index: int | None = None
    confirmed: bool = False
    forwarded: ReadIndex | None = None  # leader side: the follower's request to answer
    asked: str | None = None  # follower side: the id of the ReadIndex it sent
    leader: NodeId | None = None  # follower side: the leader it asked


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
            if index is not None:  # only a mutant has one (raftref/mutants.py)
                state.pending.append(PendingRead(request_id, key, self.current_term,
                                                 self._msg_counter, index, confirmed=True))
            elif self.forwards_reads():
                self._forward_read(request_id, key)
            else:
                state.results.append(ReadResult(request_id, key, False,
                                                leader_hint=self.leader_id, reason="not-leader"))
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
        """Thesis §6.4: a follower has no read index of its own. Its commit index may lag
        behind writes the leader has already acknowledged, so it either redirects the read or
        asks the leader for one (:meth:`forwards_reads`)."""
        return None

    def forwards_reads(self: Node) -> bool:
        """Thesis §6.4, "followers can also offload reads": with
        ``NodeConfig.forward_reads``, a follower that knows its leader asks it for a read
        index instead of redirecting the client. A candidate, or a follower that knows no
        leader in its term, has nobody to ask and refuses (``not-leader``)."""
        return (self.config.forward_reads and self.role == FOLLOWER
                and self.leader_id is not None)

    def read_index_refusal(self: Node) -> str | None:
        """Thesis §6.4 steps 1-2 on behalf of a follower: only a leader has a read index
        (``"not-leader"``), and only once it has committed an entry of its term
        (``"not-ready"``: refused at once, the follower's client retries, rather than parked
        on the leader for a follower that may give up first). None: it has one."""
        if self.role != LEADER:
            return "not-leader"
        if not self.read_index_ready():
            return "not-ready"
        return None

    def forwarded_read_stands(self: Node, read: PendingRead) -> bool:
        """Thesis §6.4 on the follower: a forwarded read is kept only while the follower is
        in the term and follows the leader it asked. Otherwise the answer may never come
        (that leader is deposed, crashed or cut off): the read is refused at once
        (``"leader-changed"``) so the client retries where the new leader is, and a late
        answer finds nothing pending."""
        return read.term == self.current_term and read.leader == self.leader_id

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

    def _forward_read(self: Node, request_id: Any, key: str) -> None:
        """Thesis §6.4: send the leader a ReadIndex; the read waits for its answer."""
        assert self.leader_id is not None
        msg = ReadIndex(self._next_id(), self.id, self.leader_id, self.current_term)
        state = self.reads
        forwarded = [r for r in state.pending if r.asked is not None]
        if len(forwarded) >= FORWARD_MEMORY:
            oldest = forwarded[0]
            state.pending.remove(oldest)
            state.results.append(ReadResult(oldest.request_id, oldest.key, False,
                                            leader_hint=self.leader_id, reason="forgotten"))
        state.pending.append(PendingRead(request_id, key, self.current_term, self._msg_counter,
                                         asked=msg.id, leader=self.leader_id))
        self._send(msg)

    def _handle_read_index(self: Node, msg: ReadIndex) -> None:
        """The leader's side of a forwarded read: steps 1 and 2, as for its own reads."""
        refusal = self.read_index_refusal()
        if refusal is not None:
            self._send(ReadIndexResponse(self._next_id(), self.id, msg.src, self.current_term,
                                         msg.id, False, reason=refusal))
            return
        pending = PendingRead(None, "", self.current_term, self._msg_counter, forwarded=msg)
        self.reads.pending.append(pending)
        if self.config.lease_reads and self.lease_is_valid():
            pending.read_index, pending.confirmed = self.commit_index, True  # §6.4.1
        else:
            self._start_read_round(pending)

    def _handle_read_index_response(self: Node, msg: ReadIndexResponse) -> None:
        """The follower's side: the read index arrives (or a refusal, passed on to the
        client). An answer to nothing pending (a duplicate, or a read already refused by
        :meth:`forwarded_read_stands`) is ignored."""
        state = self.reads
        read = next((r for r in state.pending if r.asked == msg.reply_to), None)
        if (read is None or read.read_index is not None or msg.src != read.leader
                or not self.forwarded_read_stands(read)):
            return
        if msg.success:
            read.read_index, read.confirmed = msg.read_index, True
        else:
            state.pending.remove(read)
            state.results.append(ReadResult(read.request_id, read.key, False,
                                            leader_hint=self.leader_id, reason=msg.reason))

    def _answer_forwarded(self: Node, read: PendingRead, reason: str | None) -> None:
        """The leader replies to a follower's ReadIndex: the read index, or ``reason``."""
        request = read.forwarded
        assert request is not None
        if reason is None:
            assert read.read_index is not None
            reply = ReadIndexResponse(self._next_id(), self.id, request.src, self.current_term,
                                      request.id, True, read_index=read.read_index)
        else:
            reply = ReadIndexResponse(self._next_id(), self.id, request.src, self.current_term,
                                      request.id, False, reason=reason)
        self._send(reply)

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
            if read.asked is not None:  # a follower's, forwarded to its leader
                if not self.forwarded_read_stands(read):
                    state.results.append(ReadResult(read.request_id, read.key, False,
                                                    leader_hint=self.leader_id,
                                                    reason="leader-changed"))
                elif self.read_applied(read):
                    state.results.append(ReadResult(read.request_id, read.key, True,
                                                    self.kv.get(read.key), self.last_applied))
                else:
                    waiting.append(read)
                continue
            if read.term != self.current_term or (read.confirmed is False
                                                  and self.role != LEADER):
                if read.forwarded is not None:
                    self._answer_forwarded(read, "deposed")
                else:
                    state.results.append(ReadResult(read.request_id, read.key, False,
                                                    leader_hint=self.leader_id,
                                                    reason="deposed"))
                continue
            if read.read_index is None and self.read_index_ready():
                self._start_read_round(read)
            if not read.confirmed and self.leadership_confirmed(read):
                read.confirmed = True
            if read.confirmed and read.forwarded is not None:
                # The follower waits for its own state machine, not the leader's.
                self._answer_forwarded(read, None)
            elif read.confirmed and self.read_applied(read):
                state.results.append(ReadResult(read.request_id, read.key, True,
                                                self.kv.get(read.key), self.last_applied))
            else:
                waiting.append(read)
        state.pending = waiting
