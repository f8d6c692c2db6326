"""Reading etcd-io/raft state-machine traces (state_trace.go, built with ``-tags with_tla``).

Each line is a zap log record whose ``event`` object is one ``TracingEvent``: ``name``, ``nid``,
``state`` {term, vote, commit}, ``role``, ``log`` (the last log index only), ``conf`` (voters of
the incoming and the outgoing configuration), ``msg`` (type, term, from, to, entries as a count,
logTerm, index, commit, vote, reject, rejectHint) and ``prop``. This module turns lines into
checked :class:`EtcdEvent` values; anything else is an :class:`AdaptError` naming the line.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from checker.errors import TraceError

NAMES = frozenset((
    "InitState", "BecomeCandidate", "BecomeFollower", "BecomeLeader", "Commit", "Replicate",
    "ChangeConf", "ApplyConfChange", "Ready", "SendAppendEntriesRequest",
    "ReceiveAppendEntriesRequest", "SendAppendEntriesResponse", "ReceiveAppendEntriesResponse",
    "SendRequestVoteRequest", "ReceiveRequestVoteRequest", "SendRequestVoteResponse",
    "ReceiveRequestVoteResponse", "SendSnapshot", "ReceiveSnapshot",
))
ROLES = {"StateFollower": "follower", "StateCandidate": "candidate", "StateLeader": "leader",
         "StatePreCandidate": "candidate"}
GZIP_MAGIC = b"\x1f\x8b"
MSG_FIELDS = ("type", "term", "from", "to", "entries", "logTerm", "index", "commit", "reject",
              "rejectHint")


class AdaptError(TraceError):
    """Input an adapter cannot translate (the CLI prints it as one line, exit code 2)."""


@dataclass(frozen=True)
class EtcdEvent:
    """One TracingEvent. ``vote`` is None for etcd's "0" (no vote); ``conf`` is (voters,
    outgoing voters) as sorted tuples; ``msg`` keeps etcd's field names."""

    line: int
    name: str
    nid: str
    term: int
    vote: str | None
    commit: int
    role: str
    log: int
    conf: tuple[tuple[str, ...], tuple[str, ...]]
    msg: dict[str, Any] | None
    prop: dict[str, Any]


def _uint(obj: dict[str, Any], key: str, where: str, name: str, line: int) -> int:
    value = obj.get(key)
    if type(value) is not int or value < 0:
        raise AdaptError(name, line, f"{where}{key}",
                         f"must be a non-negative integer, got {value!r}")
    return value


def _node(value: Any, field: str, name: str, line: int) -> str:
    if type(value) is not str or not value or value == "0":
        raise AdaptError(name, line, field, f"must be an etcd node id (a non-zero number as a "
                                            f"string), got {value!r}")
    return value


def parse_event(obj: Any, name: str, line: int) -> EtcdEvent:
    """One decoded line -> EtcdEvent, or AdaptError naming what is missing."""
    event = obj.get("event") if isinstance(obj, dict) else None
    if not isinstance(event, dict) or "name" not in event or "nid" not in event:
        raise AdaptError(name, line, "event", "not an etcd-io/raft trace record: expected a JSON "
                                              'object with an "event" {name, nid, state, ...} '
                                              "(state_trace.go)")
    ev_name = event["name"]
    if ev_name not in NAMES:
        raise AdaptError(name, line, "event.name", f"unknown etcd trace event {ev_name!r}")
    nid = _node(event["nid"], "event.nid", name, line)
    state = event.get("state")
    if not isinstance(state, dict):
        raise AdaptError(name, line, "event.state", "is required: {term, vote, commit}")
    term = _uint(state, "term", "event.state.", name, line)
    commit = _uint(state, "commit", "event.state.", name, line)
    raw_vote = state.get("vote")
    if type(raw_vote) is not str:
        raise AdaptError(name, line, "event.state.vote", f"must be a string, got {raw_vote!r}")
    role = ROLES.get(event.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise AdaptError(name, line, "event.role", f"unknown role {event.get('role')!r}")
    log = _uint(event, "log", "event.", name, line)
    conf = event.get("conf")
    if (not isinstance(conf, list) or len(conf) != 2
            or not all(isinstance(c, list) for c in conf)):
        raise AdaptError(name, line, "event.conf", "must be [voters, outgoing voters]")
    voters = tuple(sorted((_node(v, "event.conf", name, line) for v in conf[0]), key=_order))
    outgoing = tuple(sorted((_node(v, "event.conf", name, line) for v in conf[1]), key=_order))
    msg = event.get("msg")
    if msg is not None:
        if not isinstance(msg, dict):
            raise AdaptError(name, line, "event.msg", "must be an object")
        for key in MSG_FIELDS:
            if key not in msg:
                raise AdaptError(name, line, f"event.msg.{key}", "is required but missing")
        for key in ("term", "entries", "logTerm", "index", "commit", "rejectHint"):
            _uint(msg, key, "event.msg.", name, line)
        _node(msg["from"], "event.msg.from", name, line)
        _node(msg["to"], "event.msg.to", name, line)
    elif ev_name.startswith(("Send", "Receive")):
        raise AdaptError(name, line, "event.msg", f"{ev_name} needs a msg")
    prop = event.get("prop") or {}
    if not isinstance(prop, dict):
        raise AdaptError(name, line, "event.prop", "must be an object")
    return EtcdEvent(line, ev_name, nid, term, None if raw_vote == "0" else raw_vote, commit,
                     role, log, (voters, outgoing), msg, prop)


def _order(node: str) -> tuple[int, str]:
    """etcd ids are numbers: "2" sorts before "10"."""
    return (int(node), node) if node.isdigit() else (1 << 62, node)


def file_lines(src: str | Path) -> Iterator[bytes]:
    """The lines of the file at ``src``, decompressed on the fly when it is gzip.

    Gzip is told by the file's first two bytes, not its name, so a renamed file still reads. A
    cut-short or undecodable gzip stream is an AdaptError naming the line it broke in (a bad
    checksum, found only at the end, names the whole file); OSError from
    opening or reading the file itself is left to the caller.
    """
    name = str(src)
    with open(src, "rb") as raw:
        if raw.peek(2)[:2] != GZIP_MAGIC:
            yield from raw
            return
        read = 0  # lines handed out so far: the error is in the next one
        try:
            with gzip.GzipFile(fileobj=raw) as unzipped:
                for line in unzipped:
                    read += 1
                    yield line
        except EOFError:
            raise AdaptError(name, read + 1, None,
                             "truncated gzip file: the compressed stream ends early") from None
        except zlib.error as exc:
            raise AdaptError(name, read + 1, None, f"corrupt gzip data: {exc}") from None
        except gzip.BadGzipFile as exc:  # header or trailer (CRC, length): the whole file
            raise AdaptError(name, 0, None, f"corrupt gzip data: {exc}") from None


def read_events(lines: Iterable[bytes], name: str) -> Iterator[EtcdEvent]:
    """Decode and check every line (blank lines are skipped); AdaptError on the first bad one."""
    count = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            what = ("truncated line: the file ends in the middle of a JSON value"
                    if not raw.endswith(b"\n") else f"invalid JSON: {exc.msg}")
            raise AdaptError(name, number, None, what) from None
        if isinstance(obj, dict) and obj.get("tag", "trace") != "trace":
            continue  # other zap records interleaved with the trace
        yield parse_event(obj, name, number)
        count += 1
    if count == 0:
        raise AdaptError(name, 0, None, "no etcd trace events: the file is empty")


def node_ids(events: list[EtcdEvent]) -> list[str]:
    """Every node id the trace names (nids, message ends, configurations, conf changes)."""
    ids: set[str] = set()
    for ev in events:
        ids.add(ev.nid)
        ids.update(ev.conf[0])
        ids.update(ev.conf[1])
        if ev.msg is not None:
            ids.add(ev.msg["from"])
            ids.add(ev.msg["to"])
        cc = ev.prop.get("cc")
        if isinstance(cc, dict):
            ids.update(str(n) for n in cc.get("newconf") or ())
            ids.update(str(c.get("nid")) for c in cc.get("changes") or () if isinstance(c, dict))
    ids.discard("None")
    return sorted(ids, key=_order)
