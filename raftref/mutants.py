"""The bug zoo: deliberate, switchable mistakes in the reference node, all named here.

Each is a real mistake that Raft implementations have made. All are off by default; a driver
switches one on with ``--mutant NAME`` so tests can show the checker and the fuzzer catch it.
The node tests ``name in self.mutants`` at exactly the rule the mutant breaks.
"""

from __future__ import annotations

MUTANTS: dict[str, str] = {
    "figure8": "leader commits an entry of an earlier term by counting replicas (paper Figure 8)",
    "vote-no-log-check": "voter grants its vote without the 'at least as up-to-date' log check",
    "double-vote": "voter grants a second vote in the same term",
    "unpersisted-vote": "currentTerm/votedFor are not persisted before replying (lost on restart)",
    "truncate-on-match": "follower truncates its log on an AppendEntries whose entries "
    "already match",
    "minority-quorum": "quorum is off by one: a minority wins elections and commits",
    "commit-past-new-entries": "follower sets commitIndex to leaderCommit without the min with "
    "the index of its last new entry",
    "candidate-ignores-leader": "candidate rejects AppendEntries from a leader of its own term "
    "instead of stepping down",
    "ignore-higher-term-reply": "node does not adopt a higher term seen in a reply",
    "stale-reply-match": "leader advances matchIndex on an AppendEntries reply from an older term",
}


def check_mutants(names: frozenset[str] | set[str] | list[str] | tuple[str, ...]) -> frozenset[str]:
    """Validate mutant names, raising ValueError that lists the valid ones."""
    unknown = sorted(set(names) - MUTANTS.keys())
    if unknown:
        raise ValueError(
            f"unknown mutant {', '.join(unknown)}; valid mutants: {', '.join(MUTANTS)}"
        )
    return frozenset(names)


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
}
