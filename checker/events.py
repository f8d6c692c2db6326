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

from collections.abc import Callable
from functools import lru_cache, reduce
from operator import or_
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

__all__ = ["UNSET", "UnsetType"]

T = TypeVar("T")

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


class RawEntry(Entry, forbid_unknown_fields=True, frozen=True, gc=False):
    """An entry of a state event (start's log, append's entries, apply's entry) as the
    checking loop reads it: ``data`` kept as the JSON text it was written as (checked to be
    one JSON value, not turned into objects). What the checker does with entries it does by
    text when the texts are equal, and decodes only otherwise (checker/state.py)."""

    data: msgspec.Raw


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


class ReadIndex(Message, tag="ReadIndex"):
    """A follower asks its leader for a read index (thesis §6.4, follower reads)."""


class ReadIndexResponse(Message, tag="ReadIndexResponse"):
    success: bool
    read_index: Natural | UnsetType = UNSET
    reason: Text | UnsetType = UNSET


AnyMessage = (RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse
              | ReadIndex | ReadIndexResponse)


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
    RequestVote, RequestVoteResponse, AppendEntries, AppendEntriesResponse, ReadIndex,
    ReadIndexResponse)
for _message in MESSAGE_CLASSES:
    _message.TYPE = _message.__struct_config__.tag  # type: ignore[assignment]
AnyEvent = (Start | Crash | Timeout | TermChange | Vote | RoleChange | Append | Truncate | Commit
            | Apply | Send | Receive | Drop | Propose | Config)

#: Decodes a header line into a :class:`Header`; raises msgspec.DecodeError/ValidationError.
decode_header = msgspec.json.Decoder(Header).decode


# ------------------------------------------------------------------ $defs/history


class HistoryLine(Struct, kw_only=True, gc=False):
    """``$defs/history``: one operation line of a client history carried by the trace (``op``,
    checked against spec/history.schema.json by checker/history/jsonl.py). Not an event: the
    reader sets these lines aside (:attr:`checker.reader.TraceFile.history`)."""

    type: Literal["history"]
    op: dict[str, Any]


#: Decodes a history line into a :class:`HistoryLine`; raises msgspec errors.
decode_history_line = msgspec.json.Decoder(HistoryLine).decode


class Model:
    """A typed decoder and the classes it decodes into: the contract's own (:data:`GENERIC`,
    the classes above), or the same with node ids restricted to one cluster's
    (:func:`model_for`)."""

    def __init__(self, classes: dict[type, type], raw_fields: dict[str, str] | None = None
                 ) -> None:
        #: This model's class for each class above (the class itself in :data:`GENERIC`).
        self.classes = classes
        #: Event kind -> its field holding entries whose data this model keeps raw.
        self.raw_fields = raw_fields or {}
        self.events = tuple(classes[cls] for cls in EVENT_CLASSES)
        self.any_event: Any = reduce(or_, self.events)
        decoder = msgspec.json.Decoder(self.any_event)
        #: One event line (bytes) into its class; raises msgspec.DecodeError/ValidationError.
        self.decode: Callable[[bytes], Event] = decoder.decode
        #: Newline-separated event lines (blank lines skipped) into a list, in one call.
        self.decode_lines: Callable[[Any], list[Event]] = decoder.decode_lines

    def __getitem__(self, cls: type[T]) -> type[T]:
        return self.classes[cls]  # type: ignore[return-value]

    def from_json(self, obj: Any) -> Event:
        """An event line the typed decoder refused, parsed as plain JSON, as its class:
        accepted when it differs from what the decoder takes only by integral floats (``3.0``)
        where the schema says integer, as the schema allows.

        Lax conversion takes those floats, and also coercions the schema refuses (``"3"`` to
        3, ``1`` to true); the converted event must therefore give back exactly the values
        written, of the same JSON types, but for those floats. Raises msgspec.ValidationError
        otherwise (then checker.schema.explain says what is wrong)."""
        kind = obj.get("kind") if type(obj) is dict else None
        field = self.raw_fields.get(kind) if type(kind) is str else None
        target = _raw_data(obj, field) if field is not None and field in obj else obj
        ev: Event = msgspec.convert(_big_ints(target), self.any_event, strict=False)
        if not _as_written(to_builtins(ev), obj):
            raise msgspec.ValidationError("a value of another JSON type than the field's")
        return ev


GENERIC = Model({cls: cls for cls in (*MESSAGE_CLASSES, *EVENT_CLASSES, Entry)})
decode_event = GENERIC.decode
decode_event_lines = GENERIC.decode_lines
from_json = GENERIC.from_json


@lru_cache(maxsize=64)
def model_for(nodes: frozenset[str]) -> Model:
    """The model the checking loop reads with. Its node ids (``node``, ``vote``, a message's
    ``from`` and ``to``, ``candidate``, ``leader``, ``voters``) can only be ``nodes``: the
    decoder then checks that every node an event names is a member, in C, and gives each
    node id as one shared string (whose hash is computed once), which the loop looks up many
    times. The entries of state events are :class:`RawEntry`: their data is not turned into
    objects. Its classes are subclasses of the classes above, tag for tag and field for
    field."""
    members = Literal[tuple(sorted(nodes))]  # type: ignore[valid-type]
    classes: dict[type, type] = {Entry: Entry}  # messages keep their entries' data decoded
    raw_fields = {}
    for cls in (*MESSAGE_CLASSES, *EVENT_CLASSES):  # messages first: events hold them
        if cls is EVENT_CLASSES[0]:
            classes[Entry] = RawEntry
        config = cls.__struct_config__
        fields: list[Any] = []
        rename = {}
        for f in msgspec.structs.fields(cls):
            kind = _restricted(f.type, members, classes)
            fields.append((f.name, kind) if f.default is msgspec.NODEFAULT
                          else (f.name, kind, f.default))
            if f.encode_name != f.name:
                rename[f.name] = f.encode_name
            if _mentions(kind, RawEntry):
                raw_fields[config.tag] = f.encode_name
        classes[cls] = msgspec.defstruct(
            cls.__name__, fields, bases=(cls,), module=__name__, tag=config.tag,
            tag_field=config.tag_field, rename=rename or None, kw_only=True, gc=False,
            forbid_unknown_fields=config.forbid_unknown_fields)
    classes[Entry] = RawEntry
    return Model(classes, raw_fields)


def _mentions(kind: Any, cls: type) -> bool:
    """Whether the type ``kind`` is ``cls`` or has it among its arguments, at any depth."""
    return kind is cls or any(_mentions(arg, cls) for arg in get_args(kind))


def _raw_data(obj: dict[str, Any], field: str) -> dict[str, Any]:
    """``obj`` with the data of the entries in ``field`` as JSON text (what
    :class:`RawEntry` holds), for conversion."""
    def raw(entry: Any) -> Any:
        if type(entry) is dict and "data" in entry:
            return {**entry, "data": msgspec.Raw(msgspec.json.encode(entry["data"]))}
        return entry

    value = obj[field]
    return {**obj, field: [raw(e) for e in value] if type(value) is list else raw(value)}


def _big_ints(value: Any) -> Any:
    """``value`` with integral floats beyond 2**53 as ints, outside ``data`` (any JSON value,
    kept as written): lax conversion takes smaller ones only, and the schema's integers are
    all integral numbers (``9007199254740994.0`` is one)."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() and abs(value) > 2**53 else value
    if kind is dict:
        return {k: v if k == "data" else _big_ints(v) for k, v in value.items()}
    if kind is list:
        return [_big_ints(v) for v in value]
    return value


def _builtin(value: Any) -> Any:
    """to_builtins' hook: raw JSON text as the value it encodes."""
    if type(value) is msgspec.Raw:
        return msgspec.json.decode(value)
    raise NotImplementedError


def to_builtins(value: Any) -> Any:
    """msgspec.to_builtins, raw data included (as the value it encodes)."""
    return msgspec.to_builtins(value, enc_hook=_builtin)


def _restricted(kind: Any, members: Any, classes: dict[type, type]) -> Any:
    """``kind`` (a field's type) with NodeId replaced by ``members`` and classes by theirs."""
    if kind == NodeId:
        return members
    if isinstance(kind, type):
        return classes.get(kind, kind)
    origin, args = get_origin(kind), get_args(kind)
    if origin is Annotated:
        return Annotated[(_restricted(args[0], members, classes), *args[1:])]  # type: ignore
    if origin in (Union, UnionType):
        return reduce(or_, [_restricted(arg, members, classes) for arg in args])
    if origin is list:
        return list[_restricted(args[0], members, classes)]  # type: ignore[misc]
    return kind


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
    out: dict[str, Any] = to_builtins(ev)
    return out
