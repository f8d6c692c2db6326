"""Typed events: spec/trace.schema.json as msgspec Structs, decoded and validated in one C call.

The reader (checker/reader.py) decodes each event line straight into one of the classes below;
a line msgspec accepts is an event the schema accepts (tests/test_checker_schema.py checks this
against ``jsonschema`` on valid and mutated lines). A line it refuses goes to the hand-written
validator (checker/schema.py), which names the offending field, or accepts what msgspec is
stricter about (an integral float such as ``3.0`` where the schema says integer) and hands back
a normalised event. So this module may be stricter than the schema, never looser.

Field names are the schema's, except ``from`` (a Python keyword), which is ``from_``. An
optional field that is absent is :data:`msgspec.UNSET` (not ``None``: ``null`` can be a value).
Fields the schema does not name are allowed in events and messages and ignored here; entries
admit exactly ``term`` and ``data``, as in the schema.

Each class has a class attribute ``KIND`` (events) or ``TYPE`` (messages): its tag's value.
"""

# No "from __future__ import annotations": msgspec reads these annotations at class creation.

from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

__all__ = ["UNSET", "UnsetType"]

Natural = Annotated[int, Meta(ge=0)]
Positive = Annotated[int, Meta(ge=1)]
NodeId = Annotated[str, Meta(min_length=1, max_length=64)]
Text = Annotated[str, Meta(min_length=1)]
Role = Literal["follower", "candidate", "leader"]


class Entry(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    """``$defs/entry``: a log entry; ``data`` is any JSON value (null: a leader's no-op)."""

    term: Natural
    data: Any


# ------------------------------------------------------------------ $defs/message


class Message(Struct, tag_field="type", kw_only=True, gc=False):
    TYPE: ClassVar[str] = ""
    id: Text
    from_: NodeId = field(name="from")
    to: NodeId
    term: Natural
    reply_to: Text | UnsetType = UNSET


class RequestVote(Message, tag="RequestVote"):
    last_log_index: Natural
    last_log_term: Natural


class RequestVoteResponse(Message, tag="RequestVoteResponse"):
    granted: bool


class AppendEntries(Message, tag="AppendEntries"):
    prev_log_index: Natural
    prev_log_term: Natural
    entries: list[Entry]
    leader_commit: Natural


class AppendEntriesResponse(Message, tag="AppendEntriesResponse"):
    success: bool
    match_index: Natural
    conflict_term: Natural | None | UnsetType = UNSET
    conflict_index: Natural | UnsetType = UNSET


AnyMessage = RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse


# ------------------------------------------------------------------ $defs/event, per kind


class Event(Struct, tag_field="kind", kw_only=True, gc=False):
    """The fields every event has: the node's state after the event."""

    KIND: ClassVar[str] = ""
    type: Literal["event"]
    seq: Natural
    node: NodeId
    term: Natural
    role: Role
    vote: NodeId | None
    commit: Natural
    note: str | UnsetType = UNSET


class Start(Event, tag="start"):
    log: list[Entry]
    restart: bool


class Crash(Event, tag="crash"):
    """The node stopped (what it persisted survives)."""


class Timeout(Event, tag="timeout"):
    """An election timeout: the node stands as candidate."""


class TermChange(Event, tag="term"):
    """The node adopted a higher term."""


class Vote(Event, tag="vote"):
    candidate: NodeId


class RoleChange(Event, tag="role"):
    previous: Role | UnsetType = UNSET


class Append(Event, tag="append"):
    index: Positive
    entries: Annotated[list[Entry], Meta(min_length=1)]


class Truncate(Event, tag="truncate"):
    index: Positive


class Commit(Event, tag="commit"):
    index: Positive


class Apply(Event, tag="apply"):
    index: Positive
    entry: Entry


class Send(Event, tag="send"):
    msg: AnyMessage


class Receive(Event, tag="receive"):
    msg: AnyMessage


class Drop(Event, tag="drop"):
    msg: AnyMessage
    reason: str | UnsetType = UNSET


class Propose(Event, tag="propose"):
    data: Any
    accepted: bool
    index: Natural | UnsetType = UNSET
    leader: NodeId | None | UnsetType = UNSET


class Config(Event, tag="config"):
    """Voters must also be distinct (``uniqueItems``): the reader checks that."""

    voters: Annotated[list[NodeId], Meta(min_length=1)]
    outgoing: list[NodeId] | UnsetType = UNSET


EVENT_CLASSES: tuple[type[Event], ...] = (
    Start, Crash, Timeout, TermChange, Vote, RoleChange, Append, Truncate, Commit, Apply, Send,
    Receive, Drop, Propose, Config)
for _event in EVENT_CLASSES:
    _event.KIND = _event.__struct_config__.tag  # type: ignore[assignment]
for _message in (RequestVote, RequestVoteResponse, AppendEntries, AppendEntriesResponse):
    _message.TYPE = _message.__struct_config__.tag  # type: ignore[assignment]
AnyEvent = (Start | Crash | Timeout | TermChange | Vote | RoleChange | Append | Truncate | Commit
            | Apply | Send | Receive | Drop | Propose | Config)

_DECODER = msgspec.json.Decoder(AnyEvent)
#: Decodes one event line (bytes) into its class; raises msgspec.DecodeError/ValidationError.
decode_event = _DECODER.decode
#: Decodes newline-separated event lines (blank lines skipped) into a list, in one call.
decode_event_lines = _DECODER.decode_lines


def from_dict(obj: dict[str, Any]) -> Event:
    """An event the hand-written validator accepted (and normalised), as its class."""
    return msgspec.convert(obj, AnyEvent)  # type: ignore[arg-type]


def to_dict(ev: Event) -> dict[str, Any]:
    """The event as the JSON object it was decoded from (absent optional fields left out;
    fields the schema does not name are not kept)."""
    out: dict[str, Any] = msgspec.to_builtins(ev)
    return out
