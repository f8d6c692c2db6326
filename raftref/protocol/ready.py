"""What one input to a node produces, for its driver to perform (compare etcd-io/raft's Ready)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from raftref.protocol.messages import Entry, Message, NodeId
from raftref.protocol.reads import ReadResult
from raftref.protocol.sessions import CommandResult
from raftref.protocol.storage import PersistWrite


@dataclass(frozen=True)
class ProposeResult:
    """The answer to a client proposal: where it went, or who to ask instead (§8, redirect)."""

    accepted: bool
    index: int | None = None
    leader_hint: NodeId | None = None


@dataclass
class Ready:
    """Effects of one input, for the driver to perform in this order: persist, send, apply."""

    persist: PersistWrite | None = None
    messages: list[Message] = field(default_factory=list)
    applied: list[tuple[int, Entry]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    propose_result: ProposeResult | None = None
    # Answers to read() (raftref/protocol/reads.py), in this input or a later one.
    reads: list[ReadResult] = field(default_factory=list)
    # The state machine's result of each command applied (raftref/protocol/sessions.py).
    results: list[CommandResult] = field(default_factory=list)
