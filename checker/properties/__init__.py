"""The properties of spec/PROPERTIES.md, one class each, in the order of that file."""

from __future__ import annotations

from checker.properties.base import Context, Property
from checker.properties.figure3 import (
    ElectionSafety,
    LeaderAppendOnly,
    LeaderCompleteness,
    LogMatching,
    StateMachineSafety,
)
from checker.properties.messages import MessageRules
from checker.properties.stricter import (
    ApplyOrder,
    CommitJustified,
    CommittedDurable,
    TermMonotonic,
    VoteOnce,
)

ALL_PROPERTIES: tuple[type[Property], ...] = (
    ElectionSafety, LeaderAppendOnly, LogMatching, LeaderCompleteness, StateMachineSafety,
    TermMonotonic, VoteOnce, CommitJustified, CommittedDurable, ApplyOrder, MessageRules,
)
PROPERTY_NAMES: tuple[str, ...] = tuple(p.name for p in ALL_PROPERTIES)

__all__ = [
    "ALL_PROPERTIES", "PROPERTY_NAMES", "Context", "Property", "ElectionSafety",
    "LeaderAppendOnly", "LogMatching", "LeaderCompleteness", "StateMachineSafety",
    "TermMonotonic", "VoteOnce", "CommitJustified", "CommittedDurable", "ApplyOrder",
    "MessageRules",
]
