"""What a node keeps on stable storage (Figure 2, "Persistent state on all servers"), and the
writes it asks its driver to make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raftref.protocol.messages import Entry, NodeId


@dataclass(frozen=True)
class PersistentState:
    """Fig2 "Persistent state on all servers": currentTerm, votedFor, log[]."""

    current_term: int = 0
    voted_for: NodeId | None = None
    log: tuple[Entry, ...] = ()


@dataclass(frozen=True)
class PersistWrite:
    """What must reach stable storage before this batch's messages leave (Fig2: "updated on
    stable storage before responding to RPCs"): currentTerm, votedFor, and the log changes in
    order, each ``("truncate", index)`` or ``("append", index, entries)``."""

    current_term: int
    voted_for: NodeId | None
    log_ops: tuple[tuple[Any, ...], ...] = ()

    def apply_to(self, state: PersistentState) -> PersistentState:
        """The persisted state after this write."""
        log = list(state.log)
        for op in self.log_ops:
            if op[0] == "truncate":
                del log[op[1] - 1 :]
            else:
                assert op[1] == len(log) + 1, "appends are contiguous"
                log.extend(op[2])
        return PersistentState(self.current_term, self.voted_for, tuple(log))
