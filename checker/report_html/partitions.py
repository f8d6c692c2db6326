"""Partition periods, inferred: the trace contract has no partition event, but a ``drop``
may give ``reason: "partition"``. Between two nodes, a period starts at such a drop and lasts
to the last partition drop between them before a message between them gets through (or the
trace ends). It is an inference from the drops: a partition that dropped nothing is not seen,
and two partitions with no message between them in the gap read as one.
"""

from __future__ import annotations

from collections.abc import Callable

#: (node a, node b, first position, last position, partition drops), a < b
Period = tuple[int, int, int, int, int]


class PartitionTracker:
    """Open periods by pair of nodes; ``closed`` receives each period as it ends."""

    def __init__(self, closed: Callable[[Period], None]) -> None:
        self.closed = closed
        self.open: dict[tuple[int, int], list[int]] = {}

    def dropped(self, a: int, b: int, pos: int) -> None:
        """A message between ``a`` and ``b`` was dropped for a partition at ``pos``."""
        pair = (a, b) if a < b else (b, a)
        period = self.open.get(pair)
        if period is None:
            self.open[pair] = [pos, pos, 1]
        else:
            period[1] = pos
            period[2] += 1

    def delivered(self, a: int, b: int) -> None:
        """A message between ``a`` and ``b`` got through: any period between them is over."""
        if self.open:
            period = self.open.pop((a, b) if a < b else (b, a), None)
            if period is not None:
                self.closed((min(a, b), max(a, b), period[0], period[1], period[2]))

    def finish(self) -> None:
        for (a, b), period in sorted(self.open.items(), key=lambda kv: kv[1][0]):
            self.closed((a, b, period[0], period[1], period[2]))
        self.open.clear()
