"""The trace store: runs, events and check results in one SQLite database (via sqlite-utils).

Library first; ``raftref db ...`` (checker/store/cli.py) is a thin layer over it. Tables
(docs/store.md has every column):

- ``runs``: one row per run (one trace file, or several files checked together as one run),
  de-duplicated by the SHA-256 of its content;
- ``events``: one row per event, the common fields as columns and everything else as JSON;
- ``results``: one row per (run, property) checked: verdict, events evaluated, violations;
- ``violations``: one row per violation listed by the checker, with the cited trace lines.

Modules: db (opening, schema, errors), ingest (writing runs), rows (events to rows), query
(one read-only statement, its rows streamed), summary (the figures of ``db summary``), cli
(``raftref db``).
"""

from checker.store.db import (
    DEFAULT_DB,
    EVENT_COLUMNS,
    INDEXES,
    RESULT_COLUMNS,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    TABLES,
    VIOLATION_COLUMNS,
    StoreError,
    UnknownRunError,
    check_usable,
    connect,
    translate_errors,
)
from checker.store.ingest import RunRecord, ingest, record_report
from checker.store.query import run_query, write_csv, write_json
from checker.store.summary import Election, RunElections, Summary, elections_of, summarize

__all__ = [
    "DEFAULT_DB", "EVENT_COLUMNS", "INDEXES", "RESULT_COLUMNS", "RUN_COLUMNS", "SCHEMA_VERSION",
    "TABLES", "VIOLATION_COLUMNS", "Election", "RunElections", "RunRecord", "StoreError",
    "Summary", "UnknownRunError", "check_usable", "connect", "elections_of", "ingest",
    "record_report", "run_query", "summarize", "translate_errors", "write_csv", "write_json",
]
