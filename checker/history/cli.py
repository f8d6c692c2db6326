"""The ``check-history`` command (registered by the raftref CLI as ``raftref check-history``):
a thin layer over :func:`checker.history.check_history`.

Exit codes: 0 linearizable; 1 not linearizable; 2 unusable input or options (one line on
stderr, ``error: FILE:LINE: field F: message``, never a traceback); 3 unknown (the time
budget ran out before a verdict).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from checker.errors import TraceError
from checker.history.check import DEFAULT_TIMEOUT, check_history
from checker.history.jepsen import FORMATS
from checker.history.models import MODELS
from checker.outputs import OutputError, check_output_file, same_file
from checker.usage import CheckUsageError, print_report_and_exit, write_output


@click.command(name="check-history", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path,
                                                                  allow_dash=True))
@click.option("--model", type=click.Choice(list(MODELS)), default=None,
              help="The object checked against (default: the header's, else kv when "
                   "operations carry keys, cas-register when one is a cas, else register).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="The files' format (default: told from their content).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path), default=None,
              help="Also write JUnit XML (one test case per key) to this file.")
@click.option("--html", "html_path", type=click.Path(path_type=Path), default=None,
              help="Also write a self-contained HTML page: one lane per client, the order "
                   "found, and the operation that cannot follow it, with why.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_TIMEOUT, show_default=True, metavar="SECONDS",
              help="Time budget for the verdict; past it the verdict is unknown (exit 3).")
@click.option("--all-keys", is_flag=True,
              help="Search every key to the end, even once one is found not linearizable.")
def check_history_command(files: Sequence[Path], model: str | None, fmt: str | None,
                          as_json: bool, junit_path: Path | None, html_path: Path | None,
                          timeout: float, all_keys: bool) -> None:
    """Check client histories for linearizability: the JSON Lines contract
    (spec/history.schema.json), Jepsen's history.edn or jepsen.util log lines. Several
    files (one per client process) are merged into one history. '-' reads standard input.
    Exit codes: 0 linearizable, 1 not, 2 unusable input, 3 unknown (time budget out).
    Reference: docs/histories.md.
    """
    names = [str(f) for f in files]
    for option, out in (("--junit", junit_path), ("--html", html_path)):
        if out is None:
            continue
        try:
            check_output_file(out, option)
        except OutputError as exc:
            raise CheckUsageError(str(exc)) from None
        for f in files:
            if str(f) != "-" and same_file(out, f):
                raise CheckUsageError(f"{out}: refusing to overwrite an input history with "
                                      f"the {option} output")
    if junit_path is not None and html_path is not None and same_file(junit_path, html_path):
        raise CheckUsageError(f"{junit_path}: given for both --junit and --html")
    try:
        report = check_history(names, model=model, fmt=fmt, timeout=timeout,
                               all_keys=all_keys)
    except TraceError as exc:
        raise CheckUsageError(str(exc)) from None
    except MemoryError:
        raise CheckUsageError("out of memory while reading the history") from None
    except RecursionError:
        raise CheckUsageError("input nested too deeply to check") from None
    if junit_path is not None:
        write_output(junit_path, report.to_junit())
    if html_path is not None:
        from checker.history.page import render_page

        write_output(html_path, render_page(report).encode())
    print_report_and_exit(report, as_json)
