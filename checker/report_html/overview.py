"""The whole run in at most ``BUCKETS`` buckets of consecutive events, for the page's overview
strip: computed in the pass that embeds the events, in memory that does not grow with the trace.

The run's length is not known while it is read: buckets start one event wide and, when all
``BUCKETS`` are used, neighbours merge in pairs (the width doubles), so a run ends in between
``BUCKETS / 2`` and ``BUCKETS`` buckets. Every field merges exactly: maxima, sums, bit sets.
"""

from __future__ import annotations

from typing import Any

BUCKETS = 1024
# Per node and bucket, what the node was at some time in the bucket (bits).
FOLLOWER, CANDIDATE, LEADER, DOWN, CUT, CRASH, RESTART, ELECTED = (1 << k for k in range(8))
ROLE_BITS = {"follower": FOLLOWER, "candidate": CANDIDATE, "leader": LEADER}


class Overview:
    """Per bucket: the highest term any node has reported so far, that term's leader (-1:
    none seen yet), the highest commit index reported in the bucket, per node a bit set
    (``FOLLOWER`` ... ``ELECTED``), and counts of sends, lost messages, partition drops and
    cited (violating) events."""

    def __init__(self, nodes: int) -> None:
        self.width = 1
        self.edge = 0  # first position after the last bucket
        self.term: list[int] = []
        self.leader: list[int] = []
        self.commit: list[int] = []
        self.flags: list[list[int]] = [[] for _ in range(nodes)]
        self.sends: list[int] = []
        self.lost: list[int] = []
        self.cut: list[int] = []
        self.viol: list[int] = []
        self.state = [0] * nodes  # each node's current bit: its role, or DOWN
        self.role_term = [0] * nodes  # the term of each node's current role
        self.max_term = 0

    def reach(self, pos: int) -> int:
        """Open buckets up to the one holding position ``pos``; its index."""
        while pos >= self.edge:
            if len(self.term) == BUCKETS:
                self._halve()
            else:
                self._open()
            self.edge = len(self.term) * self.width
        return pos // self.width

    def _open(self) -> None:
        # A bucket starts with the highest term so far and, if it has one, that term's leader.
        term = self.max_term
        leader = next((n for n, bits in enumerate(self.state)
                       if bits == LEADER and self.role_term[n] == term), -1)
        self.term.append(term)
        self.leader.append(leader)
        self.commit.append(0)
        for n, bits in enumerate(self.state):
            self.flags[n].append(bits)
        for counts in (self.sends, self.lost, self.cut, self.viol):
            counts.append(0)

    def _halve(self) -> None:
        def pairs(values: list[int], how: Any) -> list[int]:
            return [how(values[k], values[k + 1]) for k in range(0, len(values) - 1, 2)]

        def add(x: int, y: int) -> int:
            return x + y

        leaders = []
        for k in range(0, len(self.term) - 1, 2):  # the later term's leader, if it had one
            later = self.leader[k + 1] >= 0 or self.term[k + 1] > self.term[k]
            leaders.append(self.leader[k + 1] if later else self.leader[k])
        self.leader = leaders
        self.term = pairs(self.term, max)
        self.commit = pairs(self.commit, max)
        self.flags = [pairs(f, int.__or__) for f in self.flags]
        self.sends, self.lost, self.cut, self.viol = (
            pairs(c, add) for c in (self.sends, self.lost, self.cut, self.viol))
        self.width *= 2

    def event(self, b: int, n: int, term: int, role: str, commit: int, kind: str) -> None:
        """Event at bucket ``b`` (from ``reach``) of node index ``n``, with the node's state
        after it."""
        if term > self.term[b]:
            self.term[b] = self.max_term = term
            self.leader[b] = -1
        if commit > self.commit[b]:
            self.commit[b] = commit
        before = self.state[n]
        if kind == "crash":
            now = DOWN
            self.flags[n][b] |= DOWN | CRASH
        elif before == DOWN and kind != "start":
            return  # a drop addressed to a node that is down: it stays down
        else:
            now = ROLE_BITS[role]
            if kind == "start" and before == DOWN:
                self.flags[n][b] |= RESTART
        if now == LEADER:
            if before != LEADER or self.role_term[n] != term:
                self.flags[n][b] |= ELECTED
            if term == self.term[b]:
                self.leader[b] = n
        if now != before:
            self.flags[n][b] |= now
            self.state[n] = now
        self.role_term[n] = term

    def mark_cut(self, a: int, b: int, first: int, last: int) -> None:
        """Nodes ``a`` and ``b`` were cut off from each other from position ``first`` to
        ``last`` (both already read)."""
        for k in range(first // self.width, last // self.width + 1):
            self.flags[a][k] |= CUT
            self.flags[b][k] |= CUT

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "buckets": len(self.term), "term": self.term,
                "leader": self.leader, "commit": self.commit, "flags": self.flags,
                "sends": self.sends, "lost": self.lost, "cut": self.cut, "viol": self.viol,
                "bits": {"follower": FOLLOWER, "candidate": CANDIDATE, "leader": LEADER,
                         "down": DOWN, "cut": CUT, "crash": CRASH, "restart": RESTART,
                         "elected": ELECTED}}
