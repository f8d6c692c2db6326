"""Log replication and commitment (paper §5.3, §5.4.2; Figure 2, AppendEntries RPC and Rules for
Servers), with the conflict hints of thesis §5.3.

The rules are methods of :class:`Replication`, which :class:`~raftref.protocol.node.Node` mixes
in; each is small and named after what the paper says, so a reader finds a rule by its name and
a subclass can replace exactly one rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raftref.protocol.messages import AppendEntries, AppendEntriesResponse, Entry, NodeId
from raftref.protocol.roles import LEADER

if TYPE_CHECKING:
    from raftref.protocol.node import Node


class Replication:
    """The replication rules of a node: AppendEntries on both sides, and commitment."""

    # ------------------------------------------------------------------ follower side

    def recognizes_leader(self: Node, msg: AppendEntries) -> bool:
        """Fig2 Candidates rule 3: if AppendEntries RPC received from new leader (of a term at
        least this node's): convert to follower. Every node, candidates included, accepts it."""
        return True

    def _handle_append_entries(self: Node, msg: AppendEntries) -> None:
        # Fig2 AppendEntries receiver rule 1: reply false if term < currentTerm.
        if msg.term < self.current_term:
            self._reply_append(msg, success=False)
            return
        if not self.recognizes_leader(msg):
            self._reply_append(msg, success=False)
            return
        # Fig2 Candidates rule 3: AppendEntries from the new leader (of this term): become
        # follower. Fig2 Followers rule 2: it is a current leader, so reset the election timer.
        self._become_follower(msg.term, leader=msg.src)
        self._reset_election_timer()
        self.reads.since_leader = 0  # thesis §4.2.3, for leases (raftref/protocol/reads.py)
        # Fig2 AppendEntries receiver rule 2: reply false if the log has no entry at
        # prevLogIndex whose term matches prevLogTerm.
        if self.log.term_at(msg.prev_log_index) != msg.prev_log_term:
            self._reply_append(msg, success=False)
            return
        self.accept_entries(msg)
        index = msg.prev_log_index + len(msg.entries)  # index of last new entry
        # Fig2 AppendEntries receiver rule 5: if leaderCommit > commitIndex, set
        # commitIndex = min(leaderCommit, index of last new entry).
        if msg.leader_commit > self.commit_index:
            target = self.follower_commit_target(msg, index)
            if target > self.commit_index:
                self._set_commit(target)
        self._reply_append(msg, success=True, match_index=index)

    def accept_entries(self: Node, msg: AppendEntries) -> None:
        """Fig2 AppendEntries receiver rules 3 and 4, once prevLogIndex/prevLogTerm match: an
        existing entry that conflicts with a new one (same index, different terms) is deleted
        with all that follow it; new entries not already in the log are appended. Entries that
        match are kept, so a stale or reordered AppendEntries never cuts the log."""
        new_entries: list[Entry] = []
        for offset, entry in enumerate(msg.entries):
            i = msg.prev_log_index + 1 + offset
            existing = self.log.term_at(i)
            if existing is None:
                new_entries = list(msg.entries[offset:])
                break
            if existing != entry.term:
                self._truncate(i)  # rule 3
                new_entries = list(msg.entries[offset:])
                break
        if new_entries:
            # rule 4
            self._append_entries_to_log(self.log.last_index + 1, tuple(new_entries))

    def follower_commit_target(self: Node, msg: AppendEntries, last_new_index: int) -> int:
        """Fig2 AppendEntries receiver rule 5: commitIndex = min(leaderCommit, index of last new
        entry): what this AppendEntries proved to match, never beyond."""
        return min(msg.leader_commit, last_new_index)

    def _reply_append(self: Node, msg: AppendEntries, success: bool, match_index: int = 0) -> None:
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

    # ------------------------------------------------------------------ leader side

    def reply_is_current(self: Node, msg: AppendEntriesResponse) -> bool:
        """A reply counts only in the term its RPC was sent in: a reply to an RPC of an earlier
        term says nothing about this term's log (§5.3; Fig2 Leaders rule 3.1 updates matchIndex
        from replies to this leader's own AppendEntries)."""
        return msg.term == self.current_term

    def _handle_append_entries_response(self: Node, msg: AppendEntriesResponse) -> None:
        if self.role != LEADER or not self.reply_is_current(msg):
            return
        peer = msg.src
        if msg.success:
            # Fig2 Leaders rule 3.1: if successful, update nextIndex and matchIndex.
            if msg.match_index > self.match_index[peer]:
                self.match_index[peer] = msg.match_index
            # Never past the log's end: a reply of this term cannot claim more than this
            # leader's log holds, but a faulty one must not leave a nextIndex with no
            # prevLogTerm to send.
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

    def may_commit(self: Node, index: int) -> bool:
        """Fig2 Leaders rule 4, the term condition: a leader counts replicas only of an entry of
        its current term (log[N].term == currentTerm, §5.4.2). Counting replicas of an entry of
        an earlier term is unsafe (Figure 8); such entries commit with the first of its own."""
        return self.log.term_at(index) == self.current_term

    def _advance_leader_commit(self: Node) -> None:
        # Fig2 Leaders rule 4: if there exists N > commitIndex such that a majority of
        # matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N (§5.3, §5.4.2).
        for n in range(self.log.last_index, self.commit_index, -1):
            if not self.may_commit(n):
                break  # terms only decrease further down the log
            replicas = 1 + sum(1 for p in self.peers if self.match_index[p] >= n)
            if replicas >= self.quorum_size():
                self._set_commit(n)
                break

    def _broadcast_append_entries(self: Node) -> None:
        for peer in self.peers:
            self._send_append_entries(peer)

    def _send_append_entries(self: Node, peer: NodeId) -> None:
        # Fig2 Leaders rule 3: send entries from nextIndex (empty: a heartbeat).
        next_i = self.next_index[peer]
        prev = next_i - 1
        prev_term = self.log.term_at(prev)
        assert prev_term is not None, "nextIndex is kept within the leader's log"
        entries = self.log.slice(next_i, self.config.max_entries_per_message)
        self._send(AppendEntries(self._next_id(), self.id, peer, self.current_term, prev,
                                 prev_term, entries, self.commit_index))
