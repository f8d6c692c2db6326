"""The ``raftref`` command: a thin layer that parses options, calls the library, and formats.

One module per group of commands: :mod:`~raftref.cli.simulator` (sim),
:mod:`~raftref.cli.campaigns` (fuzz, demo), :mod:`~raftref.cli.networked` (serve, cluster); the
checker's commands (check, db, report, adapt, prove) come from checker/, which serves any
implementation. :mod:`~raftref.cli.checks` checks options before any work starts.

Exit codes everywhere: 0 success (every property holds), 1 a property is violated, 2 unusable
input or options (one line on stderr naming the file, line or field; never a traceback).
"""

from __future__ import annotations

import importlib

import click

from raftref import __version__
from raftref.cli.checks import OneLineErrors
from raftref.mutants import MUTANTS

# Each command, and where it lives. They are imported only when used, so that starting a node
# ('raftref serve', which a cluster restarts after every kill) does not pay for loading Z3,
# Hypothesis and the checker's store (about 0.8 s of CPU). The checker's commands come from
# checker/, which serves any implementation; raftref only hosts them.
COMMANDS: dict[str, str] = {
    "sim": "raftref.cli.simulator:sim",
    "fuzz": "raftref.cli.campaigns:fuzz",
    "demo": "raftref.cli.campaigns:demo",
    "serve": "raftref.cli.networked:serve",
    "cluster": "raftref.cli.networked:cluster",
    "check": "checker.cli:check_command",
    "check-history": "checker.history.cli:check_history_command",
    "db": "checker.store.cli:db_group",
    "report": "checker.report_html.cli:report_command",
    "adapt": "checker.adapters.cli:adapt_group",
    "prove": "checker.proof.cli:prove_command",
}


class LazyCommands(OneLineErrors):
    """The raftref group: commands defined here, and the others imported when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, attr = COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), name=cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="raftref")
def main() -> None:
    """raftref: a reference Raft node, a fault-injecting simulator, and a trace checker."""


@main.command(name="mutants")
def list_mutants() -> None:
    """List the deliberate bugs the node can switch on, one a line: name, then description."""
    width = max(len(n) for n in MUTANTS)
    for name, text in MUTANTS.items():
        click.echo(f"{name:<{width}}  {text}")


def subcommands(group: click.Group) -> dict[str, click.Command]:
    """Every command of ``group`` by name, loaded (for documentation and its tests)."""
    ctx = click.Context(group)
    found = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    return {name: command for name, command in found.items() if command is not None}
