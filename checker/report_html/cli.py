"""``raftref report TRACE... -o report.html``: check a trace and write its HTML report.

Exit codes: 0 the report is written (whatever the verdict, which is printed), 2 unusable input
or options (one line on stderr, never a traceback).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click

from checker.engine import UnknownPropertyError, check_files
from checker.errors import TraceError
from checker.outputs import OutputError, check_output_file
from checker.report_html.data import DEFAULT_LIMIT, build
from checker.report_html.render import refuse_overwrite, write_file, write_page
from checker.usage import CheckUsageError

STDIN = "-"
STDIN_NAME = "<stdin>"


@click.command(name="report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("traces", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The HTML file to write (one self-contained page); - writes the page to "
                   "standard output.")
@click.option("--no-check", is_flag=True, help="Draw the trace without checking it.")
@click.option("--start", type=click.IntRange(0), default=0, show_default=True,
              help="Position in the run of the first event embedded (the overview strip "
                   "always covers the whole run).")
@click.option("--limit", type=click.IntRange(1), default=DEFAULT_LIMIT, show_default=True,
              help="Events embedded in the page, from --start on (about 20 bytes each).")
@click.option("--partial", is_flag=True,
              help="Check per-process files that leave members of the cluster without any "
                   "event, as check --partial does (drawing needs no flag).")
@click.option("--merge-anyway", is_flag=True,
              help="Merge files whose headers say they are different runs, as check "
                   "--merge-anyway does.")
def report_command(traces: Sequence[Path], output: Path, no_check: bool, start: int,
                   limit: int, partial: bool, merge_anyway: bool) -> None:
    """Write a space-time diagram of TRACE (several files: one run, merged; - reads standard
    input; gzip-compressed input is read as it is) as one HTML file that needs no network: an
    overview strip of the whole run (terms, leaders, commit index, crashes, partitions, lost
    messages, violations) above a lane per node with its role and term, messages as arrows
    (bundled with a count when too many to read), crashes, restarts, commits and inferred
    partitions, and each violation's lines highlighted with the property's statement. See
    docs/report.md."""
    to_stdout = str(output) == STDIN
    if sum(str(t) == STDIN for t in traces) > 1:
        raise CheckUsageError("standard input (-) can be given once")
    names = [STDIN_NAME if str(t) == STDIN else str(t) for t in traces]
    paths: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="raftref-report-") as scratch:
        try:
            if not to_stdout:
                check_output_file(output, "-o")
            paths = [_spool_stdin(Path(scratch)) if str(t) == STDIN else t for t in traces]
            if not to_stdout:
                refuse_overwrite(paths, output)
            report = None if no_check else check_files(list(paths), partial=partial,
                                                       merge_anyway=merge_anyway)
            data = build(paths, report, start=start, limit=limit, names=names,
                         merge_anyway=merge_anyway)
            if to_stdout:
                sys.stdout.flush()
                write_page(data, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                write_file(data, output)
        except (TraceError, UnknownPropertyError, ValueError, OutputError) as exc:
            raise CheckUsageError(_named(str(exc), paths, names)) from None
        except OSError as exc:
            raise CheckUsageError(f"{exc.filename or output}: {exc.strerror or exc}") from None
    note = data.window_note()
    if note:
        click.echo(f"note: {note}", err=True)
    verdict = ("not checked" if report is None else "every property holds" if report.ok
               else "violated: " + ", ".join(report.violated))
    click.echo(f"{'standard output' if to_stdout else output}: report of {', '.join(names)} "
               f"({verdict})", err=to_stdout)


def _spool_stdin(scratch: Path) -> Path:
    """Standard input copied to a file: the report reads the trace twice (the check, then the
    drawing) and a pipe can be read once."""
    path = scratch / "stdin.jsonl"
    with path.open("wb") as f:
        shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
    return path


def _named(message: str, paths: Sequence[Path], names: Sequence[str]) -> str:
    """An error about the spooled copy of standard input, told of ``<stdin>``."""
    for path, name in zip(paths, names, strict=False):
        if name == STDIN_NAME:
            message = message.replace(str(path), name)
    return message
