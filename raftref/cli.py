"""The ``raftref`` command: a thin layer that parses options, calls the library, and formats.

Exit codes everywhere: 0 success (every property holds), 1 a property is violated, 2 unusable
input or options (one line on stderr naming the file, line or field; never a traceback).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from raftref import __version__
from raftref.files import atomic_output, same_file
from raftref.mutants import MUTANTS
from raftref.schedule import Schedule, ScheduleError, generate_schedule
from raftref.sim import SimResult, run_schedule


class UsageFailure(click.ClickException):
    """A user error: printed as one line, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="raftref")
def main() -> None:
    """raftref: a reference Raft node, a fault-injecting simulator, and a trace checker."""


def load_schedule(path: Path) -> Schedule:
    """Read a schedule file; any problem becomes a UsageFailure naming the file and field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageFailure(f"{path}: cannot read schedule: {exc.strerror or exc}") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UsageFailure(f"{path}: not valid JSON: {exc}") from None
    try:
        return Schedule.from_json(obj)
    except ScheduleError as exc:
        raise UsageFailure(f"{path}: field {exc}") from None


@main.command()
@click.option("--nodes", type=click.IntRange(1, 99), default=None,
              help="Cluster size (default 3, or the schedule's).")
@click.option("--seed", type=int, default=None, help="Random seed (default 0, or the schedule's).")
@click.option("--steps", type=click.IntRange(0), default=None,
              help="Simulator steps: ticks, deliveries, requests and faults (default 2000).")
@click.option("--schedule", "schedule_path", type=click.Path(path_type=Path), default=None,
              help="Replay this fault schedule (JSON); other options override its fields.")
@click.option("--mutant", "mutants", multiple=True, type=click.Choice(list(MUTANTS)),
              help="Switch on a deliberate bug (see 'raftref mutants'). Repeatable.")
@click.option("--save-schedule", type=click.Path(path_type=Path), default=None,
              help="Write the schedule that was run, for exact replay.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Trace file to write (JSON Lines); '-' or absent: standard output.")
def sim(nodes: int | None, seed: int | None, steps: int | None, schedule_path: Path | None,
        mutants: tuple[str, ...], save_schedule: Path | None, output: Path | None) -> None:
    """Run one seeded, fault-injected simulation and write its trace.

    Without --schedule, the seed generates the default fault mix (crashes and restarts,
    partitions and heals, message loss, duplication, delay and reordering).
    """
    if schedule_path is not None:
        base = load_schedule(schedule_path)
        overrides: dict[str, Any] = {}
        if nodes is not None and nodes != base.nodes:
            raise UsageFailure(f"--nodes {nodes} contradicts {schedule_path} (nodes {base.nodes})")
        if seed is not None:
            overrides["seed"] = seed
        if steps is not None:
            overrides["steps"] = steps
        if mutants:
            overrides["mutants"] = tuple(mutants)
        schedule = Schedule(**{**base.__dict__, **overrides})
    else:
        schedule = generate_schedule(seed or 0, nodes or 3, 2000 if steps is None else steps,
                                     mutants=tuple(mutants))
    for path in (output, save_schedule):
        if path is not None and schedule_path is not None and same_file(path, schedule_path):
            raise UsageFailure(f"{path}: refusing to overwrite the schedule being replayed")
    if save_schedule is not None:
        with atomic_output(save_schedule) as f:
            f.write(orjson.dumps(schedule.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    if output is None or str(output) == "-":
        result = run_schedule(schedule, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with atomic_output(output) as f:
            result = run_schedule(schedule, f)
    click.echo(describe_run(schedule, result, output), err=True)


def describe_run(schedule: Schedule, result: SimResult, output: Path | None) -> str:
    """A few lines a person reads after a run."""
    split = [t for t, ls in result.leaders.items() if len(ls) > 1]
    up = [n for n, u in result.up.items() if u]
    lines = [
        f"simulated {schedule.nodes} nodes, seed {schedule.seed}, {result.steps} steps "
        f"({result.ticks} ticks), {len(schedule.faults)} scheduled faults"
        + (f", mutants: {', '.join(schedule.mutants)}" if schedule.mutants else ""),
        f"  events {result.events}, messages sent {result.messages_sent}, dropped "
        f"{result.messages_dropped}, duplicated {result.messages_duplicated}",
        f"  leaders elected {sum(len(v) for v in result.leaders.values())} in "
        f"{len(result.leaders)} terms" + (f" (several in terms {split})" if split else ""),
        f"  proposals accepted {result.proposals_accepted}; up at end: {', '.join(up) or 'none'}; "
        f"commit index {max(result.commit.values(), default=0)}",
    ]
    if output is not None and str(output) != "-":
        lines.append(f"  trace: {output}   (check it: raftref check {output})")
    return "\n".join(lines)


@main.command(name="mutants")
def list_mutants() -> None:
    """List the deliberate bugs the node can switch on, one a line: name, then description."""
    width = max(len(n) for n in MUTANTS)
    for name, text in MUTANTS.items():
        click.echo(f"{name:<{width}}  {text}")


def _register_checker() -> None:
    from checker.cli import check_command

    main.add_command(check_command, name="check")


_register_checker()


@main.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/demo"),
              show_default=True, help="Where the demo writes its traces.")
@click.option("--runs", type=click.IntRange(1), default=6, show_default=True)
@click.option("--steps", type=click.IntRange(1), default=20000, show_default=True)
def demo(out_dir: Path, runs: int, steps: int) -> None:
    """A checked, fault-injected simulation campaign with a report (what 'make demo' runs)."""
    from raftref.campaign import run_campaign

    sys.exit(run_campaign(out_dir, runs, steps))
