"""Abstract Raft states rebuilt from a raft-trace, so the lemmas can be checked on real runs.

The mapping from a node's events to the abstract state (model.py) follows spec/PROPERTIES.md
("How state is rebuilt from events"): a node's term and role are those of its latest event
(leader when the role is ``leader``; candidates and followers are the abstract Secondary), its
log comes from ``start``/``append``/``truncate``, and only the entries' terms are kept. A crashed
node keeps its last state until its ``start``: to the abstract model it is a server nobody hears
from, which a leader may stay.

The ghost ``committed`` set comes from commit events. With ``ghost="own-term"`` (the default) a
node at term t whose commit index covers index k adds (k, t) when its entry at k has term t:
the entries committed in their own term, which is what the abstract CommitEntry adds (endive's
``immediatelyCommitted``); earlier-term entries committed through them are implied by the
lemmas. With ``ghost="commit-index"`` each commit event adds the entry at the new commit index,
whatever its term: the exact inverse of trace_export, for reading back a BMC path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from checker.proof.model import RaftState
from checker.proof.ops import ConcreteView

GHOSTS = ("own-term", "commit-index")


class TraceStates:
    """Feed events with :meth:`apply`; read the current abstract state with :meth:`view`."""

    def __init__(self, nodes: list[str], ghost: str = "own-term") -> None:
        if ghost not in GHOSTS:
            raise ValueError(f"ghost must be one of {', '.join(GHOSTS)}, got {ghost!r}")
        self.ghost = ghost
        self.nodes = list(nodes)
        self.index = {n: k for k, n in enumerate(nodes)}
        count = len(nodes)
        self.terms = [0] * count
        self.leader = [False] * count
        self.leader_term = [-1] * count
        self.logs: list[list[int]] = [[] for _ in range(count)]
        self.committed: dict[tuple[int, int], int] = {}

    def apply(self, event: dict[str, Any]) -> bool:
        """Take one event; True when the abstract state changed."""
        s = self.index[event["node"]]
        before = (self.terms[s], self.leader[s], len(self.logs[s]), len(self.committed))
        kind = event["kind"]
        log = self.logs[s]
        if kind == "start":
            log[:] = [e["term"] for e in event["log"]]
        elif kind == "append":
            del log[event["index"] - 1:]
            log.extend(e["term"] for e in event["entries"])
        elif kind == "truncate":
            del log[event["index"] - 1:]
        if event["role"] == "leader" and (kind == "role" or not self.leader[s]):
            self.leader_term[s] = event["term"]
        self.terms[s] = event["term"]
        # A leader that adopts a higher term steps down in the same input, but writes the
        # "term" event before the "role" event: it leads only the term it was elected in.
        self.leader[s] = event["role"] == "leader" and event["term"] == self.leader_term[s]
        if kind == "commit" or (kind == "start" and event["commit"] > 0):
            self._commit(s, event["commit"], event["term"])
        after = (self.terms[s], self.leader[s], len(self.logs[s]), len(self.committed))
        return after != before or kind in ("append", "truncate", "start")

    def _commit(self, s: int, index: int, term: int) -> None:
        log = self.logs[s]
        if self.ghost == "commit-index":
            if 1 <= index <= len(log):
                self.committed.setdefault((index, log[index - 1]), term)
            return
        for k in range(min(index, len(log)), 0, -1):
            if log[k - 1] < term:
                break  # terms only decrease further down a log
            if log[k - 1] == term:
                self.committed.setdefault((k, term), term)

    def view(self) -> ConcreteView:
        return ConcreteView(self.terms, self.leader, self.logs,
                            ((i, t, ct) for (i, t), ct in self.committed.items()))

    def state(self) -> RaftState:
        return RaftState(tuple(self.terms), tuple(self.leader),
                         tuple(tuple(log) for log in self.logs),
                         frozenset((i, t, ct) for (i, t), ct in self.committed.items()))


def states_from_lines(lines: Iterable[bytes | str], ghost: str = "own-term",
                      every_event: bool = False) -> Iterator[tuple[dict[str, Any], TraceStates]]:
    """(event, rebuilt states) after each event that changes the abstract state (or after every
    event with ``every_event``). The TraceStates object is shared: read it before moving on."""
    states: TraceStates | None = None
    for line in lines:
        obj = orjson.loads(line)
        if obj.get("type") == "header":
            states = TraceStates(obj["nodes"], ghost)
            continue
        if states is None:
            raise ValueError("a raft-trace starts with its header line")
        if obj["kind"] in ("send", "receive", "drop", "propose", "apply"):
            if every_event:
                yield obj, states
            continue
        changed = states.apply(obj)
        if changed or every_event:
            yield obj, states
