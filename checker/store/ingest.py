"""Writing runs into the trace store: ``ingest`` (trace files, checked on the way) and
``record_report`` (a run ``raftref check`` has already checked).

Each run is written in one transaction: a trace that fails half-way (schema error, unreadable
file, interruption) leaves nothing of itself behind and takes nothing away. A run is
de-duplicated by the SHA-256 of its content. Library functions never read the clock: callers
pass ``ingested_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from checker.engine import Engine, select_properties
from checker.reader import FileSource, TraceFile
from checker.report import CheckReport
from checker.store.db import EVENT_COLUMNS, connect, translate_errors
from checker.store.rows import EventWriter, TeeFile, read_events, run_sha256


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
