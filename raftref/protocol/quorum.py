"""The one place that answers "is this a majority?" (paper §5.2: a candidate wins with votes
from a majority of the servers; §5.3: an entry is committed once a majority stores it).

Any two majorities of one set of servers share a server: that intersection is what makes
Election Safety and Leader Completeness hold.
"""

from __future__ import annotations


def majority(servers: int) -> int:
    """The size of the smallest majority of ``servers`` servers."""
    return servers // 2 + 1
