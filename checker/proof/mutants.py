"""The bug zoo's mutants that have an abstract counterpart, as changes to the actions.

Names are those of raftref/mutants.py (not imported: checker/ never imports raftref; a test
checks that every name here exists there). ``expected`` is the safety property (a lemma name;
see ``PROPERTY_NAMES`` for the trace checker's names) that bounded model checking must violate.

Mutants without an abstract counterpart, and why:
- candidate-ignores-leader, ignore-higher-term-reply: liveness bugs. In the abstract model they
  only remove steps (a step-down), and removing steps cannot break a safety property.
- stale-reply-match: the bug lives in the leader's matchIndex bookkeeping across terms, state
  the atomic-step model does not have.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AbstractMutant:
    """What a mutant changes; the default instance is the correct model."""

    name: str = "none"
    doc: str = "the correct abstract model"
    expected: str | None = None
    minority_quorum: bool = False
    vote_log_check: bool = True
    double_vote: bool = False
    commit_any_index: bool = False
    truncate_on_match: bool = False
    learn_commit: bool = False
    forget_term: bool = False

    def quorum(self, nodes: int) -> int:
        """Votes or replicas needed; one short of a majority under minority-quorum."""
        return max(1, nodes // 2) if self.minority_quorum else nodes // 2 + 1


CORRECT = AbstractMutant()

MUTANTS: dict[str, AbstractMutant] = {m.name: m for m in (
    AbstractMutant("figure8", "CommitEntry commits any index of the leader's log whose entry a "
                   "quorum in its term holds, of any term (counting replicas, Figure 8)",
                   "LeaderCompleteness", commit_any_index=True),
    AbstractMutant("vote-no-log-check", "BecomeLeader without the voters' up-to-date check "
                   "(§5.4.1)", "LeaderCompleteness", vote_log_check=False),
    AbstractMutant("double-vote", "BecomeLeader accepts a voter already in the new term (it "
                   "votes a second time in that term)", "OnePrimaryPerTerm", double_vote=True),
    AbstractMutant("minority-quorum", "BecomeLeader and CommitEntry with quorums of N//2, which "
                   "need not intersect", "OnePrimaryPerTerm", minority_quorum=True),
    AbstractMutant("truncate-on-match", "adds TruncateOnMatch: a follower drops a last entry "
                   "that matches its leader's log", "LeaderCompleteness",
                   truncate_on_match=True),
    AbstractMutant("commit-past-new-entries", "adds LearnCommit: a follower commits up to "
                   "min(leaderCommit, its last index), past the entries it got from the leader",
                   "StateMachineSafety", learn_commit=True),
    AbstractMutant("unpersisted-vote", "adds ForgetTerm: a restart loses the term (and vote) "
                   "not yet persisted", "OnePrimaryPerTerm", forget_term=True),
)}

NOT_MODELLED: dict[str, str] = {
    "candidate-ignores-leader": "liveness only: in the abstract model it removes steps",
    "ignore-higher-term-reply": "liveness only: in the abstract model it removes steps",
    "stale-reply-match": "needs per-term matchIndex state the atomic-step model lacks",
    # What clients see: the abstract model has no clients, reads, leases or sessions.
    "unconfirmed-read": "reads are not modelled: the model has no clients",
    "follower-local-read": "reads are not modelled: the model has no clients",
    "lease-past-bound": "leases and clocks are not modelled",
    "duplicate-retry": "client sessions are not modelled",
}


def mutant(name: str | None) -> AbstractMutant:
    """The abstract mutant called ``name`` (None: the correct model)."""
    if name is None or name == "none":
        return CORRECT
    if name in MUTANTS:
        return MUTANTS[name]
    if name in NOT_MODELLED:
        raise ValueError(f"mutant {name!r} has no abstract counterpart ({NOT_MODELLED[name]}); "
                         f"modelled: {', '.join(MUTANTS)}")
    raise ValueError(f"unknown mutant {name!r}; modelled: {', '.join(MUTANTS)}")
