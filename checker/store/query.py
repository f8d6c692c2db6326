"""One read-only SQL statement over a store, its rows streamed: read from the cursor as they
are written out (CSV, a JSON array, or JSON Lines), never gathered in a list, so memory stays
flat however many rows a query returns.

Values: NULL is ``null`` in JSON and an empty field in CSV (CSV cannot tell it from an empty
string; JSON can); a BLOB is written as its base64 text; SQLite integers (at most 64 bits) are
written exactly. JSON has no infinity: a REAL that is infinite comes out as ``null``.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from checker.store.db import connect, translate_errors

Row = tuple[Any, ...]
_CHUNK = 1024  # rows encoded between two writes


@contextmanager
def run_query(db_path: str | Path, sql: str, *, limit: int | None = None,
              timeout: float = 5.0) -> Iterator[tuple[list[str], Iterator[Row]]]:
    """Run ``sql`` on the store read-only; yields its column names and an iterator over its
    rows (at most ``limit``), read from the cursor as they are consumed. Errors, whether the
    statement is prepared or its rows are read, are StoreErrors; writes are refused."""
    path = Path(db_path)
    db = connect(path, readonly=True, timeout=timeout)
    try:
        with translate_errors(path, timeout):
            cursor = db.conn.execute(sql)
        columns = [d[0] for d in cursor.description or ()]
        rows = _rows(cursor, path, timeout)
        yield columns, rows if limit is None else islice(rows, limit)
    finally:
        db.close()


def _rows(cursor: Any, path: Path, timeout: float) -> Iterator[Row]:
    with translate_errors(path, timeout):
        while batch := cursor.fetchmany(_CHUNK):
            yield from batch


def unique_keys(columns: list[str]) -> list[str]:
    """JSON object keys for ``columns``: a name that repeats (``SELECT * FROM runs JOIN
    results ...`` has two ``verdict`` columns) gets ``_2``, ``_3``... so no value is lost."""
    taken = set(columns)
    seen: set[str] = set()
    keys = []
    for name in columns:
        key, n = name, 1
        while key in seen or (key != name and key in taken):
            n += 1
            key = f"{name}_{n}"
        seen.add(key)
        keys.append(key)
    return keys


def _blob(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_json(columns: list[str], rows: Iterator[Row], out: BinaryIO, *,
               lines: bool = False) -> int:
    """Write ``rows`` as a JSON array of objects, one object a line (or, with ``lines``, as
    JSON Lines: one object a line and nothing else). Returns the number of rows written."""
    keys = unique_keys(columns)
    dumps = orjson.dumps
    count = 0
    sep = b"\n" if lines else b",\n"
    if not lines:
        out.write(b"[")
    while chunk := list(islice(rows, _CHUNK)):
        encoded = [dumps(dict(zip(keys, row, strict=True)), default=_blob) for row in chunk]
        if lines:
            out.write(b"\n".join(encoded) + b"\n")
        else:
            out.write((sep if count else b"\n") + sep.join(encoded))
        count += len(chunk)
    if not lines:
        out.write(b"\n]\n" if count else b"]\n")
    return count


def write_csv(columns: list[str], rows: Iterator[Row], out: BinaryIO) -> int:
    """Write a header line of ``columns``, then ``rows`` (UTF-8, RFC 4180 quoting, ``\\n``
    line ends). Returns the number of rows written."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    try:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        count = 0
        while chunk := list(islice(rows, _CHUNK)):
            writer.writerows([r if bytes not in map(type, r) else _csv_blobs(r) for r in chunk])
            count += len(chunk)
        text.flush()
    finally:
        text.detach()  # the caller's stream stays open
    return count


def _csv_blobs(row: Row) -> Row:
    return tuple(_blob(v) if isinstance(v, bytes) else v for v in row)
