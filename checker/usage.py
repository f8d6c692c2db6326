"""The error every checker command raises for unusable input or options.

Its own module so that the commands (checker/cli.py, checker/store/cli.py, ...) can share it
without importing one another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

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
