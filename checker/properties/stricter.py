"""Stricter properties: each catches a bug before it turns into a Figure 3 violation."""

from __future__ import annotations

from checker.events import Message, Start
from checker.properties.base import Context, Property, describe_entry
from checker.properties.predicates import (
    apply_in_order,
    commit_justified,
    committed_durable,
    term_monotonic,
    vote_once,
)
from checker.state import EntryKey, Loc, Log, NodeState, Snapshot


class TermMonotonic(Property):
    """Figure 2: currentTerm is persistent and only ever set to a larger term (All Servers
    rule 2, Candidates rule 1)."""

    name = "TermMonotonic"
    statement = "A node's term never decreases, across crash and restart included."
    reference = 'Figure 2, "Persistent state"; All Servers rule 2'

    def on_term(self, n: NodeState, new_term: int, loc: Loc) -> None:
        if not term_monotonic(n.term, new_term):
            self.violate((n.name, n.term, new_term),
                         f"{n.name}'s term went down from {n.term} to {new_term}",
                         n.term_loc, loc)


class VoteOnce(Property):
    """Figure 2, RequestVote receiver rule 2: grant only if votedFor is null or the candidate;
    votedFor is persistent, so this holds across restarts. Memory: one vote per node."""

    name = "VoteOnce"
    statement = ("In a term, a node grants its vote to at most one candidate, across crash and "
                 "restart included; a node's `vote` field never changes from one candidate to "
                 "another within a term.")
    reference = "Figure 2, RequestVote receiver rule 2; §5.2"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.votes: dict[str, tuple[int, str, Loc]] = {}

    def on_vote(self, n: NodeState, term: int, candidate: str, loc: Loc) -> None:
        first = self.votes.get(n.name)
        if first is None or term > first[0]:
            self.votes[n.name] = (term, candidate, loc)
        elif not vote_once(first[0], first[1], term, candidate):
            self.violate((n.name, term, candidate),
                         f"{n.name} voted for {first[1]} and then for {candidate} in term {term}",
                         first[2], loc)


class CommitJustified(Property):
    """Figure 2, Leaders rule 4 and Figure 8 (§5.4.2): a leader commits index N only if N is of
    its current term and a majority's matchIndex reaches N. Acknowledgements count from
    successful AppendEntriesResponses of the leader's term, or from a log that holds an entry
    identical to the leader's at N. Memory: per leader, the best acknowledgement per node."""

    name = "CommitJustified"
    statement = ("When a leader advances its commit index to i, the entry at i is of the "
                 "leader's current term, and a majority of the voters of the configuration in "
                 "force at the leader (of both voter sets while a joint configuration is in "
                 "force; the leader included if it is a voter) "
                 "have acknowledged, by an `AppendEntriesResponse` with `success` and "
                 "`match_index >= i` in the leader's term, or by holding it in their log, an "
                 "entry identical to the leader's at i.")
    reference = "Figure 2, Leaders rule 4; Figure 8; §5.4.2; thesis §4.3 (joint consensus)"
    kinds = frozenset({"commit", "receive", "config"})

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.acks: dict[str, dict[str, tuple[int, Loc]]] = {}

    def on_leader(self, n: NodeState, loc: Loc) -> None:
        self.acks[n.name] = {}

    def on_append_response(self, n: NodeState, msg: Message, loc: Loc) -> None:
        if msg.success and msg.term == n.term and n.role == "leader" and n.lead_term == n.term:
            acks = self.acks.setdefault(n.name, {})
            best = acks.get(msg.from_)
            if best is None or msg.match_index > best[0]:
                acks[msg.from_] = (msg.match_index, loc)

    def on_commit(self, n: NodeState, old: int, new: int, loc: Loc) -> None:
        if not n.leading or new > len(n.log):
            return  # followers commit by leaderCommit; beyond the log: CommittedDurable
        key = n.log.keys[new - 1]
        entry_loc = n.log.locs[new - 1]
        if key[0] != n.term:
            self.violate(loc, f"{n.name}, leader of term {n.term}, committed index {new} whose "
                              f"entry {describe_entry(key)} is of term {key[0]}, not its own "
                              "(Figure 8: count replicas only for entries of the current term)",
                         entry_loc, loc)
            return
        acks = self.acks.get(n.name, {})
        holders = [n.name]
        evidence: list[Loc | None] = []
        for name, other in self.ctx.nodes.items():
            if name == n.name:
                continue
            ack = acks.get(name)
            if ack is not None and ack[0] >= new:
                holders.append(name)
                evidence.append(ack[1])
            elif len(other.log) >= new and other.log.keys[new - 1] == key:
                holders.append(name)
                evidence.append(other.log.locs[new - 1])
        # The configuration in force at the leader (joint: a majority of each voter set).
        held = frozenset(holders)
        for voters in n.quorums(self.ctx.cluster):
            count = len(held & voters)
            if not commit_justified(key[0], n.term, count, len(voters)):
                which = ("" if voters is self.ctx.cluster and n.voters is None else
                         " of its outgoing configuration" if voters is n.outgoing else
                         " of its configuration")
                self.violate(loc, f"{n.name}, leader of term {n.term}, committed index {new} "
                                  f"held by only {count} of the {len(voters)} voters{which} "
                                  f"({', '.join(sorted(held & voters)) or 'none'}): no majority",
                             n.lead_loc, entry_loc, loc, n.config_loc, *evidence)
                return


class CommittedDurable(Property):
    """Figure 2 "Persistent state" and §5.4: a committed entry stays in the log of every node
    that holds it, and what a node wrote (term, vote, log) survives a crash."""

    name = "CommittedDurable"
    statement = ("An entry at or below a node's commit index is never removed from that node's "
                 "log, and a restarted node's `start` log, term and vote equal what it had before "
                 "it crashed (everything in the trace is durable when written).")
    reference = 'Figure 2 "Persistent state"; §5.4'
    kinds = frozenset({"truncate", "crash", "start", "commit", "append"})

    def on_truncate(self, n: NodeState, index: int, loc: Loc, by_append: bool) -> None:
        if not committed_durable(index, n.commit):
            self.violate((n.name, loc),
                         f"{n.name} removed entries from index {index} on while its commit index "
                         f"is {n.commit}", n.commit_loc, n.log.locs[index - 1], loc)

    def on_commit(self, n: NodeState, old: int, new: int, loc: Loc) -> None:
        if new > len(n.log):
            self.violate((n.name, new), f"{n.name}'s commit index {new} covers entries its log "
                                        f"does not hold (it holds {len(n.log)})", loc)

    def on_start(self, n: NodeState, ev: Start, loc: Loc, snap: Snapshot | None,
                 old_log: Log) -> None:
        if snap is None:
            return
        lost: list[str] = []
        cited: list[Loc | None] = [snap.loc, loc]
        if ev.term != snap.term:
            lost.append(f"term {snap.term} became {ev.term}")
        if ev.vote != snap.vote:
            lost.append(f"vote {snap.vote} became {ev.vote}")
        log = n.log
        if len(log) != snap.length or log.last_hash != snap.last_hash:
            first = next((i for i in range(min(len(log), len(old_log)))
                          if log.chain[i] != old_log.chain[i]), min(len(log), len(old_log)))
            if first < len(old_log):
                cited.append(old_log.locs[first])
                lost.append(f"log entry {first + 1} {describe_entry(old_log.keys[first])} "
                            + ("was lost" if first >= len(log) else
                               f"became {describe_entry(log.keys[first])}"))
            else:
                lost.append(f"the log grew from {len(old_log)} to {len(log)} entries")
        if lost:
            self.violate((n.name, loc), f"{n.name} restarted with state other than what it had "
                                        f"when it crashed: {'; '.join(lost)}", *cited)


class ApplyOrder(Property):
    """Figure 2, All Servers rule 1: if commitIndex > lastApplied, increment lastApplied and
    apply log[lastApplied]."""

    name = "ApplyOrder"
    statement = ("A node applies entries in index order 1, 2, 3, ..., each once (a restart may "
                 "replay from 1), only at or below its commit index, and the applied entry equals "
                 "the one in its log at that index.")
    reference = "Figure 2, All Servers rule 1"
    kinds = frozenset({"apply", "commit"})

    def on_apply(self, n: NodeState, index: int, key: EntryKey, loc: Loc, commit: int) -> None:
        keys = n.log.keys
        in_log = index <= len(keys)
        same = in_log and keys[index - 1] == key
        if same and index == n.applied + 1 and index <= commit:
            return  # the common case, a special case of apply_in_order (tested to imply it)
        log = n.log
        may_replay = n.replay_from is not None
        if apply_in_order(index, n.applied, may_replay, commit, same):
            return
        if not (index == n.applied + 1 or (may_replay and index == 1)):
            expected = f"{n.applied + 1}" + (" or 1 (after a restart)" if may_replay else "")
            self.violate(loc, f"{n.name} applied index {index} after index {n.applied} "
                              f"(expected {expected})", n.apply_loc, loc)
        elif index > commit:
            self.violate(loc, f"{n.name} applied index {index} above its commit index {commit}",
                         loc)
        elif not in_log:
            self.violate(loc, f"{n.name} applied index {index} but its log holds only "
                              f"{len(log)} entries", loc)
        else:
            self.violate(loc, f"{n.name} applied {describe_entry(key)} at index {index} but its "
                              f"log holds {describe_entry(log.keys[index - 1])} there",
                         log.locs[index - 1], loc)
