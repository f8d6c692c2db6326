"""Opening a trace store: the schema (tables, columns, indexes, ``PRAGMA user_version``), the
checks that keep raftref off files that are not its stores, and the one-line errors.

The schema is written by sqlite-utils from the column dictionaries below; docs/store.md
describes it, and a test keeps the two in step.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from checker.outputs import OutputError, check_output_file, make_folder

# Under out/, which git ignores and where the demo's and fuzz's run folders go too: a store is
# output, and traces/ is tracked (its conformance traces and counterexamples are data).
DEFAULT_DB = Path("out/raftref.db")
SCHEMA_VERSION = 1  # PRAGMA user_version of a raftref store
SQLITE_MAGIC = b"SQLite format 3\x00"

RUN_COLUMNS: dict[str, type] = {
    "id": int, "source": str, "files": str, "sha256": str, "origin": str, "ingested_at": str,
    "implementation": str, "impl_version": str, "seed": int, "nodes": int, "events": int,
    "verdict": str, "violations": int, "violated": str, "header": str,
}
EVENT_COLUMNS: dict[str, type] = {
    "run_id": int, "file": int, "seq": int, "line": int, "node": str, "kind": str, "term": int,
    "role": str, "vote": str, "commit_index": int, "msg_type": str, "msg_from": str,
    "msg_to": str, "msg_id": str, "extra": str,
}
RESULT_COLUMNS: dict[str, type] = {
    "run_id": int, "property": str, "verdict": str, "evaluated": int, "violations": int,
}
VIOLATION_COLUMNS: dict[str, type] = {
    "id": int, "run_id": int, "property": str, "explanation": str, "lines": str,
}
#: table -> its columns, in the order the tables are created
TABLES: dict[str, dict[str, type]] = {
    "runs": RUN_COLUMNS, "events": EVENT_COLUMNS, "results": RESULT_COLUMNS,
    "violations": VIOLATION_COLUMNS,
}
#: name -> (table, columns, unique)
INDEXES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "idx_runs_sha256": ("runs", ("sha256",), True),
    "idx_events_run_seq": ("events", ("run_id", "seq"), False),
    "idx_events_run_node": ("events", ("run_id", "node", "seq"), False),
    "idx_events_run_term": ("events", ("run_id", "term"), False),
    "idx_events_kind": ("events", ("kind", "run_id"), False),
    "idx_violations_run": ("violations", ("run_id", "property"), False),
}


class StoreError(Exception):
    """The database cannot be used (not SQLite, locked, unwritable, bad SQL, unknown run):
    ``str()`` is the one line a user sees."""


class UnknownRunError(StoreError):
    """A run id the store does not hold; the message names it and the ids the store holds."""


def connect(db_path: str | Path, *, timeout: float = 5.0,
            readonly: bool = False) -> sqlite_utils.Database:
    """Open (and, unless ``readonly``, create or upgrade) a raftref store.

    Raises StoreError for a file that is not SQLite, a database locked for longer than
    ``timeout`` seconds, or a missing database opened ``readonly``.
    """
    path = Path(db_path)
    _check_magic(path)
    if readonly:
        if not path.exists():
            raise StoreError(f"{path}: no such database (create one with: raftref db ingest "
                             f"TRACE --db {path})")
    else:
        try:
            make_folder(path.parent, path)  # the rule of every output path (checker/outputs.py)
        except OutputError as exc:
            raise StoreError(str(exc)) from None
    try:
        if readonly:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=timeout)
        else:
            conn = sqlite3.connect(str(path), timeout=timeout)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open: {exc}") from None
    if readonly:
        # mode=ro guards the store itself; ATTACH and VACUUM INTO would create other files.
        conn.set_authorizer(_refuse_attach)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    try:
        with translate_errors(path, timeout):
            if readonly:
                db.execute("PRAGMA query_only = 1")
                _check_ours(db, path)
            else:
                _ensure_schema(db, path)
    except BaseException:
        conn.close()
        raise
    return db


def _refuse_attach(action: int, *_: object) -> int:
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK


def _check_magic(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except (FileNotFoundError, NotADirectoryError):  # no such file: nothing to protect
        return
    except IsADirectoryError:
        raise StoreError(f"{path}: is a directory, not a database file") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head and head != SQLITE_MAGIC:
        raise StoreError(f"{path}: not an SQLite database (refusing to touch it; give --db a "
                         "new file or an existing raftref store)")


@contextmanager
def translate_errors(path: Path, timeout: float) -> Iterator[None]:
    """Turn sqlite3 errors into one-line StoreErrors naming the database."""
    try:
        yield
    except sqlite3.Error as exc:
        text = " ".join(str(exc).split())  # one line, whatever SQLite's message holds
        if "locked" in text or "busy" in text:
            raise StoreError(f"{path}: database is locked by another connection (waited "
                             f"{timeout:g}s); try again when it is done") from None
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
            raise StoreError(f"{path}: not an SQLite database") from None
        if "not authorized" in text or "authorization denied" in text:
            raise StoreError(f"{path}: read-only: statements that write other files (ATTACH, "
                             "VACUUM INTO) are refused") from None
        if "readonly" in text or "read-only" in text:
            raise StoreError(f"{path}: read-only: {text}") from None
        raise StoreError(f"{path}: {text}") from None


def _check_ours(db: sqlite_utils.Database, path: Path) -> None:
    """An SQLite file with other tables and no raftref marker is someone else's database."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    tables = db.table_names()
    if version == 0 and not tables:
        return
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: store format {version} is newer than this raftref "
                         f"({SCHEMA_VERSION}); upgrade raftref")
    raise StoreError(f"{path}: an SQLite database but not a raftref store (tables: "
                     f"{', '.join(tables[:5])}); give --db a new file")


def _ensure_schema(db: sqlite_utils.Database, path: Path) -> None:
    _check_ours(db, path)
    if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    with db.atomic():
        db["runs"].create(RUN_COLUMNS, pk="id", not_null={"source", "sha256", "events"})
        db["events"].create(EVENT_COLUMNS, foreign_keys=[("run_id", "runs", "id")],
                            not_null={"run_id", "seq", "line", "node", "kind"})
        db["results"].create(RESULT_COLUMNS, pk=("run_id", "property"),
                             foreign_keys=[("run_id", "runs", "id")])
        db["violations"].create(VIOLATION_COLUMNS, pk="id",
                                foreign_keys=[("run_id", "runs", "id")])
        for name, (table, columns, unique) in INDEXES.items():
            db[table].create_index(columns, index_name=name, unique=unique)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def check_usable(path: Path, option: str = "--db") -> None:
    """Refuse, before any work, a store that cannot be written: an existing file must open as
    a raftref store (or an empty SQLite file) and be writable; a missing one must be
    creatable. Raises StoreError (or OutputError) naming ``option`` and the path."""
    if not path.exists():
        check_output_file(path, option)
        return
    try:
        connect(path, readonly=True).conn.close()
    except StoreError as exc:
        raise StoreError(f"{option} {exc}") from None
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
        raise StoreError(f"{option} {path}: cannot write to the store: permission denied")
