"""``raftref report TRACE... -o report.html``: check a trace and write its HTML report.

Exit codes: 0 the report is written (whatever the verdict, which is printed), 2 unusable input
or options (one line on stderr, never a traceback).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from checker.cli import CheckUsageError
from checker.engine import UnknownPropertyError, check_files
from checker.errors import TraceError
from checker.report_html.data import DEFAULT_LIMIT
from checker.report_html.render import write_html_report


@click.command(name="report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The HTML file to write (one self-contained page).")
@click.option("--no-check", is_flag=True, help="Draw the trace without checking it.")
@click.option("--start", type=click.IntRange(0), default=0, show_default=True,
              help="Position in the trace of the first event drawn.")
@click.option("--limit", type=click.IntRange(1), default=DEFAULT_LIMIT, show_default=True,
              help="Events embedded in the page (it pages and zooms through them).")
def report_command(traces: Sequence[Path], output: Path, no_check: bool, start: int,
                   limit: int) -> None:
    """Write a space-time diagram of TRACE (several files: one run, merged) as one HTML file
    that needs no network: a lane per node with its role and term, messages as arrows (dropped
    ones crossed out), crashes, restarts and commits, and each violation's lines highlighted
    with the property's statement."""
    try:
        report = None if no_check else check_files(list(traces))
        write_html_report(traces, report, output, start=start, limit=limit)
    except (TraceError, UnknownPropertyError, ValueError) as exc:
        raise CheckUsageError(str(exc)) from None
    except OSError as exc:
        raise CheckUsageError(f"{exc.filename or output}: {exc.strerror or exc}") from None
    verdict = ("not checked" if report is None else "every property holds" if report.ok
               else "violated: " + ", ".join(report.violated))
    click.echo(f"{output}: report of {', '.join(map(str, traces))} ({verdict})")
