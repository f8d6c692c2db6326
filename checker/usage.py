"""The error every checker command raises for unusable input or options.

Its own module so that the commands (checker/cli.py, checker/store/cli.py, ...) can share it
without importing one another.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn, Protocol

import click
import orjson

from checker.outputs import OutputError, atomic_output


class CheckUsageError(click.ClickException):
    """Unusable input or options: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def write_output(path: Path, data: bytes,
                 error: type[click.ClickException] = CheckUsageError) -> None:
    """Write ``data`` to ``path`` whole or not at all, missing folders created
    (checker/outputs.py); a path that cannot be written is one line and exit 2 (``error``)."""
    try:
        with atomic_output(path) as f:
            f.write(data)
    except OutputError as exc:
        raise error(str(exc)) from None


class Report(Protocol):
    """What a command's verdict offers: JSON, text and the exit code."""

    @property
    def exit_code(self) -> int: ...
    def to_json(self) -> Any: ...
    def to_text(self) -> str: ...


def print_report_and_exit(report: Report, as_json: bool) -> NoReturn:
    """The verdict on stdout, as JSON or text, then its exit code."""
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2)
                                + b"\n")
        sys.stdout.buffer.flush()
    else:
        click.echo(report.to_text())
    sys.exit(report.exit_code)
