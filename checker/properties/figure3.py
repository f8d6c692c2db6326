"""The five guarantees of the paper's Figure 3, checked on a trace."""

from __future__ import annotations

from checker.properties.base import Context, Property, describe_entry
from checker.properties.predicates import (
    at_most_one_leader,
    leader_append_only,
    leader_complete,
    log_matching,
    state_machine_safe,
)
from checker.state import EntryKey, Loc, NodeState

MAX_MARKS_PER_TERM = 8


class ElectionSafety(Property):
    """Paper §5.2: a candidate needs votes from a majority, and each server votes once per term,
    so two candidates cannot both win one term. Memory: one leader per term."""

    name = "ElectionSafety"
    statement = "At most one node becomes leader in a given term."
    reference = "Paper §5.2, Figure 3"
    kinds = frozenset({"role"})

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.leaders: dict[int, tuple[str, Loc]] = {}

    def on_leader(self, n: NodeState, loc: Loc) -> None:
        first = self.leaders.setdefault(n.term, (n.name, loc))
        if not at_most_one_leader(n.term, first[0], n.term, n.name):
            self.violate((n.term, n.name),
                         f"two leaders in term {n.term}: {first[0]} and then {n.name}",
                         first[1], loc)


class LeaderAppendOnly(Property):
    """Paper §5.3: a leader never overwrites or deletes entries in its log; it only appends."""

    name = "LeaderAppendOnly"
    statement = ("While a node is leader of a term, it never truncates its log and never "
                 "overwrites an entry (an `append` never starts below its log length + 1).")
    reference = "Paper §5.3, Figure 3"
    kinds = frozenset({"role", "append", "truncate"})

    def on_truncate(self, n: NodeState, index: int, loc: Loc, by_append: bool) -> None:
        length = len(n.log)
        if not leader_append_only(n.leading, index, length):
            what = "overwrote" if by_append else "truncated"
            self.violate(loc, f"{n.name}, leader of term {n.term}, {what} its log from index "
                              f"{index} (it held {length} entries)", n.lead_loc, loc)


class LogMatching(Property):
    """Paper §5.3: a leader creates at most one entry per index in a term, and the
    AppendEntries consistency check extends the match to every earlier entry. Memory: one chain
    hash per distinct (index, term) ever written."""

    name = "LogMatching"
    statement = ("If two logs (of any nodes, at any times) contain an entry with the same index "
                 "and term, the logs are identical in all entries up to and including that index.")
    reference = "Paper §5.3, Figure 3"
    kinds = frozenset({"start", "append"})

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.seen: dict[tuple[int, int], tuple[bytes, Loc]] = {}

    def on_entry(self, n: NodeState, index: int, key: EntryKey, h: bytes, loc: Loc) -> None:
        slot = (index, key[0])
        first = self.seen.get(slot)
        if first is None:
            self.seen[slot] = (h, loc)
            return
        if log_matching(key[0], key[0], first[0], h):
            return
        parents = self.ctx.ledger.parents
        a, b = self.ctx.ledger.first_difference(first[0], h)
        _, at, key_a, loc_a, _ = parents[a]
        _, _, key_b, loc_b, _ = parents[b]
        where = ("the entries themselves differ" if at == index else
                 f"they differ at index {at}: {describe_entry(key_a)} vs {describe_entry(key_b)}")
        self.violate(frozenset((a, b)),
                     f"two logs hold an entry of term {key[0]} at index {index} ({n.name}'s is "
                     f"written here) but are not identical up to it: {where}",
                     first[1], loc, loc_a, loc_b)


class LeaderCompleteness(Property):
    """Paper §5.4: a voter refuses a candidate whose log is less up-to-date (§5.4.1), and
    leaders commit only entries of their own term by counting (§5.4.2); together, every entry
    committed in a term is in the log of the leader of every later term.

    Commits and elections may be seen in either order (files merged by send/receive order), so
    both directions are checked: each election against the commits seen so far, and each commit
    against the leaders of later terms seen so far. Memory: per term, the longest committed
    prefix (index, chain hash), and per elected leader its log's (length, last hash); the
    ledger's parent links find a leader's hash at any index.
    """

    name = "LeaderCompleteness"
    statement = ("If an entry is committed in term t, it is in the log of every leader of every "
                 "term greater than t, at the moment that leader is elected.")
    reference = "Paper §5.4, Figure 3"
    kinds = frozenset({"role", "commit", "start"})

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        # term -> committed prefixes (index, hash, loc, key) no one of which contains another
        self.marks: dict[int, list[tuple[int, bytes, Loc, EntryKey]]] = {}
        # elected leaders: (term, node, log length, last hash, loc of the role event)
        self.leaders: list[tuple[int, str, int, bytes, Loc]] = []

    def on_leader(self, n: NodeState, loc: Loc) -> None:
        log = n.log
        length = len(log)
        self.leaders.append((n.term, n.name, length, log.last_hash, loc))
        for term, marks in self.marks.items():
            for index, h, mloc, key in marks:
                has = index <= length and log.chain[index - 1] == h
                if not leader_complete(term, n.term, has):
                    self._report(term, index, key, mloc, n.term, n.name, loc)

    def on_commit(self, n: NodeState, old: int, new: int, loc: Loc) -> None:
        log = n.log
        index = min(new, len(log))
        if index == 0:
            return
        h = log.chain[index - 1]
        term = n.term
        if not self._add_mark(term, index, h, loc, log.keys[index - 1]):
            return
        ancestor = self.ctx.ledger.ancestor
        for lterm, leader, length, last, lloc in self.leaders:
            if lterm > term:
                has = ancestor(last, length, index) == h
                if not leader_complete(term, lterm, has):
                    self._report(term, index, log.keys[index - 1], loc, lterm, leader, lloc)

    def _add_mark(self, term: int, index: int, h: bytes, loc: Loc, key: EntryKey) -> bool:
        """Record that the prefix ending at ``index`` (hash ``h``) was committed in ``term``;
        False when an earlier mark of that term already covers it."""
        marks = self.marks.setdefault(term, [])
        ancestor = self.ctx.ledger.ancestor
        for k, (mindex, mh, _, _) in enumerate(marks):
            if mindex >= index and ancestor(mh, mindex, index) == h:
                return False
            if mindex < index and ancestor(h, index, mindex) == mh:
                marks[k] = (index, h, loc, key)
                return True
        if len(marks) < MAX_MARKS_PER_TERM:
            marks.append((index, h, loc, key))
        return True

    def _report(self, term: int, index: int, key: EntryKey, commit_loc: Loc, leader_term: int,
                leader: str, leader_loc: Loc) -> None:
        self.violate((term, index, leader_term),
                     f"the entry {describe_entry(key)} at index {index} was committed in term "
                     f"{term}, but {leader} became leader of term {leader_term} without it",
                     commit_loc, leader_loc)


class StateMachineSafety(Property):
    """Paper §5.4.3: a server applies an entry only once it is committed, and committed entries
    are the same on every server (Leader Completeness). Memory: one entry per applied index."""

    name = "StateMachineSafety"
    statement = "No two nodes apply different entries (term and data) at the same index."
    reference = "Paper §5.4.3, Figure 3"
    kinds = frozenset({"apply"})

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        # What was first applied at each index (index i at position i - 1), and by whom/where:
        # two lists, so the hot comparison touches only the key. Indexes applied out of turn
        # (past the end, leaving a gap) wait in ``beyond`` until the gap closes.
        self.keys: list[EntryKey] = []
        self.firsts: list[tuple[str, Loc]] = []
        self.beyond: dict[int, tuple[EntryKey, str, Loc]] = {}

    def on_apply(self, n: NodeState, index: int, key: EntryKey, loc: Loc, commit: int) -> None:
        keys = self.keys
        if index <= len(keys):
            first = keys[index - 1]
            if first != key and not state_machine_safe(first, key):  # equal keys: safe
                self._violated(index, first, self.firsts[index - 1], n, key, loc)
        elif index == len(keys) + 1 and not self.beyond:
            keys.append(key)
            self.firsts.append((n.name, loc))
        else:
            self._beyond(n, index, key, loc)

    def _beyond(self, n: NodeState, index: int, key: EntryKey, loc: Loc) -> None:
        """An index past the next one (a gap), or any index while gaps are open: rare."""
        beyond = self.beyond
        first = beyond.get(index)
        if first is None:
            beyond[index] = (key, n.name, loc)
        elif first[0] != key and not state_machine_safe(first[0], key):
            self._violated(index, first[0], first[1:], n, key, loc)  # type: ignore[arg-type]
        keys = self.keys
        while len(keys) + 1 in beyond:  # the gap closed: move what follows it to the lists
            k, name, where = beyond.pop(len(keys) + 1)
            keys.append(k)
            self.firsts.append((name, where))

    def _violated(self, index: int, first: EntryKey, by: tuple[str, Loc], n: NodeState,
                  key: EntryKey, loc: Loc) -> None:
        self.violate((index, key),
                     f"{by[0]} applied {describe_entry(first)} at index {index}, "
                     f"{n.name} applied {describe_entry(key)} there", by[1], loc)
