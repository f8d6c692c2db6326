"""Leader election (paper §5.2, §5.4.1; Figure 2, RequestVote RPC and Rules for Servers).

The rules are methods of :class:`Elections`, which :class:`~raftref.protocol.node.Node` mixes in;
each is small and named after what the paper says, so a reader finds a rule by its name and a
subclass can replace exactly one rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raftref.protocol.messages import (
    Entry,
    Message,
    NodeId,
    RequestVote,
    RequestVoteResponse,
)
from raftref.protocol.quorum import majority
from raftref.protocol.roles import CANDIDATE, FOLLOWER, LEADER

if TYPE_CHECKING:
    from raftref.protocol.node import Node


class Elections:
    """The election rules of a node: timeouts, votes, becoming leader or follower."""

    # ------------------------------------------------------------------ timers (§5.2)

    def _random_timeout(self: Node) -> int:
        # §5.2: randomized election timeouts make split votes rare; the driver seeds the rng.
        return self._rng.randint(self.config.election_timeout_min, self.config.election_timeout_max)

    def _reset_election_timer(self: Node) -> None:
        self._election_elapsed = 0
        self._election_timeout = self._random_timeout()

    # ------------------------------------------------------------------ the rules

    def quorum_size(self: Node) -> int:
        """§5.2: a candidate wins with votes from a majority of the servers in the cluster; §5.3:
        an entry is committed once a majority stores it."""
        return majority(len(self.cluster))

    def observe_term(self: Node, msg: Message) -> None:
        """Fig2 All Servers rule 2: if a request or response contains term T > currentTerm: set
        currentTerm = T, convert to follower (§5.1)."""
        if msg.term > self.current_term:
            self._become_follower(msg.term, leader=None)

    def _start_election(self: Node) -> None:
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

    def vote_is_free(self: Node, candidate: NodeId) -> bool:
        """Fig2 RequestVote receiver rule 2, first half: votedFor is null or candidateId (each
        server votes for at most one candidate in a term, §5.2)."""
        return self.voted_for in (None, candidate)

    def candidate_log_is_up_to_date(self: Node, msg: RequestVote) -> bool:
        """Fig2 RequestVote receiver rule 2, second half: the candidate's log is at least as
        up-to-date as the receiver's (§5.4.1), so a leader holds every committed entry."""
        return self.log.is_up_to_date(msg.last_log_index, msg.last_log_term)

    def _handle_request_vote(self: Node, msg: RequestVote) -> None:
        # Fig2 RequestVote receiver rule 1: reply false if term < currentTerm.
        granted = False
        if msg.term >= self.current_term:
            # Fig2 RequestVote receiver rule 2: grant if votedFor is null or candidateId, and the
            # candidate's log is at least as up-to-date as receiver's log (§5.2, §5.4.1).
            free = self.vote_is_free(msg.src)
            up_to_date = self.candidate_log_is_up_to_date(msg)
            if free and up_to_date:
                granted = True
                self.voted_for = msg.src
                self._emit("vote", candidate=msg.src)
                # Fig2 Followers rule 2: granting a vote resets the election timer.
                self._reset_election_timer()
        self._send(RequestVoteResponse(self._next_id(), self.id, msg.src, self.current_term,
                                       msg.id, granted))

    def _handle_request_vote_response(self: Node, msg: RequestVoteResponse) -> None:
        # Only a vote for this node's current candidacy counts (§5.2).
        if self.role != CANDIDATE or msg.term != self.current_term or not msg.granted:
            return
        self.votes_granted.add(msg.src)
        self._maybe_win_election()

    def _maybe_win_election(self: Node) -> None:
        # Fig2 Candidates rule 2: if votes received from a majority of servers: become leader.
        if self.role == CANDIDATE and len(self.votes_granted) >= self.quorum_size():
            self._become_leader()

    def _become_leader(self: Node) -> None:
        self.role = LEADER
        self.leader_id = self.id
        self._emit("role", previous=CANDIDATE)
        # Fig2 "Volatile state on leaders": nextIndex = leader last log index + 1, matchIndex = 0.
        self.next_index = {p: self.log.last_index + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self._heartbeat_elapsed = 0
        self._reset_reads_for_new_term()
        # §8 / thesis §6.4: a leader commits a no-op entry at the start of its term, so it learns
        # which entries are committed and can commit earlier-term entries through it (Figure 8).
        index = self.log.last_index + 1
        self._append_entries_to_log(index, (Entry(self.current_term, None),))
        # Fig2 Leaders rule 1: upon election, send AppendEntries to each server.
        self._broadcast_append_entries()
        self._advance_leader_commit()

    def _become_follower(self: Node, term: int, leader: NodeId | None) -> None:
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

