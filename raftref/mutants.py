"""The bug zoo: deliberate mistakes that Raft implementations have made, each the override of
exactly one named rule of the reference node (raftref/protocol/), shown beside the rule it breaks.

None of this is in the protocol package, which never mentions a mutant. A driver builds the node
class of a run with :func:`node_class` (``--mutant NAME`` on the command line); tests show that
the checker and the fuzzer catch each one, at exactly the rule it breaks
(tests/test_figure2_*.py) and in campaigns (tests/test_fuzz.py).
"""

from __future__ import annotations

from typing import Any

from raftref.protocol.kv import Session
from raftref.protocol.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Message,
    NodeId,
    RequestVote,
    is_reply,
)
from raftref.protocol.node import Node
from raftref.protocol.reads import PendingRead
from raftref.protocol.roles import CANDIDATE


class Figure8(Node):
    """Leader commits an entry of an earlier term by counting replicas (paper Figure 8).

    Rule (Fig2 Leaders rule 4): ``may_commit(N)`` only when ``log[N].term == currentTerm``.
    Bug: any entry stored on a majority counts, so an entry of an earlier term can be committed
    and then overwritten by a leader that never had it."""

    def may_commit(self, index: int) -> bool:
        return True


class VoteNoLogCheck(Node):
    """Voter grants its vote without the 'at least as up-to-date' log check.

    Rule (Fig2 RequestVote receiver rule 2, §5.4.1): grant only if the candidate's log is at
    least as up-to-date as the voter's. Bug: the check is skipped, so a candidate missing
    committed entries can win and overwrite them."""

    def candidate_log_is_up_to_date(self, msg: RequestVote) -> bool:
        return True


class DoubleVote(Node):
    """Voter grants a second vote in the same term.

    Rule (Fig2 RequestVote receiver rule 2): grant only if votedFor is null or candidateId.
    Bug: votedFor is not consulted, so two candidates can both win one term."""

    def vote_is_free(self, candidate: NodeId) -> bool:
        return True


class UnpersistedVote(Node):
    """currentTerm/votedFor are not persisted before replying (lost on restart).

    Rule (Fig2 "Persistent state ... updated on stable storage before responding to RPCs"):
    term and vote go to the disk with every batch. Bug: they reach the disk only with a log
    write, so a restarted node forgets its term and the vote it gave, and can vote again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._durable = (self.current_term, self.voted_for)

    def term_and_vote_to_persist(self, log_ops: list[tuple[Any, ...]]) -> tuple[int, NodeId | None]:
        if log_ops:
            self._durable = (self.current_term, self.voted_for)
        return self._durable


class TruncateOnMatch(Node):
    """Follower truncates its log on an AppendEntries whose entries already match.

    Rule (Fig2 AppendEntries receiver rule 3): delete an existing entry only if it conflicts
    with a new one (same index, different terms). Bug: everything after prevLogIndex is
    replaced, so a stale or reordered AppendEntries cuts entries the leader counted."""

    def accept_entries(self, msg: AppendEntries) -> None:
        if self.log.last_index > msg.prev_log_index:
            self._truncate(msg.prev_log_index + 1)
        super().accept_entries(msg)


class MinorityQuorum(Node):
    """Quorum is off by one: a minority wins elections and commits.

    Rule (§5.2, §5.3): a majority, ``n // 2 + 1`` of n servers. Bug: ``n // 2``, so two
    disjoint halves of an even cluster, or a minority of an odd one, can each decide."""

    def quorum_size(self) -> int:
        return len(self.cluster) // 2


class CommitPastNewEntries(Node):
    """Follower sets commitIndex to leaderCommit without the min with the index of its last
    new entry.

    Rule (Fig2 AppendEntries receiver rule 5): commitIndex = min(leaderCommit, index of last
    new entry). Bug: commitIndex = leaderCommit, covering entries this RPC never matched (a
    stale suffix of the follower's log, or entries it does not have yet)."""

    def follower_commit_target(self, msg: AppendEntries, last_new_index: int) -> int:
        return msg.leader_commit


class CandidateIgnoresLeader(Node):
    """Candidate rejects AppendEntries from a leader of its own term instead of stepping down.

    Rule (Fig2 Candidates rule 3): if AppendEntries RPC received from new leader: convert to
    follower. Bug: a candidate answers false and keeps campaigning."""

    def recognizes_leader(self, msg: AppendEntries) -> bool:
        return self.role != CANDIDATE


class IgnoreHigherTermReply(Node):
    """Node does not adopt a higher term seen in a reply.

    Rule (Fig2 All Servers rule 2): a request *or response* with term T > currentTerm: set
    currentTerm = T and convert to follower. Bug: only requests count, so a deposed leader keeps
    leading after a reply told it of a newer term."""

    def observe_term(self, msg: Message) -> None:
        if not is_reply(msg):
            super().observe_term(msg)


class StaleReplyMatch(Node):
    """Leader advances matchIndex on an AppendEntries reply from an older term.

    Rule (§5.3, Fig2 Leaders rule 3.1): a reply counts only in the term its RPC was sent in.
    Bug: a successful reply of an earlier term counts too; a leader re-elected with a shorter
    log then counts a follower for entries it lacks."""

    def reply_is_current(self, msg: AppendEntriesResponse) -> bool:
        return msg.term == self.current_term or msg.success


class UnconfirmedRead(Node):
    """Leader answers reads from its state without confirming it still leads.

    Rule (thesis §6.4 step 2): answer only after a majority acknowledged, in the leader's
    term, an AppendEntries sent after the read index was recorded. Bug: no round, so a leader
    cut off from the majority, deposed without knowing it, answers with values a newer leader
    has overwritten."""

    def leadership_confirmed(self, read: PendingRead) -> bool:
        return True


class FollowerLocalRead(Node):
    """Follower answers reads from its own state machine.

    Rule (thesis §6.4): a follower has no read index of its own; it gets one from the leader
    (with ``forward_reads``: a ReadIndex request; without: it redirects the client). Bug: it
    takes its own commit index, which can lag behind writes the leader has already
    acknowledged, so a read misses them."""

    def follower_read_index(self) -> int | None:
        return self.commit_index


class LeasePastBound(Node):
    """Lease reads trust a lease past its bound.

    Rule (thesis §6.4.1): a lease read is answered only before the tick at which the
    acknowledged AppendEntries were sent plus the election timeout's minimum minus the drift
    margin. Bug: once acquired, the lease never ends, so a leader cut off answers reads long
    after a newer leader was elected and wrote."""

    def lease_is_valid(self) -> bool:
        return self.reads.lease_until is not None


class DuplicateRetry(Node):
    """A retried write is applied twice: no session check.

    Rule (thesis §6.3): a command whose sequence number its session has already executed is
    answered with the saved result, not applied again. Bug: every copy in the log is applied,
    so a client's retry after a timeout appends its value twice."""

    def is_duplicate(self, session: Session, seq: int) -> bool:
        return False


#: Every mutant by name, in the order `raftref mutants` lists them.
ZOO: dict[str, type[Node]] = {
    "figure8": Figure8,
    "vote-no-log-check": VoteNoLogCheck,
    "double-vote": DoubleVote,
    "unpersisted-vote": UnpersistedVote,
    "truncate-on-match": TruncateOnMatch,
    "minority-quorum": MinorityQuorum,
    "commit-past-new-entries": CommitPastNewEntries,
    "candidate-ignores-leader": CandidateIgnoresLeader,
    "ignore-higher-term-reply": IgnoreHigherTermReply,
    "stale-reply-match": StaleReplyMatch,
    "unconfirmed-read": UnconfirmedRead,
    "follower-local-read": FollowerLocalRead,
    "lease-past-bound": LeasePastBound,
    "duplicate-retry": DuplicateRetry,
}

def _summary(cls: type[Node]) -> str:
    """The first paragraph of a mutant's docstring, as one line starting in lower case."""
    text = " ".join((cls.__doc__ or "").split("\n\n")[0].split()).rstrip(".")
    return text[:1].lower() + text[1:]


#: One line per mutant, as `raftref mutants` prints it: the first paragraph of its docstring.
MUTANTS: dict[str, str] = {name: _summary(cls) for name, cls in ZOO.items()}


def check_mutants(names: frozenset[str] | set[str] | list[str] | tuple[str, ...]) -> frozenset[str]:
    """Validate mutant names, raising ValueError that lists the valid ones."""
    unknown = sorted(set(names) - ZOO.keys())
    if unknown:
        raise ValueError(
            f"unknown mutant {', '.join(unknown)}; valid mutants: {', '.join(ZOO)}"
        )
    return frozenset(names)


def node_class(names: frozenset[str] | set[str] | list[str] | tuple[str, ...] = ()) -> type[Node]:
    """The node class with these mutants switched on: :class:`Node` itself for none, the
    mutant's class for one, and a class combining them for several (each overrides a different
    rule, so they compose)."""
    chosen = [ZOO[name] for name in sorted(check_mutants(names), key=list(ZOO).index)]
    if not chosen:
        return Node
    if len(chosen) == 1:
        return chosen[0]
    return type("+".join(c.__name__ for c in chosen), tuple(chosen), {})


# Which properties each mutant is expected to break (any one of them counts as caught). The
# first is the one that catches it earliest; the others are where the damage shows later.
EXPECTED: dict[str, frozenset[str]] = {
    "figure8": frozenset({"CommitJustified", "LeaderCompleteness", "StateMachineSafety"}),
    "vote-no-log-check": frozenset({"MessageRules", "LeaderCompleteness", "StateMachineSafety"}),
    "double-vote": frozenset({"VoteOnce", "ElectionSafety"}),
    "unpersisted-vote": frozenset({"CommittedDurable", "VoteOnce", "TermMonotonic"}),
    "truncate-on-match": frozenset({"CommittedDurable", "StateMachineSafety",
                                    "LeaderCompleteness"}),
    "minority-quorum": frozenset({"ElectionSafety", "CommitJustified"}),
    "commit-past-new-entries": frozenset({"MessageRules", "CommittedDurable",
                                          "StateMachineSafety", "ApplyOrder"}),
    "candidate-ignores-leader": frozenset({"MessageRules"}),
    "ignore-higher-term-reply": frozenset({"MessageRules"}),
    "stale-reply-match": frozenset({"CommitJustified"}),
    # Bugs of what clients see: only the clients' history shows them (no trace property
    # relates a read's answer to the log), so they are found by the linearizability check.
    "unconfirmed-read": frozenset({"Linearizable"}),
    "follower-local-read": frozenset({"Linearizable"}),
    "lease-past-bound": frozenset({"Linearizable"}),
    "duplicate-retry": frozenset({"Linearizable"}),
}
