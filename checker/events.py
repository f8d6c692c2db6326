"""Typed lines: spec/trace.schema.json as msgspec Structs, decoded and validated in one C call.

The schema is the contract; this module is its typed mirror, and
tests/test_checker_contract.py walks both and fails on any difference (kinds, fields, types,
enums, bounds, required keys, null, extra keys). The reader (checker/reader.py) decodes each
line straight into one of the classes below. A line msgspec refuses goes to ``jsonschema``
(checker/schema.py, the slow path), which names the offending field, or accepts what msgspec
is stricter about (an integral float such as ``3.0`` where the schema says integer: then
:func:`from_json` converts it). One keyword msgspec cannot check, ``uniqueItems``, is declared
here (``extra_json_schema``) and checked by the reader.

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
#: Distinct node ids (``uniqueItems``): declared for the contract test, checked by the reader.
NodeSet = Annotated[list[NodeId], Meta(extra_json_schema={"uniqueItems": True})]
NonEmptyNodeSet = Annotated[list[NodeId],
                            Meta(min_length=1, extra_json_schema={"uniqueItems": True})]


# ------------------------------------------------------------------ $defs/header


class Implementation(Struct, gc=False):
    name: Text
    version: str


class Header(Struct, kw_only=True, gc=False):
    """``$defs/header``: the first line of every trace file (the reader keeps it as a dict)."""

    type: Literal["header"]
    format: Literal["raft-trace"]
    version: Literal[1]
    implementation: Implementation
    nodes: NonEmptyNodeSet
    seed: int | UnsetType = UNSET
    clock: Literal["logical", "per-process"] | UnsetType = UNSET
    options: dict[str, Any] | UnsetType = UNSET


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

    voters: NonEmptyNodeSet
    outgoing: NodeSet | UnsetType = UNSET


EVENT_CLASSES: tuple[type[Event], ...] = (
    Start, Crash, Timeout, TermChange, Vote, RoleChange, Append, Truncate, Commit, Apply, Send,
    Receive, Drop, Propose, Config)
for _event in EVENT_CLASSES:
    _event.KIND = _event.__struct_config__.tag  # type: ignore[assignment]
MESSAGE_CLASSES: tuple[type[Message], ...] = (
    RequestVote, RequestVoteResponse, AppendEntries, AppendEntriesResponse)
for _message in MESSAGE_CLASSES:
    _message.TYPE = _message.__struct_config__.tag  # type: ignore[assignment]
AnyEvent = (Start | Crash | Timeout | TermChange | Vote | RoleChange | Append | Truncate | Commit
            | Apply | Send | Receive | Drop | Propose | Config)

_DECODER = msgspec.json.Decoder(AnyEvent)
#: Decodes one event line (bytes) into its class; raises msgspec.DecodeError/ValidationError.
decode_event = _DECODER.decode
#: Decodes newline-separated event lines (blank lines skipped) into a list, in one call.
decode_event_lines = _DECODER.decode_lines


#: Decodes a header line into a :class:`Header`; raises msgspec.DecodeError/ValidationError.
decode_header = msgspec.json.Decoder(Header).decode


def from_json(obj: Any) -> Event:
    """An event line the typed decoder refused, parsed as plain JSON, as its class: accepted
    when it differs from what the decoder takes only by integral floats (``3.0``) where the
    schema says integer, as the schema allows.

    Lax conversion takes those floats, and also coercions the schema refuses (``"3"`` to 3,
    ``1`` to true); the converted event must therefore give back exactly the values written,
    of the same JSON types, but for those floats. Raises msgspec.ValidationError otherwise
    (then checker.schema.explain says what is wrong)."""
    ev = msgspec.convert(obj, AnyEvent, strict=False)  # type: ignore[arg-type]
    if not _as_written(msgspec.to_builtins(ev), obj):
        raise msgspec.ValidationError("a value of another JSON type than the field's")
    return ev  # type: ignore[no-any-return]


def _as_written(value: Any, written: Any) -> bool:
    """Whether ``value`` (converted) is ``written`` (as parsed), an integral float read as an
    int aside; keys ``written`` has beyond the model's are not compared (they are ignored)."""
    kind = type(value)
    if kind is not type(written):
        return kind is int and type(written) is float and value == written
    if kind is dict:
        return all(k in written and _as_written(v, written[k]) for k, v in value.items())
    if kind is list:
        return len(value) == len(written) and all(map(_as_written, value, written))
    return bool(value == written)


def to_dict(ev: Event) -> dict[str, Any]:
    """The event as the JSON object it was decoded from (absent optional fields left out;
    fields the schema does not name are not kept)."""
    out: dict[str, Any] = msgspec.to_builtins(ev)
    return out
