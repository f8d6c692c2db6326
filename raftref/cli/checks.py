"""Option checks of the ``raftref`` command, done before any work starts: every unusable option
is one line on stderr (``error: ...``) and exit code 2, never a traceback, and never noticed
after a campaign has run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from checker.outputs import OutputError, check_output_dir, check_output_file
from checker.store import StoreError, check_usable

if TYPE_CHECKING:
    from raftref.net.config import ClusterConfig

# A seed travels in the trace header (JSON, read by orjson: 64-bit integers) and in the trace
# store (SQLite INTEGER: signed 64 bits), so it must fit 63 bits.
SEED_MAX = 2**63 - 1
# A fuzz campaign's worker i searches from seed + i, and its schedules' seeds are drawn from
# (seed + i) * 2**20 to 2**16 above it (raftref/search/strategies.py); with up to 64 workers
# every one of them must still fit 63 bits.
FUZZ_SEED_MAX = ((SEED_MAX - 2**16) >> 20) - 63


class UsageFailure(click.ClickException):
    """A user error: printed as one line, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineErrors(click.Group):
    """The ``raftref`` group: click's own usage errors (a value out of range, an unknown option)
    and unwritable outputs found late become one line and exit code 2, for every subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from None
        except OutputError as exc:
            raise UsageFailure(str(exc)) from None


def _one_line(exc: click.UsageError) -> click.ClickException:
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        return exc  # 'raftref' alone: the help, as click prints it
    where = exc.ctx.command_path if exc.ctx is not None else "raftref"
    return UsageFailure(f"{exc.format_message()} (see '{where} --help')")


def check_file(path: Path | None, option: str) -> None:
    """An output file given to ``option`` can be written (checker/outputs.py's rule)."""
    if path is None or str(path) == "-":
        return
    try:
        check_output_file(path, option)
    except OutputError as exc:
        raise UsageFailure(str(exc)) from None


def check_dir(path: Path, option: str) -> None:
    """An output folder given to ``option`` can be created or written in."""
    try:
        check_output_dir(path, option)
    except OutputError as exc:
        raise UsageFailure(str(exc)) from None


def check_store(path: Path, option: str = "--db") -> None:
    """A trace store given to ``option`` can be used: an existing file is opened read-only
    (it must be a raftref store, or an empty SQLite file, and writable); a missing one must be
    creatable."""
    try:
        check_usable(path, option)
    except (StoreError, OutputError) as exc:
        raise UsageFailure(str(exc)) from None


def check_schedule_seed(seed: int, where: Path) -> None:
    """A schedule file's seed fits a trace header, as --seed must."""
    if not 0 <= seed <= SEED_MAX:
        raise UsageFailure(f"{where}: field seed: must be 0 to 2**63-1, got {seed}")


def given(name: str) -> bool:
    """Whether the option ``name`` of the running command was given (not its default)."""
    source = click.get_current_context().get_parameter_source(name)
    return source in (click.core.ParameterSource.COMMANDLINE,
                      click.core.ParameterSource.ENVIRONMENT)


def check_reused_cluster(path: Path, config: ClusterConfig, *, nodes: int, base_port: int,
                         tick_ms: int) -> None:
    """An existing cluster file is reused as it is: an option given explicitly that says
    otherwise is refused rather than silently ignored."""
    first = config.raft[config.ids[0]].port
    found = {"nodes": (nodes, len(config.ids), f"{len(config.ids)} nodes"),
             "base_port": (base_port, first - 1, f"peer ports from {first}, base port "
                                                 f"{first - 1}"),
             "tick_ms": (tick_ms, config.tick_ms, f"tick {config.tick_ms} ms")}
    for name, (wanted, there, described) in found.items():
        if given(name) and wanted != there:
            option = "--" + name.replace("_", "-")
            raise UsageFailure(f"{option} {wanted} contradicts the existing {path} "
                               f"({described}); use another --dir, or delete the file to "
                               "start a new cluster there")
