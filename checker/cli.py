"""The ``check`` command (registered by the raftref CLI as ``raftref check``).

Exit codes: 0 every property holds; 1 a property is violated; 2 unusable input or options,
with one line on stderr (``error: FILE:LINE: field FIELD: message``) and never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from checker.engine import UnknownPropertyError, check_files
from checker.errors import TraceError
from checker.junit import to_junit
from checker.outputs import OutputError, check_output_file
from checker.properties import PROPERTY_NAMES
from checker.sources import STDIN
from checker.usage import CheckUsageError, print_report_and_exit, write_output


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


@click.command(name="check", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path,
                                                                   allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path), default=None,
              help="Also write JUnit XML (one test case per property) to this file.")
@click.option("--only", multiple=True, metavar="PROPERTY",
              help="Check only this property (repeatable).")
@click.option("--skip", multiple=True, metavar="PROPERTY",
              help="Do not check this property (repeatable).")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=None,
              help="Also record the run and its result in this trace store (SQLite).")
@click.option("--html", "html_path", type=click.Path(path_type=Path), default=None,
              help="Also write the run's HTML space-time report to this file.")
@click.option("--partial", is_flag=True,
              help="Check per-process files that leave members of the cluster without any "
                   "event (their files missing): what needs those members' events is not "
                   "checked. Refused without this flag.")
@click.option("--merge-anyway", is_flag=True,
              help="Merge files whose headers say they are different runs (a logical-clock "
                   "trace beside another, or differing implementation, clock, seed or "
                   "options). Refused without this flag.")
def check_command(traces: Sequence[Path], as_json: bool, junit_path: Path | None,
                  only: Sequence[str], skip: Sequence[str], db_path: Path | None,
                  html_path: Path | None, partial: bool, merge_anyway: bool) -> None:
    """Check raft-trace files (spec/trace.schema.json) against the Raft safety properties of
    spec/PROPERTIES.md. Several files (one per process) are checked together as one run.
    '-' reads standard input; gzip-compressed input is read as it is. Reference:
    docs/checker.md.

    Properties: ElectionSafety, LeaderAppendOnly, LogMatching, LeaderCompleteness,
    StateMachineSafety, TermMonotonic, VoteOnce, CommitJustified, CommittedDurable, ApplyOrder,
    MessageRules.
    """
    for name in (*only, *skip):
        if name not in PROPERTY_NAMES:
            raise CheckUsageError(f"unknown property {name!r}; valid names: "
                                  f"{', '.join(PROPERTY_NAMES)}")
    if junit_path is not None:
        try:
            check_output_file(junit_path, "--junit")
        except OutputError as exc:
            raise CheckUsageError(str(exc)) from None
        for trace in traces:
            if _same_file(junit_path, trace) or junit_path == trace:
                raise CheckUsageError(f"{junit_path}: refusing to overwrite an input trace "
                                      "with the JUnit report")
    stdin = [t for t in traces if str(t) == STDIN]
    if stdin and (db_path is not None or html_path is not None):
        raise CheckUsageError("--db and --html read the trace files again, which standard "
                              "input cannot be: give the trace as a file")
    _check_outputs_first(db_path, html_path)
    try:
        report = check_files([STDIN if str(t) == STDIN else t for t in traces],
                             only=only or None, skip=skip or None, partial=partial,
                             merge_anyway=merge_anyway)
    except TraceError as exc:
        raise CheckUsageError(str(exc)) from None
    except UnknownPropertyError as exc:
        raise CheckUsageError(str(exc)) from None
    except MemoryError:
        raise CheckUsageError("out of memory while reading the trace") from None
    except UnicodeError as exc:
        raise CheckUsageError(f"cannot decode input: {exc}") from None
    except OSError as exc:
        name = exc.filename or (traces[0] if traces else "?")
        raise CheckUsageError(f"{name}: {exc.strerror or exc}") from None
    except RecursionError:
        raise CheckUsageError("input nested too deeply to check") from None
    if junit_path is not None:
        write_output(junit_path, to_junit(report))
    if db_path is not None or html_path is not None:
        from checker.store.cli import record_check  # the store and the page load only if asked

        record_check(list(traces), report, db_path, html_path)
    print_report_and_exit(report, as_json)


def _check_outputs_first(db_path: Path | None, html_path: Path | None) -> None:
    """--db and --html are checked before the check runs, so an unusable one is not found
    after minutes of checking (and its exit code 2 is not lost behind a verdict)."""
    try:
        if html_path is not None:
            check_output_file(html_path, "--html")
        if db_path is not None:
            from checker.store import StoreError, check_usable

            try:
                check_usable(db_path)
            except StoreError as exc:
                raise CheckUsageError(str(exc)) from None
    except OutputError as exc:
        raise CheckUsageError(str(exc)) from None


def main() -> None:
    """Entry point of ``python -m checker``."""
    check_command(prog_name="python -m checker")
