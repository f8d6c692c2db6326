"""The ``raftref`` command: a thin layer that parses options, calls the library, and formats.

One module per group of commands: :mod:`~raftref.cli.simulator` (sim),
:mod:`~raftref.cli.campaigns` (fuzz, demo), :mod:`~raftref.cli.networked` (serve, cluster); the
checker's commands (check, db, report, adapt, prove) come from checker/, which serves any
implementation. :mod:`~raftref.cli.checks` checks options before any work starts.

Exit codes everywhere: 0 success (every property holds), 1 a property is violated, 2 unusable
input or options (one line on stderr naming the file, line or field; never a traceback).
"""

from __future__ import annotations

import click

from checker.adapters.cli import adapt_group
from checker.cli import check_command
from checker.proof.cli import prove_command
from checker.report_html.cli import report_command
from checker.store.cli import db_group
from raftref import __version__
from raftref.cli import campaigns, networked, simulator
from raftref.cli.checks import OneLineErrors
from raftref.mutants import MUTANTS


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="raftref")
def main() -> None:
    """raftref: a reference Raft node, a fault-injecting simulator, and a trace checker."""


@main.command(name="mutants")
def list_mutants() -> None:
    """List the deliberate bugs the node can switch on, one a line: name, then description."""
    width = max(len(n) for n in MUTANTS)
    for name, text in MUTANTS.items():
        click.echo(f"{name:<{width}}  {text}")


for _name, _command in {
    "sim": simulator.sim,
    "fuzz": campaigns.fuzz,
    "demo": campaigns.demo,
    "serve": networked.serve,
    "cluster": networked.cluster,
    # The checker's commands: checker/ serves any implementation; raftref only hosts them.
    "check": check_command,
    "db": db_group,
    "report": report_command,
    "adapt": adapt_group,
    "prove": prove_command,
}.items():
    main.add_command(_command, name=_name)
