"""The core predicate of each property, as a plain function of plain values.

Each returns True when the property holds for the values given. The property classes
(checker/properties/*.py) find the values in the rebuilt state and call these; the Z3 model
evaluates the same definitions symbolically. They use only comparisons, ``and``/``or``/``not``
and arithmetic, nothing that needs a trace.
"""

from __future__ import annotations

from typing import Any


def at_most_one_leader(term_a: int, leader_a: str, term_b: int, leader_b: str) -> bool:
    """ElectionSafety (paper §5.2): two leader elections of one term elect the same node."""
    return term_a != term_b or leader_a == leader_b


def leader_append_only(leading: bool, first_removed: int, log_length: int) -> bool:
    """LeaderAppendOnly (§5.3): a leader removes or overwrites nothing; ``first_removed`` is
    where a truncate (or an overwriting append) starts, past the end when it removes nothing."""
    return not leading or first_removed > log_length


def log_matching(term_a: int, term_b: int, prefix_a: Any, prefix_b: Any) -> bool:
    """LogMatching (§5.3): entries with the same index and term have identical prefixes
    (``prefix_*`` are the chain hashes of both logs at that index)."""
    return term_a != term_b or prefix_a == prefix_b


def leader_complete(commit_term: int, leader_term: int, leader_has_entry: bool) -> bool:
    """LeaderCompleteness (§5.4): a leader of a later term holds every entry committed before."""
    return leader_term <= commit_term or leader_has_entry


def state_machine_safe(applied_a: Any, applied_b: Any) -> bool:
    """StateMachineSafety (§5.4.3): what two nodes apply at one index is the same entry."""
    return applied_a == applied_b


def term_monotonic(old_term: int, new_term: int) -> bool:
    """TermMonotonic (Figure 2, persistent currentTerm): a node's term never decreases."""
    return new_term >= old_term


def vote_once(term_a: int, candidate_a: str, term_b: int, candidate_b: str) -> bool:
    """VoteOnce (Figure 2, RequestVote receiver rule 2): one candidate per term."""
    return term_a != term_b or candidate_a == candidate_b


def commit_justified(entry_term: int, leader_term: int, holders: int, cluster_size: int) -> bool:
    """CommitJustified (Figure 2, Leaders rule 4; Figure 8): the entry committed is of the
    leader's term and held by a majority (``holders`` counts the leader)."""
    return entry_term == leader_term and 2 * holders > cluster_size


def committed_durable(first_removed: int, commit_index: int) -> bool:
    """CommittedDurable (Figure 2, persistent state): no removal at or below commitIndex."""
    return first_removed > commit_index


def apply_in_order(index: int, last_applied: int, may_replay: bool, commit_index: int,
                   same_as_log: bool) -> bool:
    """ApplyOrder (Figure 2, All Servers rule 1): apply lastApplied+1 (or 1 again after a
    restart), only when committed, and exactly the log's entry."""
    in_order = index == last_applied + 1 or (may_replay and index == 1)
    return in_order and index <= commit_index and same_as_log


def log_up_to_date(cand_last_term: int, cand_last_index: int, voter_last_term: int,
                   voter_last_index: int) -> bool:
    """§5.4.1: the candidate's log is at least as up-to-date as the voter's."""
    return cand_last_term > voter_last_term or (
        cand_last_term == voter_last_term and cand_last_index >= voter_last_index)


def vote_reply_ok(granted: bool, request_term: int, reply_term: int, up_to_date: bool) -> bool:
    """MessageRules for a RequestVoteResponse (Figure 2, RequestVote receiver rules 1-2): never a
    lower term than the request's; a grant only in the candidate's term and to an up-to-date
    log."""
    if reply_term < request_term:
        return False
    return not granted or (reply_term == request_term and up_to_date)


def append_reply_ok(success: bool, request_term: int, reply_term: int,
                    term_at_prev: int | None, prev_log_term: int) -> bool:
    """MessageRules for an AppendEntriesResponse (Figure 2, AppendEntries receiver rules 1-2):
    never a lower term than the request's; success only in the leader's term and when the log
    holds an entry at prevLogIndex of term prevLogTerm; and a refusal only for one of those two
    reasons (a stale term, or no matching entry at prevLogIndex)."""
    if reply_term < request_term:
        return False
    matches = reply_term == request_term and term_at_prev == prev_log_term
    return matches if success else not matches


def adopts_higher_term(sent_term: int, highest_received_term: int) -> bool:
    """MessageRules (Figure 2, All Servers rule 2): after receiving a term T > currentTerm a
    node sets currentTerm = T, so nothing it sends afterwards carries a term below T."""
    return sent_term >= highest_received_term


def commit_within_append(new_commit: int, old_commit: int, leader_commit: int,
                         last_new_index: int) -> bool:
    """MessageRules (Figure 2, AppendEntries receiver rule 5): on an AppendEntries a follower
    sets commitIndex = min(leaderCommit, index of last new entry), and no higher."""
    return new_commit <= max(old_commit, min(leader_commit, last_new_index))
