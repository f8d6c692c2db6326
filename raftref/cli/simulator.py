"""``raftref sim``: one seeded, fault-injected simulation (raftref/sim/), or a PySyncObj run in
the harness, written as a trace."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from raftref.cli.checks import (
    SEED_MAX,
    UsageFailure,
    check_file,
    check_schedule_seed,
)
from raftref.files import atomic_output, same_file
from raftref.mutants import MUTANTS
from raftref.sim.schedule import Schedule, ScheduleError, generate_schedule
from raftref.sim.simulator import SimResult, run_schedule


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


@click.command()
@click.option("--nodes", type=click.IntRange(1, 99), default=None,
              help="Cluster size (default 3, or the schedule's).")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=None,
              help="Random seed, 0 to 2**63-1 (default 0, or the schedule's).")
@click.option("--steps", type=click.IntRange(0), default=None,
              help="Simulator steps: ticks, deliveries, requests and faults (default 2000).")
@click.option("--schedule", "schedule_path", type=click.Path(path_type=Path), default=None,
              help="Replay this fault schedule (JSON); other options override its fields.")
@click.option("--mutant", "mutants", multiple=True, metavar="NAME",
              type=click.Choice(list(MUTANTS)),
              help="Switch on a deliberate bug (see 'raftref mutants'). Repeatable.")
@click.option("--save-schedule", type=click.Path(path_type=Path), default=None,
              help="Write the schedule that was run, for exact replay.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Trace file to write (JSON Lines); '-' or absent: standard output.")
@click.option("--target", type=click.Choice(["raftref", "pysyncobj"]), default="raftref",
              show_default=True,
              help="Which Raft runs: the reference node, or real PySyncObj nodes in the harness.")
def sim(nodes: int | None, seed: int | None, steps: int | None, schedule_path: Path | None,
        mutants: tuple[str, ...], save_schedule: Path | None, output: Path | None,
        target: str) -> None:
    """Run one seeded, fault-injected simulation and write its trace.

    Without --schedule, the seed generates the default fault mix (crashes and restarts,
    partitions and heals, message loss, duplication, delay and reordering). With --target
    pysyncobj the same schedule drives a PySyncObj cluster (raftref/harness/pysyncobj.py).
    """
    if target == "pysyncobj" and mutants:
        raise UsageFailure("--mutant switches on bugs in raftref's node; it does not apply to "
                           "--target pysyncobj")
    if save_schedule is not None and str(save_schedule) == "-":
        raise UsageFailure("--save-schedule -: give a file name (standard output is for the "
                           "trace)")
    check_file(output, "-o")
    check_file(save_schedule, "--save-schedule")
    if output is not None and save_schedule is not None and same_file(output, save_schedule):
        raise UsageFailure(f"{output}: -o and --save-schedule name the same file")
    if schedule_path is not None:
        base = load_schedule(schedule_path)
        check_schedule_seed(base.seed, schedule_path)
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
    if target == "pysyncobj":
        if schedule.mutants:
            raise UsageFailure("the schedule names mutants; they do not apply to --target "
                               "pysyncobj")
        from raftref.harness.pysyncobj import run_pysyncobj as runner
        from raftref.harness.pysyncobj import timing_problem

        problem = timing_problem(schedule)
        if problem is not None:
            raise UsageFailure(f"{problem} (--target pysyncobj)")
    else:
        runner = run_schedule
    if save_schedule is not None:
        with atomic_output(save_schedule) as f:
            f.write(orjson.dumps(schedule.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    if output is None or str(output) == "-":
        result = runner(schedule, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with atomic_output(output) as f:
            result = runner(schedule, f)
    click.echo(describe_run(schedule, result, output), err=True)


def describe_run(schedule: Schedule, result: SimResult, output: Path | None) -> str:
    """A few lines a person reads after a run."""
    split = [t for t, ls in result.leaders.items() if len(ls) > 1]
    up = [n for n, u in result.up.items() if u]
    lines = [
        f"simulated {schedule.nodes} nodes, seed {schedule.seed}, {result.steps} steps "
        f"({result.ticks} ticks), {len(schedule.faults)} scheduled faults"
        + (f" and {len(schedule.message_faults)} message faults"
           if schedule.message_faults else "")
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
