"""Events to rows for the trace store, fast: one read of the trace (shared with the checker when
both run), rows written a batch at a time.

Why not ``Table.insert_all`` for events: sqlite-utils inspects every value of every row
(``jsonify_if_needed``), and an ingest --no-check took about twice as long with it (100,000
events, measured when the store moved to checker/store/). The events table is created by
sqlite-utils (checker/store/db.py) and filled here with ``executemany``, a batch at a time, in
the caller's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import sqlite_utils

from checker.errors import TraceError
from checker.events import AnyEvent, Send, to_dict
from checker.reader import Event, FileSource, TraceFile, merge

BATCH = 4096  # event rows per executemany

_EVENT_CORE = frozenset({"type", "seq", "node", "kind", "term", "role", "vote", "commit", "msg"})
_MSG_CORE = frozenset({"type", "id", "from", "to"})
_dumps = msgspec.json.encode  # not orjson: event data may hold integers beyond 64 bits


def event_row(run_id: int, event: AnyEvent, file: int, line: int) -> tuple[Any, ...]:
    """One ``events`` row, in the column order of ``EVENT_COLUMNS``: the common fields as
    columns, the rest of the event as JSON in ``extra`` (a message's fields other than type,
    id, from and to go to ``extra.msg``). Fields the schema does not name are not kept."""
    ev = to_dict(event)
    msg = ev.get("msg")
    if msg is None:
        extra = (None if len(ev) == 8
                 else _dumps({k: v for k, v in ev.items() if k not in _EVENT_CORE}).decode())
        return (run_id, file, ev["seq"], line, ev["node"], ev["kind"], ev["term"], ev["role"],
                ev["vote"], ev["commit"], None, None, None, None, extra)
    rest = {k: v for k, v in ev.items() if k not in _EVENT_CORE}
    rest["msg"] = {k: v for k, v in msg.items() if k not in _MSG_CORE}
    return (run_id, file, ev["seq"], line, ev["node"], ev["kind"], ev["term"], ev["role"],
            ev["vote"], ev["commit"], msg["type"], msg["from"], msg["to"], msg["id"],
            _dumps(rest).decode())


class EventWriter:
    """Turns batches of validated events into ``events`` rows and writes them."""

    def __init__(self, db: sqlite_utils.Database, run_id: int, columns: Iterable[str]) -> None:
        names = list(columns)
        self.conn = db.conn
        self.sql = (f"INSERT INTO events ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' * len(names))})")
        self.run_id = run_id
        self.pending: list[tuple[Any, ...]] = []
        self.count = 0

    def add(self, batch: Iterable[Event]) -> None:
        run_id = self.run_id
        row = event_row
        self.pending.extend([row(run_id, ev, loc[0], loc[1]) for ev, loc in batch])
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.conn.executemany(self.sql, self.pending)
            self.count += len(self.pending)
            self.pending = []


class TeeFile(TraceFile):
    """A trace file whose validated batches also go to ``sink``: the checker reads the file
    and the store gets the same parsed events, for one pass over the file."""

    sink: Callable[[list[Event]], None] = staticmethod(lambda batch: None)  # type: ignore

    def batches(self) -> Iterator[list[Event]]:
        for batch in super().batches():
            self.sink(batch)
            yield batch


def read_events(paths: list[Path], sink: Callable[[list[Event]], None]) -> None:
    """Every event of ``paths`` to ``sink``, validated but not checked. Several files are
    merged as the checker merges them (each receive after its send)."""
    files = [TraceFile(FileSource(p), i) for i, p in enumerate(paths)]
    if len(files) == 1:
        for batch in files[0].batches():
            sink(batch)
        return
    sent: set[str] = set()
    buffer: list[Event] = []
    for ev, loc in merge(files, sent.__contains__):
        if type(ev) is Send:
            sent.add(ev.msg.id)
        buffer.append((ev, loc))
        if len(buffer) >= 512:
            sink(buffer)
            buffer = []
    sink(buffer)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except IsADirectoryError:
        raise TraceError(str(path), 0, None, "is a directory, not a trace file") from None
    except OSError as exc:
        raise TraceError(str(path), 0, None, f"cannot read: {exc.strerror or exc}") from None
    return h.hexdigest()


def run_sha256(paths: list[Path]) -> str:
    """A one-file run's id is its file's SHA-256; a several-file run's is the SHA-256 of its
    files' digests, one a line, in the order given."""
    digests = [file_sha256(p) for p in paths]
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()
