"""The trace store: runs, events and check results in one SQLite database (via sqlite-utils).

Library first; ``raftref db ...`` (checker/store_cli.py) is a thin layer over it. Tables:

- ``runs``: one row per run (one trace file, or several files checked together as one run),
  de-duplicated by the SHA-256 of its content;
- ``events``: one row per event, the common fields as columns and everything else as JSON;
- ``results``: one row per (run, property) checked: verdict, events evaluated, violations;
- ``violations``: one row per violation listed by the checker, with the cited trace lines.

Each run is written in one transaction: a trace that fails half-way (schema error, unreadable
file, interruption) leaves nothing of itself behind and takes nothing away. Library functions
never read the clock: callers pass ``ingested_at``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from checker.engine import Engine, select_properties
from checker.reader import FileSource, TraceFile
from checker.report import CheckReport
from checker.store_rows import EventWriter, TeeFile, read_events, run_sha256

DEFAULT_DB = Path("traces/raftref.db")
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
    """The database cannot be used (not SQLite, locked, unwritable, bad SQL): one line for users."""


@dataclass(frozen=True)
class RunRecord:
    """One run as stored. ``new`` is False when the same content was already in the store."""

    id: int
    source: str
    sha256: str
    events: int
    verdict: str | None  # "holds", "violated", or None when the run was stored unchecked
    violated: tuple[str, ...]
    new: bool
    report: CheckReport | None = None


# ---------------------------------------------------------------------------- opening


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
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path}: cannot create its directory: {exc.strerror}") from None
    try:
        if readonly:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=timeout)
        else:
            conn = sqlite3.connect(str(path), timeout=timeout)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open: {exc}") from None
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


def _check_magic(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
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
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise StoreError(f"{path}: database is locked by another connection (waited "
                             f"{timeout:g}s); try again when it is done") from None
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
            raise StoreError(f"{path}: not an SQLite database") from None
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


# ---------------------------------------------------------------------------- writing runs


def ingest(db_path: str | Path, trace_paths: Iterable[str | Path], *, ingested_at: str,
           check: bool = True, origin: str = "ingest", only: Iterable[str] | None = None,
           skip: Iterable[str] | None = None, timeout: float = 5.0) -> list[RunRecord]:
    """Store each trace file as one run, checked on the way unless ``check`` is False (the
    checker and the store share one read of the file).

    A file whose content is already stored is not stored again: its record comes back with
    ``new=False``. Raises TraceError for a trace that cannot be read, fails the schema or
    cannot be checked (nothing of it is stored; runs stored before it stay), StoreError for
    an unusable database.
    """
    properties = select_properties(only, skip) if check else None
    path = Path(db_path)
    records = []
    db = connect(path, timeout=timeout)
    try:
        for trace in trace_paths:
            trace = Path(trace)
            sha = run_sha256([trace])
            with translate_errors(path, timeout):
                found = _find(db, sha)
                if found is not None:
                    records.append(_existing(found, sha))
                    continue
                with db.atomic():
                    records.append(_store_one(db, trace, sha, properties, ingested_at, origin))
    finally:
        db.close()
    return records


def _store_one(db: sqlite_utils.Database, trace: Path, sha: str, properties: list[Any] | None,
               ingested_at: str, origin: str) -> RunRecord:
    tee = TeeFile(FileSource(trace), 0)
    run_id = _insert_run(db, [trace], sha, tee.header, origin, ingested_at)
    rows = EventWriter(db, run_id, EVENT_COLUMNS)
    report = None
    if properties is None:
        for batch in tee.batches():
            rows.add(batch)
    else:
        tee.sink = rows.add
        report = Engine([tee], properties).run()
    rows.flush()
    db["runs"].update(run_id, {"events": rows.count})
    if report is not None:
        _write_results(db, run_id, report)
    return RunRecord(run_id, str(trace), sha, rows.count, _verdict(report),
                     tuple(report.violated) if report else (), True, report)


def record_report(db_path: str | Path, report: CheckReport, *, ingested_at: str,
                  origin: str = "check", timeout: float = 5.0) -> RunRecord:
    """Store the run that ``report`` checked (its files, read again, as one run) with the
    report's results. If the run is already stored, its results are replaced by these."""
    paths = [Path(f) for f in report.files]
    sha = run_sha256(paths)
    path = Path(db_path)
    db = connect(path, timeout=timeout)
    try:
        with translate_errors(path, timeout), db.atomic():
            found = _find(db, sha)
            if found is not None:
                run_id, events, new = found[0], found[2], False
            else:
                first = TraceFile(FileSource(paths[0]), 0)
                first.close()  # only its header is needed here; read_events reads it again
                run_id = _insert_run(db, paths, sha, first.header, origin, ingested_at)
                rows = EventWriter(db, run_id, EVENT_COLUMNS)
                read_events(paths, rows.add)
                rows.flush()
                events, new = rows.count, True
                db["runs"].update(run_id, {"events": events})
            _write_results(db, run_id, report)
    finally:
        db.close()
    return RunRecord(run_id, str(paths[0]), sha, events, _verdict(report),
                     tuple(report.violated), new, report)


def _existing(found: tuple[Any, ...], sha: str) -> RunRecord:
    run_id, source, events, verdict, violated = found
    return RunRecord(run_id, source, sha, events, verdict,
                     tuple(v for v in (violated or "").split(",") if v), False)


def _verdict(report: CheckReport | None) -> str | None:
    if report is None:
        return None
    return "holds" if report.ok else "violated"


def _find(db: sqlite_utils.Database, sha: str) -> tuple[Any, ...] | None:
    return db.execute("SELECT id, source, events, verdict, violated FROM runs WHERE sha256 = ?",
                      [sha]).fetchone()


def _insert_run(db: sqlite_utils.Database, paths: list[Path], sha: str, header: dict[str, Any],
                origin: str, ingested_at: str) -> int:
    impl = header.get("implementation") or {}
    seed = header.get("seed")
    table = db["runs"]
    table.insert({
        "source": str(paths[0]), "files": orjson.dumps([str(p) for p in paths]).decode(),
        "sha256": sha, "origin": origin, "ingested_at": ingested_at,
        "implementation": impl.get("name"), "impl_version": impl.get("version"),
        "seed": seed if isinstance(seed, int) else None, "nodes": len(header["nodes"]),
        "events": 0, "verdict": None, "violations": None, "violated": None,
        "header": orjson.dumps(header).decode(),
    })
    assert table.last_pk is not None
    return int(table.last_pk)


def _write_results(db: sqlite_utils.Database, run_id: int, report: CheckReport) -> None:
    db.execute("DELETE FROM results WHERE run_id = ?", [run_id])
    db.execute("DELETE FROM violations WHERE run_id = ?", [run_id])
    db["results"].insert_all(
        {"run_id": run_id, "property": p.name, "verdict": p.verdict, "evaluated": p.evaluated,
         "violations": len(p.violations) + p.truncated} for p in report.properties)
    db["violations"].insert_all(
        {"run_id": run_id, "property": v.property, "explanation": v.explanation,
         "lines": orjson.dumps([c.to_json() for c in v.lines]).decode()}
        for v in report.violations)
    total = sum(len(p.violations) + p.truncated for p in report.properties)
    db["runs"].update(run_id, {"verdict": _verdict(report), "violations": total,
                               "violated": ",".join(report.violated)})
