"""The error every checker command raises for unusable input or options.

Its own module so that the commands (checker/cli.py, checker/store/cli.py, ...) can share it
without importing one another.
"""

from __future__ import annotations

from typing import Any

import click


class CheckUsageError(click.ClickException):
    """Unusable input or options: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)
