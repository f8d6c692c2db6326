"""``raftref db``: ingest traces into the trace store, query it, summarize it.

A thin layer over the library (checker/store/). Exit codes: 0 done, 2 unusable
input, database or options (one line on stderr, never a traceback). ``db ingest`` exits 0 once
the runs are stored, whatever their verdicts: ``raftref check`` is the gate.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from checker.engine import UnknownPropertyError
from checker.errors import TraceError
from checker.report import CheckReport
from checker.store.db import DEFAULT_DB, StoreError
from checker.store.ingest import ingest, record_report
from checker.store.query import run_query, write_csv, write_json
from checker.store.summary import Summary, summarize
from checker.usage import CheckUsageError

DB_OPTION = click.option("--db", "db_path", type=click.Path(path_type=Path), default=None,
                         help=f"The store (SQLite). Default: {DEFAULT_DB}")
TABLE_ROWS = 100  # rows a terminal table shows unless --limit says otherwise
TIMEOUT_OPTION = click.option("--timeout", type=click.FloatRange(min=0), default=5.0,
                              show_default=True,
                              help="Seconds to wait for a database locked by another writer.")


def now() -> str:
    """The time a run is recorded: UTC, ISO 8601, to the second (the CLI's clock, not the
    library's)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _console() -> Console:
    return Console(soft_wrap=False, width=max(Console().width, 120))


def fail(message: str) -> CheckUsageError:
    return CheckUsageError(message)


@click.group(name="db", context_settings={"help_option_names": ["-h", "--help"]},
             help=f"The trace store: runs, events and check results in SQLite (default "
                  f"{DEFAULT_DB}).")
def db_group() -> None:
    pass


@db_group.command(name="ingest")
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@DB_OPTION
@click.option("--no-check", is_flag=True, help="Store the events without checking them.")
@TIMEOUT_OPTION
def ingest_command(traces: Sequence[Path], db_path: Path | None, no_check: bool,
                   timeout: float) -> None:
    """Store each TRACE as one run: its header, every event, and the checker's verdict and
    violations. A file already stored (same SHA-256) is not stored twice. Each run is one
    transaction: a trace that fails the schema leaves the database as it was."""
    db = db_path or DEFAULT_DB
    for trace in traces:
        if trace.exists() and db.exists() and trace.resolve() == db.resolve():
            raise fail(f"{trace}: is the database itself, not a trace")
    stored = 0
    for trace in traces:
        try:
            [run] = ingest(db, [trace], ingested_at=now(), check=not no_check, timeout=timeout)
        except (TraceError, StoreError, UnknownPropertyError) as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            raise fail(f"{exc.filename or trace}: {exc.strerror or exc}") from None
        stored += run.new
        verdict = run.verdict or "not checked"
        if run.violated:
            verdict += ": " + ", ".join(run.violated)
        state = "stored as" if run.new else "already stored as"
        click.echo(f"{trace}: {state} run {run.id} ({run.events:,} events, {verdict})")
    click.echo(f"{stored} new run(s) in {db}")


@db_group.command(name="query")
@click.argument("args", nargs=-1, required=True, metavar="[DB] SQL")
@DB_OPTION
@click.option("--csv", "as_csv", is_flag=True, help="Print every row as CSV (with a header).")
@click.option("--json", "as_json", is_flag=True,
              help="Print every row as a JSON array of objects, one a line.")
@click.option("--jsonl", "as_jsonl", is_flag=True,
              help="Print every row as JSON Lines (one object a line, no array).")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help=f"Read at most N rows. Default: every row for --csv, --json and --jsonl; "
                   f"the first {TABLE_ROWS} in the table (and a count of the rest).")
@TIMEOUT_OPTION
def query_command(args: Sequence[str], db_path: Path | None, as_csv: bool, as_json: bool,
                  as_jsonl: bool, limit: int | None, timeout: float) -> None:
    """Run one read-only SQL statement and print its rows: a table of at most the first
    100 (then how many rows there are in all), or every row with --csv, --json or --jsonl,
    written as they are read. The database is --db, or given before the SQL
    (raftref db query FILE.db "SELECT ..."); writes are refused."""
    if len(args) > 2:
        raise fail("give one SQL statement (quote it), optionally after the database file")
    if len(args) == 2:
        if db_path is not None:
            raise fail("give the database as --db or before the SQL, not both")
        db_path = Path(args[0])
    if as_csv + as_json + as_jsonl > 1:
        raise fail("give one of --csv, --json and --jsonl")
    db = db_path or DEFAULT_DB
    out = sys.stdout.buffer
    try:
        if as_csv or as_json or as_jsonl:
            with run_query(db, args[-1], limit=limit, timeout=timeout) as (columns, rows):
                if as_csv:
                    write_csv(columns, rows, out)
                else:
                    write_json(columns, rows, out, lines=as_jsonl)
            out.flush()
        else:
            _print_table(db, args[-1], limit, timeout)
    except StoreError as exc:
        raise fail(str(exc)) from None
    except BrokenPipeError:
        _quiet_stdout()  # the reader (head, less) has what it wanted


def _print_table(db: Path, sql: str, limit: int | None, timeout: float) -> None:
    """At most TABLE_ROWS rows (or --limit's N) in a table; the rest are counted, not kept."""
    cap = TABLE_ROWS if limit is None else limit
    # With --limit, one row past it says whether more follow, and nothing more is read.
    with run_query(db, sql, limit=None if limit is None else limit + 1,
                   timeout=timeout) as (columns, rows):
        shown = list(islice(rows, cap))
        rest = sum(1 for _ in rows)
    table = Table(*columns) if columns else Table("(no rows returned)")
    for row in shown:
        table.add_row(*(_cell(v) for v in row))
    console = _console()
    console.print(table)
    if not rest:
        console.print(f"{len(shown):,} row{'' if len(shown) == 1 else 's'}")
    elif limit is None:
        console.print(f"first {len(shown):,} of {len(shown) + rest:,} rows shown; every row: "
                      "--csv, --json or --jsonl (a longer table: --limit N)")
    else:
        console.print(f"first {len(shown):,} rows shown (--limit {limit}); more rows follow")


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's last flush does not
    print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


@db_group.command(name="summary")
@DB_OPTION
@click.option("--run", "run_ids", type=int, multiple=True, metavar="ID",
              help="Only this run (repeatable). Default: every run.")
@click.option("--leaders", "show_leaders", type=int, default=None, metavar="ID",
              help="Also list the leaders of every term of run ID (default: the last run).")
@TIMEOUT_OPTION
def summary_command(db_path: Path | None, run_ids: Sequence[int], show_leaders: int | None,
                    timeout: float) -> None:
    """Runs and verdicts, violations per property, elections (leaders per term and the
    longest election of each run: the most trace events from a leader stepping down or
    crashing, or the start of the trace, to the next leader elected)."""
    db = db_path or DEFAULT_DB
    try:
        summary = summarize(db, run_ids=list(run_ids) or None, timeout=timeout)
        if show_leaders is not None and show_leaders not in {r["id"] for r in summary.runs}:
            summary.elections += summarize(db, run_ids=[show_leaders], timeout=timeout).elections
    except StoreError as exc:  # UnknownRunError too: names the id and the ids stored
        raise fail(str(exc)) from None
    print_summary(summary, show_leaders)


def print_summary(summary: Summary, leaders_of: int | None) -> None:
    console = _console()
    if not summary.runs:
        console.print("no runs stored yet (store one: raftref db ingest TRACE)")
        return
    runs = Table("run", "origin", "implementation", "nodes", "events", "verdict", "violated",
                 "source", title="Runs")
    for r in summary.runs:
        impl = f"{r['implementation']} {r['impl_version'] or ''}".strip()
        runs.add_row(str(r["id"]), r["origin"] or "", impl, str(r["nodes"]), f"{r['events']:,}",
                     r["verdict"] or "not checked", r["violated"] or "", r["source"])
    console.print(runs)
    console.print("verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.verdicts.items())))
    props = Table("property", "runs checked", "runs violated", "violations",
                  title="Violations per property")
    for name, (checked, bad, total) in summary.properties.items():
        props.add_row(name, str(checked), str(bad), str(total))
    console.print(props)
    elections = Table("run", "terms", "terms led", "most leaders/term", "elections",
                      "longest election", "won by", "after",
                      title="Elections (longest: most events with no leader before one is "
                            "elected)")
    for column in elections.columns[5:]:
        column.no_wrap = True
    for e in summary.elections:
        lg = e.longest
        elections.add_row(str(e.run_id), str(e.terms), str(e.terms_with_leader),
                          str(e.most_leaders_in_a_term), str(e.elections),
                          f"{lg.events:,} events (seq {lg.from_seq} → {lg.to_seq})" if lg
                          else "-", f"{lg.leader}, term {lg.term}" if lg else "-",
                          lg.cause if lg else "-")
    console.print(elections)
    target = leaders_of if leaders_of is not None else summary.runs[-1]["id"]
    for e in summary.elections:
        if e.run_id == target:
            table = Table("term", "leader(s)", "elected at seq", title=f"Leaders per term, run "
                                                                       f"{target}")
            for term, leaders in sorted(e.leaders.items()):
                names = ", ".join(n for n, _ in leaders)
                if len({n for n, _ in leaders}) > 1:
                    names = f"[red]{names} (several!)[/]"
                table.add_row(str(term), names, ", ".join(str(s) for _, s in leaders))
            console.print(table)
            break


def record_check(traces: list[Path], report: CheckReport, db_path: Path | None,
                 html_path: Path | None) -> None:
    """What ``raftref check --db FILE --html FILE`` adds: record the run and its result in the
    store, write the HTML report. Problems become one line and exit code 2."""
    from checker.report_html import write_html_report

    try:
        if html_path is not None:
            write_html_report(traces, report, html_path)
        if db_path is not None:
            run = record_report(db_path, report, ingested_at=now())
            click.echo(f"recorded as run {run.id} in {db_path}"
                       + ("" if run.new else " (already stored; results replaced)"), err=True)
    except (TraceError, StoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{exc.filename or html_path}: {exc.strerror or exc}") from None
